#include "spooldir_source.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_util.hpp"
#include "java_regex.hpp"
#include "source_put.hpp"
#include "text_util.hpp"
#include "worker_thread.hpp"

namespace sluice::plugins::spooldir {

namespace {

using files::joinPath;
using files::makeDirs;
using files::parentOf;
using files::readSmallFile;
using text::errnoText;

std::string baseName(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Whether `path` is another name (hard link) of the file with identity id. lstat: a symlink to
// the file is a different file, which must not make us remove the only real name.
bool isLinkTo(const std::string& path, const FileIdentity& id) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         static_cast<uint64_t>(st.st_dev) == id.dev && static_cast<uint64_t>(st.st_ino) == id.ino;
}

// Renames without ever replacing an existing file: 0, or the errno. renameat2's
// RENAME_NOREPLACE does it in one atomic step, so a reader of the directory never sees both
// names; where the filesystem lacks it (EINVAL), link + unlink does the same in two steps, and
// a crash between them leaves both names (start() and finishFile() recognise that case).
int renameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  if (::link(from.c_str(), to.c_str()) != 0) return errno;
  ::unlink(from.c_str());
  return 0;
}

std::string describeChange(const FileIdentity& was, const FileIdentity& now) {
  std::string why;
  if (was.size != now.size)
    why += "size changed from " + std::to_string(was.size) + " to " + std::to_string(now.size);
  if (was.mtimeNs != now.mtimeNs) why += std::string(why.empty() ? "" : ", ") + "mtime changed";
  if (was.ino != now.ino || was.dev != now.dev)
    why += std::string(why.empty() ? "" : ", ") + "replaced by another file";
  return why;
}

}  // namespace

FileIdentity identityFrom(const struct stat& st) {
  FileIdentity id;
  id.dev = static_cast<uint64_t>(st.st_dev);
  id.ino = static_cast<uint64_t>(st.st_ino);
  id.size = static_cast<int64_t>(st.st_size);
  id.mtimeNs = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return id;
}


void SpoolDirSource::start() {
  if (thread_.joinable() || started_) return;
  if (!decoder_) throw std::logic_error("spooldir source started before configure()");
  struct stat st;
  if (::stat(settings_.spoolDir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw std::runtime_error("spoolDir '" + settings_.spoolDir + "' is not a directory: " +
                             (errno ? errnoText(errno) : std::string("not a directory")));
  if (::access(settings_.spoolDir.c_str(), R_OK | W_OK | X_OK) != 0)
    throw std::runtime_error("spoolDir '" + settings_.spoolDir +
                             "' must be readable and writable: " + errnoText(errno));
  if (const int e = makeDirs(settings_.trackerDir))
    throw std::runtime_error("trackerDir '" + settings_.trackerDir +
                             "': cannot create: " + errnoText(e));
  // Progress from a previous run: that file is resumed first.
  if (!cur_) {
    std::string text;
    const std::string metaPath = joinPath(settings_.trackerDir, kMetaName);
    if (readSmallFile(metaPath, text) && !text.empty()) {
      resume_ = parseMetaFile(text);
      if (resume_) metaSeq_ = std::max(metaSeq_, resume_->seq);
      if (!resume_)
        logger().warn("ignoring unreadable progress file ", metaPath,
                      "; the file it described is read again from the start");
    }
  }
  const std::size_t window = settings_.deserializer == DeserializerKind::Line
                                 ? line_->windowBytes()
                                 : blob_->windowBytes();
  buf_.resize(std::max(kReadBytes, std::min<std::size_t>(window, kReadBytes * 4)));
  stopping_.store(false, std::memory_order_release);
  started_ = true;
  thread_ = threads::startWorker(kThreadName, *this, "spooldir", [this] { run(); });
  logger().info("reading files from ", settings_.spoolDir);
}

void SpoolDirSource::stop() {
  if (!started_) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  started_ = false;
  if (cur_) {
    // Resume exactly there on the next start.
    resume_ = SpoolMeta{cur_->path, cur_->id, cur_->committed, 0};
    closeCurrent();
  }
  closeMeta();
  queue_.clear();
  logger().info("stopped");
}

bool SpoolDirSource::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mutex_);
  return !cv_.wait_for(lock, d, [this] { return stopping(); });
}

void SpoolDirSource::run() {
  while (!stopping()) {
    const bool didWork = pollOnce();
    if (stopping()) break;
    if (backoff_.count() > 0) {
      sleepFor(backoff_);
    } else if (!didWork) {
      sleepFor(settings_.pollDelay);
    }
  }
}

bool SpoolDirSource::pollOnce() {
  if (!cur_ && !openNext()) return false;
  batch_.clear();
  const BatchEnd end = readBatch();
  sdk::SourceCounter& c = sourceCounter();
  const int64_t split = line_->splitLines(), replaced = line_->replacedBytes();
  if (split != lastSplit_) c.add(kLinesSplit, split - lastSplit_);
  if (replaced != lastReplaced_) c.add(kUndecodableBytes, replaced - lastReplaced_);
  lastSplit_ = split;
  lastReplaced_ = replaced;
  if (end == BatchEnd::Bad || end == BatchEnd::IoError) {
    batch_.clear();
    const std::string path = cur_->path;
    const int64_t delivered = cur_->committed;
    closeCurrent();
    quarantine(path, badReason_ + " (events before byte " + std::to_string(delivered) +
                         " were delivered)");
    removeMeta();
    return true;
  }
  if (batch_.empty()) {
    if (end == BatchEnd::Eof) finishFile();
    return true;
  }
  const std::size_t n = batch_.size();
  if (settings_.fileHeader || settings_.basenameHeader) {
    for (auto& e : batch_) {
      if (settings_.fileHeader) e.headers.set(settings_.fileHeaderKey, cur_->path);
      if (settings_.basenameHeader) e.headers.set(settings_.basenameHeaderKey, cur_->basename);
    }
  }
  sdk::Result r = sources::putBatch(getChannelProcessor(), c, batch_);
  if (!r) {
    backoff_ = backoff_.count() == 0 ? kBackoffStart : std::min(backoff_ * 2, settings_.maxBackoff);
    logger().warn("channels refused a batch of ", n, " events from ", cur_->path, " (", r.error(),
                  "); retrying in ", backoff_.count(), " ms");
    resetBuffer(cur_->committed);
    return true;
  }
  backoff_ = std::chrono::milliseconds(0);
  cur_->committed = bufStart_ + static_cast<int64_t>(begin_);
  cur_->events += static_cast<int64_t>(n);
  if (!writeMeta()) c.incrementGenericProcessingFail();
  return true;  // at Eof, the next call finds nothing left and finishes the file
}

// ---- Directory listing ----

bool SpoolDirSource::accepts(const std::string& name) const {
  if (name.empty() || name.front() == '.') return false;
  if (name.size() >= settings_.fileSuffix.size() &&
      name.compare(name.size() - settings_.fileSuffix.size(), settings_.fileSuffix.size(),
                   settings_.fileSuffix) == 0)
    return false;
  if (ignore_->test(name)) return false;
  return include_->test(name);
}

void SpoolDirSource::scanDir(const std::string& dir, const std::string& relPrefix, int depth) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    logger().warn("cannot list ", dir, ": ", errnoText(errno));
    return;
  }
  while (dirent* ent = ::readdir(d)) {
    const std::string name = ent->d_name;
    if (name == "." || name == ".." || name.front() == '.') continue;
    const std::string path = joinPath(dir, name);
    if (path == settings_.trackerDir || path == settings_.quarantineDir) continue;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;
    const std::string rel = relPrefix.empty() ? name : relPrefix + "/" + name;
    if (S_ISDIR(st.st_mode)) {
      if (settings_.recursive && depth < 64) scanDir(path, rel, depth + 1);
      continue;
    }
    if (!S_ISREG(st.st_mode) || !accepts(name)) continue;
    const FileIdentity id = identityFrom(st);
    if (auto it = leftAlone_.find(path); it != leftAlone_.end()) {
      if (it->second == id) continue;
      leftAlone_.erase(it);  // changed since: try again
    }
    if (settings_.trackerDirPolicy && !settings_.deleteImmediate) {
      if (auto marker = readMarker(rel); marker && *marker == id) continue;  // already done
    }
    queue_.push_back(Candidate{path, rel, id.mtimeNs});
  }
  ::closedir(d);
}

void SpoolDirSource::scan() {
  queue_.clear();
  scanDir(settings_.spoolDir, "", 0);
  auto byName = [](const Candidate& a, const Candidate& b) { return a.path < b.path; };
  switch (settings_.consumeOrder) {
    case ConsumeOrder::Oldest:
      std::sort(queue_.begin(), queue_.end(), [&](const Candidate& a, const Candidate& b) {
        return a.mtimeNs != b.mtimeNs ? a.mtimeNs < b.mtimeNs : byName(a, b);
      });
      break;
    case ConsumeOrder::Youngest:
      std::sort(queue_.begin(), queue_.end(), [&](const Candidate& a, const Candidate& b) {
        return a.mtimeNs != b.mtimeNs ? a.mtimeNs > b.mtimeNs : byName(a, b);
      });
      break;
    case ConsumeOrder::Random:
      std::shuffle(queue_.begin(), queue_.end(), rng_);
      break;
  }
}

bool SpoolDirSource::openNext() {
  if (resume_) {
    SpoolMeta m = std::move(*resume_);
    resume_.reset();
    struct stat st;
    if (::stat(m.path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      const FileIdentity now = identityFrom(st);
      if (now == m.id) {
        std::string rel = m.path;
        if (rel.compare(0, settings_.spoolDir.size() + 1, settings_.spoolDir + "/") == 0)
          rel = rel.substr(settings_.spoolDir.size() + 1);
        if (openFile(m.path, rel, m.offset)) {
          sourceCounter().increment(kFilesResumed);
          logger().info("resuming ", m.path, " at byte ", m.offset);
          return true;
        }
      } else {
        quarantine(m.path, "modified while partly delivered (" + describeChange(m.id, now) +
                               "; events before byte " + std::to_string(m.offset) +
                               " were delivered)");
        removeMeta();
      }
    } else {
      removeMeta();  // completed or removed by someone else
    }
  }
  // Flume lists the directory before every file (for oldest/youngest). sluice works through one
  // listing, but lists again at most every pollDelay so that a file moved in with an old mtime
  // (or a young one, for youngest) is not stuck behind a long queue.
  const auto now = std::chrono::steady_clock::now();
  if (queue_.empty() ||
      (settings_.consumeOrder != ConsumeOrder::Random && now - lastScan_ >= settings_.pollDelay)) {
    scan();
    lastScan_ = now;
  }
  while (!queue_.empty() && !stopping()) {
    Candidate c = std::move(queue_.front());
    queue_.pop_front();
    if (openFile(c.path, c.rel, 0)) return true;
  }
  return false;
}

bool SpoolDirSource::openFile(const std::string& path, const std::string& rel, int64_t resumeAt) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) logger().warn("cannot open ", path, ": ", errnoText(errno));
    return false;
  }
  FileIdentity id;
  if (!identityOf(fd, id)) {
    ::close(fd);
    return false;
  }
  // A name that was already delivered: Flume stops the agent when it finds out (after reading
  // the whole file again); sluice checks before reading anything.
  if (resumeAt == 0) {
    std::string clash;
    if (settings_.trackerDirPolicy) {
      if (auto marker = readMarker(rel)) {
        if (*marker == id) {
          ::close(fd);
          return false;  // done already
        }
        clash = "marker " + markerPath(rel) + " exists";
      }
    } else if (!settings_.deleteImmediate && exists(path + settings_.fileSuffix)) {
      if (isLinkTo(path + settings_.fileSuffix, id)) {
        // finishFile() names it <name><fileSuffix> only after every event of the file was
        // committed; an earlier run (on a filesystem without RENAME_NOREPLACE, or an older
        // release, which always linked) died before it removed the old name, and before a
        // progress record could send us to finishFile() again. Not counted in FilesCompleted:
        // this run delivered nothing of it.
        ::close(fd);
        ::unlink(path.c_str());
        logger().info(path, " was already delivered and named ", path + settings_.fileSuffix,
                      " (an earlier run stopped before removing the old name); removed it");
        return false;
      }
      clash = path + settings_.fileSuffix + " exists";
    }
    if (!clash.empty()) {
      ::close(fd);
      quarantine(path,
                 "file name re-used: a file of that name was already delivered (" + clash + ")");
      return false;
    }
  }
  Current c;
  c.path = path;
  c.rel = rel;
  c.basename = baseName(path);
  c.fd = fd;
  c.id = id;
  c.committed = resumeAt;
  cur_ = std::move(c);
  resetBuffer(resumeAt);
  logger().info("reading ", path, resumeAt ? " from byte " + std::to_string(resumeAt) : "");
  return true;
}

bool SpoolDirSource::identityOf(int fd, FileIdentity& out) const {
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  out = identityFrom(st);
  return true;
}

// ---- Reading ----

void SpoolDirSource::resetBuffer(int64_t offset) {
  bufStart_ = offset;
  begin_ = end_ = 0;
  eof_ = cur_ && offset >= cur_->id.size;
}

bool SpoolDirSource::fill() {
  Current& c = *cur_;
  FileIdentity now;
  if (!identityOf(c.fd, now)) {
    badReason_ = "fstat failed: " + errnoText(errno);
    return false;
  }
  if (now.size != c.id.size || now.mtimeNs != c.id.mtimeNs) {
    badReason_ = "modified after pickup (" + describeChange(c.id, now) + ")";
    return false;
  }
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    bufStart_ += static_cast<int64_t>(begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  // The deserializer asks for more only while its window is below its windowBytes(), so
  // doubling stays within twice that.
  if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
  const int64_t pos = bufStart_ + static_cast<int64_t>(end_);
  const std::size_t room =
      std::min<std::size_t>(buf_.size() - end_, static_cast<std::size_t>(c.id.size - pos));
  if (room == 0) {
    eof_ = true;
    return true;
  }
  ssize_t got;
  do {
    got = ::pread(c.fd, buf_.data() + end_, room, pos);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    badReason_ = "read failed: " + errnoText(errno);
    return false;
  }
  if (got == 0) {
    badReason_ = "modified after pickup (shorter than its size " + std::to_string(c.id.size) + ")";
    return false;
  }
  end_ += static_cast<std::size_t>(got);
  eof_ = bufStart_ + static_cast<int64_t>(end_) >= c.id.size;
  return true;
}

SpoolDirSource::BatchEnd SpoolDirSource::readBatch() {
  const bool lineMode = settings_.deserializer == DeserializerKind::Line;
  // One fstat per batch (and per read): a change is caught within a batch of where it happened.
  FileIdentity now;
  if (!identityOf(cur_->fd, now)) {
    badReason_ = "fstat failed: " + errnoText(errno);
    return BatchEnd::IoError;
  }
  if (now.size != cur_->id.size || now.mtimeNs != cur_->id.mtimeNs) {
    badReason_ = "modified after pickup (" + describeChange(cur_->id, now) + ")";
    return BatchEnd::Bad;
  }
  while (batch_.size() < settings_.batchSize) {
    const std::string_view window(buf_.data() + begin_, end_ - begin_);
    const Step s = lineMode ? line_->step(window, eof_, batch_) : blob_->step(window, eof_, batch_);
    switch (s.kind) {
      case Step::Events:
      case Step::Skipped:
        begin_ += s.consumed;
        break;
      case Step::NeedMore:
        if (!fill()) return BatchEnd::Bad;
        break;
      case Step::End:
        return BatchEnd::Eof;
      case Step::BadInput:
        badReason_ = "undecodable " + settings_.inputCharset + " at byte " +
                     std::to_string(bufStart_ + static_cast<int64_t>(begin_ + s.bad)) +
                     " (decodeErrorPolicy = FAIL)";
        return BatchEnd::Bad;
    }
  }
  return BatchEnd::Full;
}

void SpoolDirSource::finishFile() {
  Current& c = *cur_;
  const std::string path = c.path;
  const std::string rel = c.rel;
  const int64_t events = c.events;
  const FileIdentity was = c.id;
  closeCurrent();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    logger().warn(path, " vanished before it could be marked done (", errnoText(errno), ")");
    removeMeta();
    return;
  }
  const FileIdentity now = identityFrom(st);
  if (!(now == was)) {
    quarantine(path, "modified after pickup (" + describeChange(was, now) + "); its first " +
                         std::to_string(was.size) + " bytes were delivered");
    removeMeta();
    return;
  }
  sdk::SourceCounter& counter = sourceCounter();
  if (settings_.deleteImmediate) {
    if (::unlink(path.c_str()) != 0) {
      logger().error("cannot delete ", path, ": ", errnoText(errno),
                     "; it will be read again after a restart");
      leftAlone_[path] = now;
    } else {
      logger().info("delivered ", path, " (", events, " events) and deleted it");
    }
  } else if (settings_.trackerDirPolicy) {
    const std::string marker = markerPath(rel);
    int e = makeDirs(parentOf(marker));
    if (!e)
      e = files::writeFileAtomically(
          marker, std::to_string(now.dev) + " " + std::to_string(now.ino) + " " +
                      std::to_string(now.size) + " " + std::to_string(now.mtimeNs) + "\n");
    if (e) {
      logger().error("cannot write marker ", marker, ": ", errnoText(e));
      leftAlone_[path] = now;
    } else {
      logger().info("delivered ", path, " (", events, " events); marker ", marker);
    }
  } else {
    const std::string dest = path + settings_.fileSuffix;
    if (const int e = renameNoReplace(path, dest); e == 0) {
      logger().info("delivered ", path, " (", events, " events), renamed to ", dest);
    } else if (e == EEXIST && isLinkTo(dest, now)) {
      // dest is this very file: an earlier run died between the link() and the unlink() of the
      // fallback, and this one resumed the file at its end from the progress record. Not a
      // re-used name.
      ::unlink(path.c_str());
      logger().info("delivered ", path, "; it was already named ", dest,
                    " (an earlier run stopped before removing the old name); removed it");
    } else {
      if (e == EEXIST) {
        quarantine(path, "file name re-used: " + dest + " appeared while it was read");
      } else {
        logger().error("cannot rename ", path, " to ", dest, ": ", errnoText(e),
                       "; it will be read again after a restart");
        leftAlone_[path] = now;
      }
      removeMeta();
      return;
    }
  }
  removeMeta();
  counter.increment(kFilesCompleted);  // last, so an observer of the counter sees the end state
}

void SpoolDirSource::closeCurrent() {
  if (!cur_) return;
  if (cur_->fd >= 0) ::close(cur_->fd);
  cur_.reset();
  begin_ = end_ = 0;
  eof_ = false;
}

void SpoolDirSource::quarantine(const std::string& path, const std::string& reason) {
  // Counted once the file is where it ends up, so whoever sees the counter sees the file moved.
  struct Count {
    sdk::SourceCounter& c;
    ~Count() { c.increment(kFilesQuarantined); }
  } count{sourceCounter()};
  struct stat st;
  FileIdentity id;
  if (::stat(path.c_str(), &st) == 0) id = identityFrom(st);
  if (!settings_.quarantine) {
    logger().error(path, ": ", reason, "; left where it is (onError = leave) and skipped");
    leftAlone_[path] = id;
    return;
  }
  if (const int e = makeDirs(settings_.quarantineDir)) {
    logger().error(path, ": ", reason, "; cannot create quarantineDir ", settings_.quarantineDir,
                   ": ", errnoText(e), "; left where it is and skipped");
    leftAlone_[path] = id;
    return;
  }
  std::string dest = joinPath(settings_.quarantineDir, baseName(path));
  for (int i = 1; exists(dest) && i < 100000; ++i)
    dest = joinPath(settings_.quarantineDir, baseName(path) + "." + std::to_string(i));
  if (::rename(path.c_str(), dest.c_str()) != 0) {
    logger().error(path, ": ", reason, "; cannot move it to ", dest, ": ", errnoText(errno),
                   "; left where it is and skipped");
    leftAlone_[path] = id;
    return;
  }
  logger().error(path, ": ", reason, "; moved to ", dest);
}

}  // namespace sluice::plugins::spooldir
