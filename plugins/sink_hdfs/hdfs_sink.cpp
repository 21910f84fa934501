#include "hdfs_sink.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "avro_container.hpp"
#include "file_output.hpp"

namespace sluice::plugins::hdfs {

namespace {

using file_output::errnoText;

int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Why an event has no usable time for the escapes, and how to give it one.
std::string missingTimestampText(const sdk::Event& e, PathTemplate::Status st) {
  if (st == PathTemplate::Status::MissingTimestamp)
    return "an event has no timestamp header, which the time escapes in "
           "hdfs.path/hdfs.filePrefix need (add the timestamp interceptor or set "
           "hdfs.useLocalTimeStamp = true)";
  const std::string* ts = e.headers.find("timestamp");
  return "an event's timestamp header '" + (ts ? *ts : std::string()) +
         "' is not a number of milliseconds";
}

}  // namespace


void HdfsSink::start() {
  if (!configured_) throw std::logic_error("hdfs sink started before configure()");
  if (s_.recoverInUseFiles) {
    const std::size_t n = recoverInUseFiles();
    if (n > 0) logger().warn("closed out ", n, " in-use file(s) left by an earlier run");
  }
}

void HdfsSink::stop() { closeAll(); }

std::size_t HdfsSink::recoverInUseFiles() {
  namespace fs = std::filesystem;
  if (s_.inUsePrefix.empty() && s_.inUseSuffix.empty()) return 0;
  // The static directory above the first escape, and how deep files can sit below it.
  const std::string_view lit = pathT_->literalPrefix();
  std::string root;
  std::size_t depth = 0;
  if (lit.size() == s_.path.size()) {
    root = s_.path;
  } else {
    root = std::string(lit.substr(0, lit.rfind('/')));
    if (root.empty()) root = "/";
    depth = static_cast<std::size_t>(std::count(
                s_.path.begin() + static_cast<std::ptrdiff_t>(root.size()), s_.path.end(), '/')) +
            2;  // header values may hold a '/'
  }
  const std::string namePrefix = s_.inUsePrefix + std::string(prefixT_->literalPrefix());
  std::size_t recovered = 0;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return 0;
  std::vector<std::pair<std::string, std::size_t>> dirs{{root, 0}};
  while (!dirs.empty()) {
    auto [dir, level] = dirs.back();
    dirs.pop_back();
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      const std::string name = p.filename().string();
      if (it->is_directory(ec)) {
        if (level < depth && !it->is_symlink(ec)) dirs.emplace_back(p.string(), level + 1);
        continue;
      }
      if (name.size() <= namePrefix.size() + s_.inUseSuffix.size() ||
          name.compare(0, namePrefix.size(), namePrefix) != 0 ||
          name.compare(name.size() - s_.inUseSuffix.size(), s_.inUseSuffix.size(),
                       s_.inUseSuffix) != 0 ||
          !it->is_regular_file(ec))
        continue;
      const std::string finalName = name.substr(
          s_.inUsePrefix.size(), name.size() - s_.inUsePrefix.size() - s_.inUseSuffix.size());
      const std::string from = p.string();
      const std::string to = (p.parent_path() / finalName).string();
      // The file may end with part of a batch that was never committed (and will be delivered
      // again): cut it back to its last whole event where the format tells where that is.
      if (s_.fileType == FileType::DataStream) {
        // A serializer plugin's files are kept whole: the format is its own.
        const auto format = s_.custom ? file_output::RecordFormat::Opaque
                            : s_.serializer == Serializer::AvroEvent
                                ? file_output::RecordFormat::AvroContainer
                            : s_.appendNewline ? file_output::RecordFormat::Lines
                                               : file_output::RecordFormat::Opaque;
        int64_t cut = 0;
        std::string error;
        if (!file_output::cutTornTail(from, format, &cut, &error))
          logger().error("closing out '", from, "': ", error);
        else if (cut > 0)
          logger().warn("'", from, "': cut ", cut, " bytes of a batch that never committed");
      }
      std::error_code sec;
      if (fs::file_size(from, sec) == 0 && !sec) {
        ::unlink(from.c_str());
        continue;
      }
      if (::access(to.c_str(), F_OK) == 0) {
        logger().error("cannot close out '", from, "': '", to, "' exists; left as is");
        continue;
      }
      if (::rename(from.c_str(), to.c_str()) != 0) {
        logger().error("cannot rename '", from, "' to '", to, "': ", errnoText(errno));
        continue;
      }
      logger().info("closed out in-use file ", from, " -> ", to);
      sinkCounter().increment(cntRecovered_);
      ++recovered;
    }
    ec.clear();
  }
  return recovered;
}

HdfsSink::Bucket* HdfsSink::bucketFor(const std::string& key, std::size_t dirLen) {
  if (lastBucket_ && lastBucket_->key == key) return lastBucket_;  // already at the LRU front
  auto it = buckets_.find(key);
  if (it != buckets_.end()) {
    Bucket* b = it->second.get();
    if (b->lru != lru_.begin()) lru_.splice(lru_.begin(), lru_, b->lru);
    lastBucket_ = b;
    return b;
  }
  // A new bucket: make room first (Flume's LRU of BucketWriters, maxOpenFiles).
  while (buckets_.size() >= s_.maxOpenFiles && !lru_.empty()) evictBucket(lru_.back());
  auto b = std::make_unique<Bucket>();
  b->key = key;
  b->dir = key.substr(0, dirLen);
  b->prefix = key.substr(dirLen + 1);
  b->counter = static_cast<uint64_t>(nowMillis());
  lru_.push_front(b.get());
  b->lru = lru_.begin();
  Bucket* raw = b.get();
  buckets_.emplace(key, std::move(b));
  lastBucket_ = raw;
  return raw;
}

void HdfsSink::evictBucket(Bucket* b) noexcept {
  if (b == lastBucket_) lastBucket_ = nullptr;
  if (b->file) {
    if (b->file->touched)
      retire(*b);  // holds events of this batch: closed after the commit
    else
      closeFile(*b->file);
  }
  lru_.erase(b->lru);
  auto it = buckets_.find(b->key);
  if (it != buckets_.end()) buckets_.erase(it);
}

bool HdfsSink::shouldRotate(const OpenFile& f) const noexcept {
  return (s_.rollCount > 0 && f.events >= s_.rollCount) ||
         (s_.rollSize > 0 && f.bodyBytes >= s_.rollSize);
}

void HdfsSink::retire(Bucket& b) {
  if (!b.file) return;
  if (b.file->touched)
    retiring_.push_back(std::move(b.file));
  else
    closeFile(*b.file);
  b.file.reset();
}

bool HdfsSink::openFile(Bucket& b, std::string* error) {
  if (!b.dirReady) {
    std::error_code ec;
    std::filesystem::create_directories(b.dir, ec);
    if (ec) {
      *error = pathKey_ + ": cannot create directory '" + b.dir + "': " + ec.message();
      return false;
    }
    b.dirReady = true;
  }
  std::string ext = s_.fileSuffix;
  if (ext.empty() && s_.codec == Codec::Gzip) ext = ".gz";
  if (ext.empty() && s_.codec == Codec::Zstd) ext = ".zst";
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const std::string name = b.prefix + "." + std::to_string(++b.counter) + ext;
    std::string finalPath = b.dir + "/" + name;
    std::string tmpPath = b.dir + "/" + s_.inUsePrefix + name + s_.inUseSuffix;
    if (tmpPath != finalPath && ::access(finalPath.c_str(), F_OK) == 0) continue;
    const int fd =
        ::open(tmpPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      if (errno == ENOENT) b.dirReady = false;  // removed under us: create it again next time
      *error = "cannot create '" + tmpPath + "': " + errnoText(errno);
      return false;
    }
    auto f = std::make_unique<OpenFile>();
    f->fd = fd;
    f->tmpPath = std::move(tmpPath);
    f->finalPath = std::move(finalPath);
    f->openedAt = now_();
    if (s_.custom) {
      sdk::Result made;
      f->custom = s_.custom->newSerializer(made);
      if (made) made = f->custom->afterCreate(f->head);  // written with the first batch
      if (!made) {
        ::close(fd);
        ::unlink(f->tmpPath.c_str());
        *error = "the serializer could not start '" + f->tmpPath + "': " + made.error();
        return false;
      }
    } else if (s_.serializer == Serializer::AvroEvent) {
      for (std::size_t i = 0; i < f->sync.size(); i += 8) {
        const uint64_t r = rng_();
        std::memcpy(f->sync.data() + i, &r, 8);
      }
      avro::appendContainerHeader(f->head, f->sync);
    }
    b.file = std::move(f);
    sinkCounter().incrementConnectionCreatedCount();
    logger().debug("opened ", b.file->tmpPath);
    return true;
  }
  *error = "no free file name in '" + b.dir + "' after 1000 attempts";
  return false;
}

bool HdfsSink::serialize(OpenFile& f, const sdk::Event& e, std::string* error) {
  if (f.custom) {
    // A serializer plugin: one call per event, since a batch's events go to different files.
    if (sdk::Result r = f.custom->write(std::span<const sdk::Event>(&e, 1), f.pending); !r) {
      *error = "the serializer failed on '" + f.tmpPath + "': " + r.error();
      return false;
    }
    ++f.pendingEvents;
    return true;
  }
  if (s_.serializer == Serializer::AvroEvent) {
    avro::appendEventRecord(f.pending, e);
  } else {
    file_output::appendTextRecord(f.pending, e, s_.serializer, s_.appendNewline);
  }
  ++f.pendingEvents;
  return true;
}

bool HdfsSink::compress(const std::string& in, std::string* error) {
  if (s_.codec == Codec::Gzip) {
    if (!zsReady_) {
      if (deflateInit2(&zs_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
          Z_OK) {
        *error = "zlib: deflateInit2 failed";
        return false;
      }
      zsReady_ = true;
    } else {
      deflateReset(&zs_);
    }
    compressed_.resize(deflateBound(&zs_, in.size()) + 64);
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs_.avail_in = static_cast<uInt>(in.size());
    zs_.next_out = reinterpret_cast<Bytef*>(compressed_.data());
    zs_.avail_out = static_cast<uInt>(compressed_.size());
    if (deflate(&zs_, Z_FINISH) != Z_STREAM_END) {
      *error = "zlib: deflate failed";
      return false;
    }
    compressed_.resize(compressed_.size() - zs_.avail_out);
    return true;
  }
  if (!zctx_) zctx_ = ZSTD_createCCtx();
  if (!zctx_) {
    *error = "zstd: cannot create a context";
    return false;
  }
  compressed_.resize(ZSTD_compressBound(in.size()));
  const std::size_t n =
      ZSTD_compressCCtx(zctx_, compressed_.data(), compressed_.size(), in.data(), in.size(), 3);
  if (ZSTD_isError(n)) {
    *error = std::string("zstd: ") + ZSTD_getErrorName(n);
    return false;
  }
  compressed_.resize(n);
  return true;
}

bool HdfsSink::writePending(OpenFile& f, std::string* error) {
  if (f.pendingEvents == 0) return true;
  const std::string* out = &f.pending;
  if (s_.serializer == Serializer::AvroEvent) {
    // One Avro block per file per batch, after the header on the file's first write.
    scratch_.clear();
    scratch_.append(f.head);
    f.head.clear();
    avro::appendAvroLong(scratch_, f.pendingEvents);
    avro::appendAvroLong(scratch_, static_cast<int64_t>(f.pending.size()));
    scratch_.append(f.pending);
    scratch_.append(f.sync.data(), f.sync.size());
    out = &scratch_;
  } else if (!f.head.empty()) {
    // A serializer plugin's header (afterCreate), with the file's first batch.
    scratch_.clear();
    scratch_.append(f.head);
    f.head.clear();
    scratch_.append(f.pending);
    out = &scratch_;
  }
  if (s_.fileType == FileType::CompressedStream) {
    if (!compress(*out, error)) return false;
    out = &compressed_;
  }
  if (!file_output::writeAll(f.fd, out->data(), out->size(), f.tmpPath, error)) return false;
  f.writtenBytes += out->size();
  f.pending.clear();
  f.pendingEvents = 0;
  return true;
}

void HdfsSink::closeFile(OpenFile& f) noexcept {
  if (f.fd < 0) return;
  if (f.custom && f.committedEvents > 0) {
    // The serializer's trailer, after the last committed batch.
    std::string tail;
    std::string error;
    sdk::Result r = f.custom->beforeClose(tail);
    if (!r)
      logger().error("the serializer failed to end '", f.tmpPath, "': ", r.error());
    else if (!tail.empty() &&
             !file_output::writeAll(f.fd, tail.data(), tail.size(), f.tmpPath, &error))
      logger().error(error);
  }
  f.custom.reset();
  if (::close(f.fd) != 0) {
    logger().error("closing '", f.tmpPath, "' failed: ", errnoText(errno));
    sinkCounter().increment(cntCloseFail_);
  }
  f.fd = -1;
  sinkCounter().incrementConnectionClosedCount();
  if (f.committedEvents == 0) {
    ::unlink(f.tmpPath.c_str());  // nothing of it was committed
    return;
  }
  if (f.tmpPath != f.finalPath && ::rename(f.tmpPath.c_str(), f.finalPath.c_str()) != 0) {
    logger().error("cannot rename '", f.tmpPath, "' to '", f.finalPath, "': ", errnoText(errno),
                   "; it is closed out on the next start");
    sinkCounter().increment(cntCloseFail_);
    return;
  }
  logger().debug("closed ", f.finalPath);
}

void HdfsSink::abortFile(OpenFile& f) noexcept {
  if (f.fd < 0) return;
  std::string error;
  if (!file_output::cutBack(f.fd, f.committedBytes, f.tmpPath, &error)) logger().error(error);
  f.pending.clear();
  f.pendingEvents = 0;
  f.touched = false;
  closeFile(f);
}

void HdfsSink::abortBatch() noexcept {
  for (OpenFile* f : touched_) abortFile(*f);
  touched_.clear();
  for (auto& f : retiring_) closeFile(*f);
  retiring_.clear();
  for (auto it = lru_.begin(); it != lru_.end();) {
    Bucket* b = *it++;
    if (b->file && b->file->fd < 0) evictBucket(b);
  }
}

void HdfsSink::closeAll() noexcept {
  abortBatch();
  for (Bucket* b : lru_)
    if (b->file) closeFile(*b->file);
  lru_.clear();
  buckets_.clear();
  lastBucket_ = nullptr;
}

void HdfsSink::checkTimers() {
  if (s_.rollIntervalSec == 0 && s_.idleTimeoutSec == 0) return;
  const Clock::time_point now = now_();
  if (now < nextTimerCheck_) return;
  nextTimerCheck_ = now + std::chrono::milliseconds(100);
  const auto roll = std::chrono::seconds(s_.rollIntervalSec);
  const auto idle = std::chrono::seconds(s_.idleTimeoutSec);
  for (auto it = lru_.begin(); it != lru_.end();) {
    Bucket* b = *it++;
    const bool rolled = b->file && s_.rollIntervalSec > 0 && now - b->file->openedAt >= roll;
    const bool idled = s_.idleTimeoutSec > 0 && now - b->lastWrite >= idle;
    if (rolled || idled) {
      logger().debug(rolled ? "rollInterval" : "idleTimeout", " reached for ", b->key);
      evictBucket(b);
    }
  }
}

sdk::Status HdfsSink::fail(sdk::SinkBatch& tx, const std::string& why) {
  tx.rollback();
  abortBatch();
  return deliveryFailed(why);
}

void HdfsSink::reportMissingTimestamp(const sdk::Event& e, PathTemplate::Status st) {
  int64_t suppressed = 0;
  if (!timestampLog_.admit(now_(), &suppressed)) return;
  const bool drop = s_.missingTimestampPolicy == MissingTimestampPolicy::Drop;
  logger().warn(missingTimestampText(e, st),
                drop ? "; dropped it (hdfs.missingTimestampPolicy = drop)"
                     : "; wrote it under hdfs.fallbackPath",
                suppressed > 0 ? "; " + std::to_string(suppressed) +
                                     " more such events since the last report (all counted in "
                                     "EventTimestampMissingCount)"
                               : std::string());
}

sdk::Status HdfsSink::process() {
  try {
    return processBatch();
  } catch (...) {
    // E.g. bad_alloc: the guard rolled the transaction back; drop this batch's partial state so
    // nothing of it is written later.
    abortBatch();
    throw;
  }
}

sdk::Status HdfsSink::processBatch() {
  sdk::Channel* channel = getChannel();
  if (!channel) return deliveryFailed("no channel attached");
  if (!configured_) return deliveryFailed("not configured");
  sdk::SinkCounter& counter = sinkCounter();
  checkTimers();

  sdk::SinkBatch tx(*this, s_.batchSize);
  if (!tx.ok()) return deliveryFailed(tx.error());
  const std::size_t n = tx.size();
  if (n == 0) return sdk::Status::BACKOFF;

  const int64_t nowMs = nowMillis();
  const Clock::time_point now = now_();
  std::string error;
  // Events without a usable timestamp in this batch: counted when it commits, so that a batch
  // that fails for another reason and is taken again does not count them twice.
  std::size_t missing = 0;
  std::size_t dropped = 0;  // of them, dropped (policy drop)
  for (sdk::Event& e : tx.events()) {
    key_.clear();
    PathTemplate::Status st = pathT_->format(e.headers, nowMs, time_, key_);
    std::size_t dirLen = key_.size();
    if (st == PathTemplate::Status::Ok) {
      key_.push_back('/');
      st = prefixT_->format(e.headers, nowMs, time_, key_);
    }
    if (st != PathTemplate::Status::Ok) {
      if (s_.missingTimestampPolicy == MissingTimestampPolicy::Fail) {
        counter.increment(cntTimestampMissing_);  // once per failed attempt
        counter.incrementEventWriteFail();
        return fail(tx, missingTimestampText(e, st) + "; " + std::to_string(n) +
                            " events rolled back and retried (hdfs.missingTimestampPolicy = "
                            "fail; drop or fallback handle such events one by one)");
      }
      ++missing;
      reportMissingTimestamp(e, st);
      if (s_.missingTimestampPolicy == MissingTimestampPolicy::Drop) {
        // Taken in this transaction and never written: gone once the batch commits.
        ++dropped;
        continue;
      }
      key_.clear();
      (void)fallbackT_->format(e.headers, nowMs, time_, key_);
      dirLen = key_.size();
      key_.push_back('/');
      TimeSettings local = time_;
      local.useLocalTimeStamp = true;
      (void)prefixT_->format(e.headers, nowMs, local, key_);
    }
    Bucket* b = bucketFor(key_, dirLen);
    if (b->file && shouldRotate(*b->file)) retire(*b);
    if (!b->file && !openFile(*b, &error)) {
      counter.incrementConnectionFailedCount();
      counter.incrementEventWriteFail();
      return fail(tx, error + "; " + std::to_string(n) + " events rolled back");
    }
    OpenFile& f = *b->file;
    if (!f.touched) {
      f.touched = true;
      touched_.push_back(&f);
    }
    if (!serialize(f, e, &error)) {
      counter.incrementEventWriteFail();
      return fail(tx, error + "; " + std::to_string(n) + " events rolled back");
    }
    ++f.events;
    f.bodyBytes += static_cast<int64_t>(e.body.size());
    b->lastWrite = now;
  }

  for (OpenFile* f : touched_)
    if (!writePending(*f, &error)) {
      counter.incrementEventWriteFail();
      return fail(tx, error + "; " + std::to_string(n) +
                          " events rolled back, the files cut back to their committed batches");
    }
  // Dropped events are in EventTimestampMissingCount, not EventDrainSuccessCount: attempts =
  // success + dropped.
  if (sdk::Result r = tx.commit(n - dropped); !r) {
    return fail(tx, "commit to channel '" + channel->getName() + "' failed: " + r.error() +
                        "; the batch was cut from the files and will be written again");
  }
  for (OpenFile* f : touched_) {
    f->committedBytes = f->writtenBytes;
    f->committedEvents = f->events;
    f->touched = false;
  }
  touched_.clear();
  for (auto& f : retiring_) closeFile(*f);
  retiring_.clear();
  counter.add(cntTimestampMissing_, static_cast<int64_t>(missing));
  return n < s_.batchSize ? sdk::Status::BACKOFF : sdk::Status::READY;
}

}  // namespace sluice::plugins::hdfs
