#include "file_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <unordered_set>

#include "crc32c.hpp"

namespace sluice::plugins::filechannel {

namespace {

constexpr uint32_t kCheckpointMagic = 0x4b434c53;  // "SLCK"
constexpr uint32_t kCheckpointVersion = 1;
constexpr std::size_t kCheckpointHeader = 40;
constexpr std::size_t kCheckpointEntry = 12;
constexpr const char* kCheckpointName = "checkpoint";
constexpr const char* kLockName = "in_use.lock";
// A take reads neighbouring records with one pread when they are this close together.
constexpr uint64_t kMaxReadGap = uint64_t{64} * 1024;
constexpr uint64_t kMaxReadRun = uint64_t{8} * 1024 * 1024;
constexpr uint64_t kReplayReleaseBytes = uint64_t{16} * 1024 * 1024;

std::string errnoText(int err) { return std::strerror(err); }

std::runtime_error sysError(const std::string& what, int err) {
  return std::runtime_error(what + ": " + errnoText(err));
}

void mkdirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create directory '" + dir + "': " + ec.message());
}

void fsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

std::string logFileName(uint32_t id) {
  char name[32];
  std::snprintf(name, sizeof name, "log-%08u", id);
  return name;
}

bool parseLogFileName(const char* name, uint32_t& id) {
  if (std::strncmp(name, "log-", 4) != 0) return false;
  const char* p = name + 4;
  if (!*p) return false;
  uint64_t v = 0;
  for (; *p; ++p) {
    if (*p < '0' || *p > '9') return false;
    v = v * 10 + static_cast<uint64_t>(*p - '0');
    if (v > kMaxFileId) return false;
  }
  id = static_cast<uint32_t>(v);
  return true;
}

void atomicMax(std::atomic<uint64_t>& a, uint64_t v) noexcept {
  uint64_t cur = a.load(std::memory_order_relaxed);
  while (cur < v && !a.compare_exchange_weak(cur, v, std::memory_order_release)) {
  }
}

bool preadFully(int fd, char* buf, std::size_t n, uint64_t off, int& err) {
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(off + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      err = r < 0 ? errno : EIO;
      return false;
    }
    done += static_cast<std::size_t>(r);
  }
  return true;
}

bool pwriteFully(int fd, const char* buf, std::size_t n, uint64_t off, int& err) {
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = ::pwrite(fd, buf + done, n - done, static_cast<off_t>(off + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      err = r < 0 ? errno : ENOSPC;
      return false;
    }
    done += static_cast<std::size_t>(r);
  }
  return true;
}

std::vector<std::string> distinctDirs(const StoreOptions& o) {
  std::vector<std::string> all{o.checkpointDir};
  if (!o.backupCheckpointDir.empty()) all.push_back(o.backupCheckpointDir);
  all.insert(all.end(), o.dataDirs.begin(), o.dataDirs.end());
  std::vector<std::string> out;
  std::vector<std::string> seen;
  for (const auto& d : all) {
    std::error_code ec;
    std::string canon = std::filesystem::weakly_canonical(d, ec).string();
    if (ec) canon = d;
    if (std::find(seen.begin(), seen.end(), canon) != seen.end()) continue;
    seen.push_back(canon);
    out.push_back(d);
  }
  return out;
}

std::vector<int> lockDirs(const std::vector<std::string>& dirs) {
  std::vector<int> fds;
  for (const auto& d : dirs) {
    const std::string path = d + "/" + kLockName;
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      int err = errno;
      for (int f : fds) ::close(f);
      throw sysError("cannot create lock file '" + path + "'", err);
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      for (int f : fds) ::close(f);
      if (err == EWOULDBLOCK)
        throw std::runtime_error("directory '" + d + "' is in use by another file channel (lock " +
                                 path +
                                 "); every file channel needs its own checkpointDir and dataDirs");
      throw sysError("cannot lock '" + path + "'", err);
    }
    fds.push_back(fd);
  }
  return fds;
}

}  // namespace

std::string expandHome(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "") + path.substr(1);
  }
  return path;
}

StoreCounters StoreCounters::addTo(sdk::CounterGroup& g) {
  StoreCounters c{};
  c.putError = g.add("EventPutErrorCount");
  c.takeError = g.add("EventTakeErrorCount");
  c.checkpointWriteError = g.add("CheckpointWriteErrorCount");
  c.checkpointBackupWriteError = g.add("CheckpointBackupWriteErrorCount");
  c.open = g.add("Open");
  c.unhealthy = g.add("Unhealthy");
  return c;
}

// ---------------------------------------------------------------------------------------------

struct FileStore::LogFile {
  int fd = -1;
  uint32_t id = 0;
  std::string path;
  std::string dir;
  ~LogFile() {
    if (fd >= 0) ::close(fd);
  }
};

struct FileStore::Checkpoint {
  uint32_t fileId = 0;
  uint64_t offset = 0;
  uint64_t nextTxId = 0;
  std::vector<IndexEntry> entries;
};

struct FileStore::Scan {
  std::vector<IndexEntry> queue;
  std::map<uint32_t, std::string> files;  // id -> path
  uint64_t maxTxId = 0;
};

void FileStore::Ring::reserve(std::size_t n) {
  if (n <= buf_.size()) return;
  std::size_t cap = buf_.empty() ? 1024 : buf_.size();
  while (cap < n) cap *= 2;
  std::vector<IndexEntry> bigger(cap);
  for (std::size_t i = 0; i < count_; ++i) bigger[i] = (*this)[i];
  buf_.swap(bigger);
  head_ = 0;
}

void FileStore::Ring::pushBack(const IndexEntry& e) {
  if (count_ == buf_.size()) reserve(count_ + 1);
  buf_[(head_ + count_) & (buf_.size() - 1)] = e;
  ++count_;
}

void FileStore::Ring::pushFront(const IndexEntry& e) {
  if (count_ == buf_.size()) reserve(count_ + 1);
  head_ = (head_ + buf_.size() - 1) & (buf_.size() - 1);
  buf_[head_] = e;
  ++count_;
}

IndexEntry FileStore::Ring::popFront() noexcept {
  IndexEntry e = buf_[head_];
  head_ = (head_ + 1) & (buf_.size() - 1);
  --count_;
  return e;
}

// ---------------------------------------------------------------------------------------------

namespace {

// Reads and verifies a checkpoint file. False with *why ("missing" when there is none).
bool loadCheckpointFile(const std::string& path, std::vector<char>& data, std::string& why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    why = errno == ENOENT ? "missing" : errnoText(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    why = errnoText(errno);
    ::close(fd);
    return false;
  }
  data.resize(static_cast<std::size_t>(st.st_size));
  int err = 0;
  bool ok = data.empty() || preadFully(fd, data.data(), data.size(), 0, err);
  ::close(fd);
  if (!ok) {
    why = errnoText(err);
    return false;
  }
  return true;
}

}  // namespace

// Parses checkpoint bytes into ck; false with why when damaged.
static bool parseCheckpoint(const std::vector<char>& d, uint32_t& fileId, uint64_t& offset,
                            uint64_t& nextTx, std::vector<IndexEntry>& entries, std::string& why) {
  auto u32 = [&](std::size_t at) {
    uint32_t v;
    std::memcpy(&v, d.data() + at, 4);
    return v;
  };
  auto u64 = [&](std::size_t at) {
    uint64_t v;
    std::memcpy(&v, d.data() + at, 8);
    return v;
  };
  if (d.size() < kCheckpointHeader + 4) {
    why = "too short (" + std::to_string(d.size()) + " bytes)";
    return false;
  }
  if (u32(0) != kCheckpointMagic || u32(4) != kCheckpointVersion) {
    why = "bad magic or version";
    return false;
  }
  const uint64_t count = u64(32);
  if (count > (d.size() - kCheckpointHeader - 4) / kCheckpointEntry ||
      kCheckpointHeader + count * kCheckpointEntry + 4 != d.size()) {
    why = "event count does not match the file size";
    return false;
  }
  const std::size_t body = d.size() - 4;
  if (crc32c(d.data(), body) != u32(body)) {
    why = "checksum mismatch";
    return false;
  }
  fileId = u32(8);
  offset = u64(16);
  nextTx = u64(24);
  entries.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    const std::size_t at = kCheckpointHeader + i * kCheckpointEntry;
    entries[i].pos = u64(at);
    entries[i].len = u32(at + 8);
  }
  return true;
}

void FileStore::replay(const StoreOptions& o, sdk::Logger& logger, bool repair, Scan& scan,
                       ReplayReport& report) {
  const auto t0 = std::chrono::steady_clock::now();
  // The log files of every data directory, by id.
  for (const auto& dir : o.dataDirs) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
      if (errno == ENOENT) continue;
      throw sysError("cannot list data directory '" + dir + "'", errno);
    }
    while (dirent* ent = ::readdir(d)) {
      uint32_t id = 0;
      if (!parseLogFileName(ent->d_name, id)) continue;
      const std::string path = dir + "/" + ent->d_name;
      auto [it, fresh] = scan.files.emplace(id, path);
      if (!fresh) {
        ::closedir(d);
        throw std::runtime_error("log file id " + std::to_string(id) + " exists twice: '" +
                                 it->second + "' and '" + path + "'");
      }
    }
    ::closedir(d);
  }
  report.logFiles = scan.files.size();

  // The checkpoint: the main one, else the backup, else a full replay.
  std::vector<char> bytes;
  uint32_t startFile = 0;
  uint64_t startOffset = 0;
  bool haveCheckpoint = false;
  std::string why;
  auto tryLoad = [&](const std::string& dir) {
    why.clear();
    if (!loadCheckpointFile(dir + "/" + kCheckpointName, bytes, why)) return false;
    return parseCheckpoint(bytes, startFile, startOffset, scan.maxTxId, scan.queue, why);
  };
  if (tryLoad(o.checkpointDir)) {
    haveCheckpoint = true;
    report.source = "checkpoint";
  } else {
    const std::string mainWhy = why;
    const bool mainExisted = mainWhy != "missing";
    if (mainExisted)
      logger.warn("checkpoint '", o.checkpointDir, "/", kCheckpointName, "' is unusable (", mainWhy,
                  ")");
    if (!o.backupCheckpointDir.empty() && tryLoad(o.backupCheckpointDir)) {
      haveCheckpoint = true;
      report.source = "backup checkpoint";
      report.fallbackReason = "checkpoint " + mainWhy;
      logger.warn("replaying from the backup checkpoint in '", o.backupCheckpointDir, "'");
    } else {
      scan.queue.clear();
      startFile = 0;
      startOffset = 0;
      scan.maxTxId = 0;
      if (!o.backupCheckpointDir.empty() && why != "missing") {
        logger.warn("backup checkpoint in '", o.backupCheckpointDir, "' is unusable (", why, ")");
        report.fallbackReason = "checkpoint " + mainWhy + ", backup " + why;
      } else if (mainExisted) {
        report.fallbackReason = "checkpoint " + mainWhy;
      }
      report.source = scan.files.empty() ? "empty" : "full replay";
      if (!scan.files.empty())
        logger.warn("no usable checkpoint: full replay of ", scan.files.size(), " log files");
    }
  }
  (void)haveCheckpoint;

  // Replay the log from the checkpoint's position.
  std::unordered_set<uint64_t> taken;
  std::vector<IndexEntry> pending;
  const uint32_t lastFile = scan.files.empty() ? 0 : scan.files.rbegin()->first;
  for (const auto& [id, path] : scan.files) {
    if (id < startFile) continue;
    int fd = ::open(path.c_str(), (repair ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) throw sysError("cannot open log file '" + path + "'", errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      throw sysError("cannot stat log file '" + path + "'", err);
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    report.logBytes += size;
    if (size == 0) {  // created, then the process died before the header reached the disk
      ::close(fd);
      continue;
    }
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw sysError("cannot map log file '" + path + "'", err);
    }
    ::madvise(map, size, MADV_SEQUENTIAL);
    const char* base = static_cast<const char*>(map);
    uint32_t headerId = 0;
    std::string headerWhy;
    if (!parseFileHeader(base, size, headerId, &headerWhy) || headerId != id) {
      if (headerWhy.empty()) headerWhy = "file header names id " + std::to_string(headerId);
      report.corrupt.push_back({path, 0, size, headerWhy, true});
      logger.error("log file '", path, "' is unreadable (", headerWhy, "); skipping it");
      ::munmap(map, size);
      ::close(fd);
      continue;
    }
    uint64_t off =
        id == startFile ? std::max<uint64_t>(startOffset, kFileHeaderSize) : kFileHeaderSize;
    pending.clear();
    uint64_t pendingTx = 0;
    RecordView rv;
    uint64_t released = 0;  // pages before this offset are dropped from the mapping
    while (off < size) {
      if (off - released >= kReplayReleaseBytes) {
        // Replay only moves forward: give back what it has read, so a large log does not
        // inflate the resident set (the pages stay in the page cache).
        const uint64_t upTo = off & ~uint64_t{4095};
        ::madvise(const_cast<char*>(base) + released, upTo - released, MADV_DONTNEED);
        released = upTo;
      }
      ParseStatus ps = parseRecord(base + off, size - off, rv);
      if (ps != ParseStatus::Ok) {
        // Look for the next good record: a damaged stretch in the middle of a file loses only
        // what it covers. Nothing good after it: a torn tail.
        uint64_t next = off + 1;
        RecordView probe;
        for (; next + kRecordHeaderSize <= size; ++next)
          if (parseRecord(base + next, size - next, probe) == ParseStatus::Ok) break;
        const bool tail = next + kRecordHeaderSize > size;
        const uint64_t end = tail ? size : next;
        report.corrupt.push_back({path, off, end - off, nameOf(ps), tail});
        if (tail) {
          if (repair) {
            if (::ftruncate(fd, static_cast<off_t>(off)) != 0)
              logger.error("cannot truncate '", path, "' at ", off, ": ", errnoText(errno));
            else
              logger.warn(id == lastFile ? "torn tail" : "corrupt tail", " in '", path,
                          "' at offset ", off, " (", nameOf(ps), "): dropped ", size - off,
                          " bytes");
          }
          break;
        }
        logger.error("corrupt records in '", path, "' at offset ", off, " (", end - off, " bytes, ",
                     nameOf(ps), "): skipped");
        off = next;
        continue;
      }
      ++report.recordsRead;
      scan.maxTxId = std::max(scan.maxTxId, rv.txId);
      switch (rv.type) {
        case RecordType::Put:
          if (!pending.empty() && pendingTx != rv.txId) {
            report.uncommittedPuts += pending.size();
            pending.clear();
          }
          pendingTx = rv.txId;
          pending.push_back({makePos(id, off), rv.size});
          break;
        case RecordType::Commit: {
          uint32_t count = 0;
          if (decodeCommit(rv.body, count) && pendingTx == rv.txId && count == pending.size())
            scan.queue.insert(scan.queue.end(), pending.begin(), pending.end());
          else
            report.uncommittedPuts += pending.size();
          pending.clear();
          break;
        }
        case RecordType::Take: {
          uint32_t count = 0;
          const char* positions = nullptr;
          if (decodeTake(rv.body, count, positions)) {
            if (taken.empty()) taken.reserve(1024);
            for (uint32_t i = 0; i < count; ++i) taken.insert(takePosition(positions, i));
          }
          break;
        }
      }
      off += rv.size;
    }
    report.uncommittedPuts += pending.size();
    ::munmap(map, size);
    ::close(fd);
  }

  // Drop what was taken, and what the checkpoint names in files that are gone.
  if (!taken.empty() || !scan.queue.empty()) {
    std::size_t w = 0;
    for (std::size_t r = 0; r < scan.queue.size(); ++r) {
      const IndexEntry e = scan.queue[r];
      if (!taken.empty() && taken.count(e.pos)) continue;
      if (!scan.files.count(fileOf(e.pos))) {
        ++report.lostEvents;
        continue;
      }
      scan.queue[w++] = e;
    }
    scan.queue.resize(w);
  }
  if (report.lostEvents > 0)
    logger.error(report.lostEvents,
                 " checkpointed events are lost: their log files are missing from dataDirs");
  report.liveEvents = scan.queue.size();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

ReplayReport FileStore::inspect(const StoreOptions& options, sdk::Logger& logger) {
  std::vector<int> fds;
  for (const auto& d : distinctDirs(options)) {
    struct stat st {};
    if (::stat(d.c_str(), &st) != 0) throw sysError("cannot open '" + d + "'", errno);
  }
  fds = lockDirs(distinctDirs(options));
  Scan scan;
  ReplayReport report;
  try {
    replay(options, logger, false, scan, report);
  } catch (...) {
    for (int f : fds) ::close(f);
    throw;
  }
  for (int f : fds) ::close(f);
  return report;
}

// ---------------------------------------------------------------------------------------------

FileStore::FileStore(sdk::Logger& logger, sdk::ChannelCounter& counter, StoreCounters indices)
    : logger_(&logger), counter_(counter), idx_(indices) {}

FileStore::~FileStore() { close(); }

void FileStore::lockDirectories() { lockFds_ = lockDirs(distinctDirs(options_)); }

void FileStore::unlockDirectories() noexcept {
  for (int fd : lockFds_) ::close(fd);
  lockFds_.clear();
}

ReplayReport FileStore::open(const StoreOptions& options) {
  if (isOpen()) close();
  if (options.dataDirs.empty()) throw std::runtime_error("no data directories");
  options_ = options;
  mkdirs(options_.checkpointDir);
  if (!options_.backupCheckpointDir.empty()) mkdirs(options_.backupCheckpointDir);
  for (const auto& d : options_.dataDirs) mkdirs(d);
  lockDirectories();
  Scan scan;
  ReplayReport report;
  try {
    replay(options_, *logger_, true, scan, report);
    std::lock_guard lock(mu_);
    queue_.clear();
    queue_.reserve(scan.queue.size());
    files_.clear();
    for (const auto& [id, path] : scan.files) {
      auto f = std::make_shared<LogFile>();
      f->id = id;
      f->path = path;
      f->dir = path.substr(0, path.rfind('/'));
      f->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (f->fd < 0) throw sysError("cannot open log file '" + path + "'", errno);
      files_[id].file = std::move(f);
    }
    FileInfo* last = nullptr;
    uint32_t lastId = 0;
    for (const IndexEntry& e : scan.queue) {
      queue_.pushBack(e);
      const uint32_t id = fileOf(e.pos);
      if (!last || lastId != id) {
        last = &files_[id];
        lastId = id;
      }
      ++last->live;
    }
    reserved_ = 0;
    inflight_.clear();
    ++epoch_;
    stopping_ = false;
    {
      // A failure of the previous open() is over: the replay above read what is on disk.
      std::lock_guard failLock(failMu_);
      failReason_.clear();
      failed_.store(false, std::memory_order_release);
    }
    nextTxId_.store(scan.maxTxId + 1);
    nextDir_ = files_.empty() ? 0 : (files_.rbegin()->first + 1) % options_.dataDirs.size();
    openNewLogFile();
    syncedPos_.store(writtenPos_.load());
    counter_.setChannelSize(static_cast<int64_t>(queue_.size()));
    counter_.setChannelCapacity(static_cast<int64_t>(options_.capacity));
  } catch (...) {
    std::lock_guard lock(mu_);
    files_.clear();
    active_.reset();
    activeInfo_ = nullptr;
    unlockDirectories();
    throw;
  }
  open_.store(true, std::memory_order_release);
  counter_.set(idx_.open, 1);
  setUnhealthy(false);
  sdk::Result r = checkpoint();
  if (!r) logger_->error("initial checkpoint failed: ", r.error());
  {
    std::lock_guard lock(bgMu_);
    bgStop_ = false;
  }
  bg_ = std::thread([this] { backgroundLoop(); });
  return report;
}

void FileStore::close() noexcept {
  if (!isOpen()) return;
  {
    std::lock_guard lock(bgMu_);
    bgStop_ = true;
  }
  bgCv_.notify_all();
  if (bg_.joinable()) bg_.join();
  interruptWaits();
  if (options_.checkpointOnClose) {
    sdk::Result r = checkpoint();
    if (!r) logger_->error("checkpoint on close failed: ", r.error());
  } else {
    sdk::Result r = syncTo(writtenPos_.load());
    if (!r) logger_->error("sync on close failed: ", r.error());
  }
  open_.store(false, std::memory_order_release);
  {
    std::lock_guard lock(mu_);
    files_.clear();
    active_.reset();
    activeInfo_ = nullptr;
    queue_.clear();
    inflight_.clear();
    ++epoch_;  // transactions still holding events find them gone
    reserved_ = 0;
  }
  unlockDirectories();
  counter_.set(idx_.open, 0);
}

void FileStore::openNewLogFile() {
  const uint32_t id = files_.empty() ? 1 : files_.rbegin()->first + 1;
  if (id > kMaxFileId) throw std::runtime_error("log file ids exhausted");
  const std::string& dir = options_.dataDirs[nextDir_ % options_.dataDirs.size()];
  nextDir_ = (nextDir_ + 1) % options_.dataDirs.size();
  auto f = std::make_shared<LogFile>();
  f->id = id;
  f->dir = dir;
  f->path = dir + "/" + logFileName(id);
  f->fd = ::open(f->path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (f->fd < 0) throw sysError("cannot create log file '" + f->path + "'", errno);
  std::string header;
  appendFileHeader(header, id);
  int err = 0;
  if (!pwriteFully(f->fd, header.data(), header.size(), 0, err)) {
    ::unlink(f->path.c_str());  // so the next attempt can create it again
    throw sysError("cannot write log file '" + f->path + "'", err);
  }
  fsyncDir(dir);
  FileInfo& info = files_[id];
  info.file = f;
  info.live = 0;
  active_ = std::move(f);
  activeInfo_ = &info;
  writeOff_ = kFileHeaderSize;
  writtenPos_.store(makePos(id, writeOff_));
}

sdk::Result FileStore::appendLocked(const std::string& buf, uint64_t& at) {
  if (!active_) return sdk::Result::failure("the file channel is closed");
  if (writeOff_ > kFileHeaderSize && writeOff_ + buf.size() > options_.maxFileSize) {
    // Roll: the old file must be on disk before positions in the new one count as synced.
    // Once the store has failed nothing counts as synced any more (only take records are
    // still written, best effort), so it just rolls.
    if (!failed()) {
      if (syncLog(active_->fd) != 0) {
        const std::string why = "fdatasync of '" + active_->path + "' failed: " + errnoText(errno);
        markFailed(why);
        return sdk::Result::failure(why);
      }
      atomicMax(syncedPos_, makePos(active_->id, writeOff_));
    }
    try {
      openNewLogFile();
    } catch (const std::exception& e) {
      return sdk::Result::failure(e.what());
    }
  }
  int err = 0;
  if (!pwriteFully(active_->fd, buf.data(), buf.size(), writeOff_, err)) {
    // Cut off whatever part did get written, so the next append starts at a clean tail.
    (void)::ftruncate(active_->fd, static_cast<off_t>(writeOff_));
    return sdk::Result::failure("cannot write log file '" + active_->path + "': " + errnoText(err));
  }
  at = makePos(active_->id, writeOff_);
  writeOff_ += buf.size();
  writtenPos_.store(makePos(active_->id, writeOff_), std::memory_order_release);
  return sdk::Result::success();
}

int FileStore::syncLog(int fd) { return options_.logSync ? options_.logSync(fd) : ::fdatasync(fd); }

sdk::Result FileStore::syncTo(uint64_t pos) {
  if (syncedPos_.load(std::memory_order_acquire) >= pos) return sdk::Result::success();
  std::unique_lock l(syncMu_);
  while (syncedPos_.load(std::memory_order_acquire) < pos) {
    // After a failed fdatasync Linux may have dropped the dirty pages and a retry usually
    // returns 0 although they never reached the disk: no later sync can vouch for pos. This
    // also ends the wait of every committer that queued behind the failed sync.
    if (failed()) return sdk::Result::failure(failReason());
    if (syncing_) {
      syncCv_.wait(l);
      continue;
    }
    // This thread leads: one fdatasync covers everything written so far, for all waiters.
    syncing_ = true;
    l.unlock();
    std::shared_ptr<LogFile> f;
    uint64_t target = 0;
    {
      std::lock_guard lock(mu_);
      f = active_;
      target = writtenPos_.load(std::memory_order_relaxed);
    }
    int rc = f ? syncLog(f->fd) : 0;
    const int err = errno;
    if (rc != 0) markFailed("fdatasync of '" + f->path + "' failed: " + errnoText(err));
    l.lock();
    syncing_ = false;
    if (rc == 0) atomicMax(syncedPos_, target);
    syncCv_.notify_all();
  }
  return sdk::Result::success();
}

void FileStore::unregisterLocked(TakeState& st) noexcept {
  auto it = std::find(inflight_.begin(), inflight_.end(), &st);
  if (it != inflight_.end()) inflight_.erase(it);
  st.registered = false;
}

uint64_t FileStore::visibleLimitLocked() const noexcept {
  return options_.fsyncPerTransaction ? syncedPos_.load(std::memory_order_acquire)
                                      : std::numeric_limits<uint64_t>::max();
}

void FileStore::wakeTakers() {
  bool any;
  {
    std::lock_guard lock(mu_);
    any = dataWaiters_ > 0;
  }
  if (any) dataCv_.notify_all();
}

void FileStore::setUnhealthy(bool bad) noexcept { counter_.set(idx_.unhealthy, bad ? 1 : 0); }

void FileStore::markFailed(std::string_view reason) noexcept {
  bool first = false;
  try {
    std::lock_guard lock(failMu_);
    first = failReason_.empty();
    if (first) failReason_ = reason;
  } catch (...) {  // out of memory copying the reason: failReason() says so
  }
  failed_.store(true, std::memory_order_release);
  setUnhealthy(true);
  if (first)
    logger_->error(reason,
                   "; the file channel now refuses puts and checkpoints until it is restarted "
                   "(the restart's replay decides what is on disk). Take commits still succeed, "
                   "their events may be delivered again after the restart");
}

std::string FileStore::failReason() const {
  std::lock_guard lock(failMu_);
  return failReason_.empty() ? "the file channel failed earlier" : failReason_;
}

void FileStore::interruptWaits() noexcept {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  dataCv_.notify_all();
  spaceCv_.notify_all();
}

sdk::Result FileStore::encodePuts(const sdk::EventBatch& events, std::string& scratch,
                                  std::vector<IndexEntry>& scratchIndex) {
  const std::size_t n = events.size();
  // Records do not contain their own position, so they are encoded outside the lock.
  const uint64_t txId = nextTxId_.fetch_add(1, std::memory_order_relaxed);
  try {
    scratch.clear();
    scratchIndex.clear();
    scratchIndex.reserve(n);
    for (const sdk::Event& e : events) {
      const uint64_t rel = scratch.size();
      const std::size_t len = appendPutRecord(scratch, txId, e);
      if (len > kMaxPayload)
        return sdk::Result::failure("event too large for the file channel (" + std::to_string(len) +
                                    " bytes)");
      scratchIndex.push_back({rel, static_cast<uint32_t>(len)});
    }
    appendCommitRecord(scratch, txId, static_cast<uint32_t>(n));
  } catch (...) {
    return sdk::Result::failure("out of memory encoding a put");
  }
  return sdk::Result::success();
}

sdk::Result FileStore::commitPuts(sdk::EventBatch& events, std::string& scratch,
                                  std::vector<IndexEntry>& scratchIndex, std::size_t leaving) {
  uint64_t endPos = 0;
  sdk::Result r = appendPuts(events, scratch, scratchIndex, leaving, endPos);
  if (!r || endPos == 0) return r;
  return syncPuts(endPos);
}

sdk::Result FileStore::appendPuts(sdk::EventBatch& events, std::string& scratch,
                                  std::vector<IndexEntry>& scratchIndex, std::size_t leaving,
                                  uint64_t& endPos) {
  endPos = 0;
  const std::size_t n = events.size();
  if (n == 0) return sdk::Result::success();
  auto fail = [&](std::string msg) {
    events.clear();
    counter_.increment(idx_.putError);
    return sdk::Result::failure(std::move(msg));
  };
  if (!isOpen()) return fail("the file channel is closed");
  if (failed())
    return fail("the file channel is unhealthy since an earlier failure (" + failReason() +
                "); puts are refused until it is restarted");
  if (sdk::Result r = encodePuts(events, scratch, scratchIndex); !r) return fail(r.error());
  if (options_.minimumRequiredSpace > 0) {
    std::string dir;
    {
      std::lock_guard lock(mu_);
      if (active_) dir = active_->dir;
    }
    struct statvfs sv {};
    if (!dir.empty() && ::statvfs(dir.c_str(), &sv) == 0) {
      const uint64_t usable = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
      if (usable < options_.minimumRequiredSpace + scratch.size())
        return fail("Usable space exhausted, only " + std::to_string(usable) +
                    " bytes remaining in '" + dir + "', required " +
                    std::to_string(options_.minimumRequiredSpace) +
                    " bytes (minimumRequiredSpace); the put was refused, nothing was written");
    }
  }
  {
    std::unique_lock lock(mu_);
    auto fits = [&] {
      return queue_.size() + reserved_ + n - std::min(leaving, reserved_) <= options_.capacity;
    };
    if (!fits() && !stopping_) {
      ++spaceWaiters_;
      spaceCv_.wait_for(lock, std::chrono::milliseconds(options_.keepAliveMs),
                        [&] { return fits() || stopping_; });
      --spaceWaiters_;
    }
    if (!fits())
      return fail(
          "Space for commit to queue couldn't be acquired. Sinks are likely not keeping up with "
          "sources, or the buffer size is too tight");
    try {
      // Before writing: records written but not queued would be dropped by the next
      // checkpoint. Room for the events in flight too, so a rollback never has to grow it.
      queue_.reserve(queue_.size() + reserved_ + n);
    } catch (...) {
      return fail("out of memory growing the file channel's index; nothing was written");
    }
    uint64_t at = 0;
    sdk::Result r = appendLocked(scratch, at);
    if (!r) return fail(r.error());
    for (const IndexEntry& rel : scratchIndex) queue_.pushBack({at + rel.pos, rel.len});
    activeInfo_->live += n;
    endPos = writtenPos_.load(std::memory_order_relaxed);
    counter_.setChannelSize(static_cast<int64_t>(queue_.size()));
  }
  events.clear();
  return sdk::Result::success();
}

sdk::Result FileStore::syncPuts(uint64_t endPos) {
  if (options_.fsyncPerTransaction) {
    sdk::Result r = syncTo(endPos);
    if (!r) {
      counter_.increment(idx_.putError);
      return sdk::Result::failure(r.error() + " (the put may be delivered after a restart)");
    }
  }
  wakeTakers();
  return sdk::Result::success();
}

sdk::Result FileStore::spliceCommitPuts(sdk::EventBatch& events, std::span<const int64_t> order,
                                        std::string& scratch,
                                        std::vector<IndexEntry>& scratchIndex) {
  const std::size_t n = events.size();
  if (n == 0) return sdk::Result::success();
  if (!isOpen()) return sdk::Result::failure("the file channel is closed");
  if (sdk::Result r = encodePuts(events, scratch, scratchIndex); !r) return r;
  uint64_t endPos = 0;
  {
    std::lock_guard lock(mu_);
    Ring spliced;
    try {
      spliced.reserve(queue_.size() + reserved_ + n);  // with room for rollbacks, as appendPuts
    } catch (...) {
      return sdk::Result::failure("out of memory growing the file channel's index");
    }
    uint64_t at = 0;
    sdk::Result r = appendLocked(scratch, at);
    if (!r) return r;
    std::size_t nextNew = 0;
    std::size_t nextOld = 0;
    for (const int64_t run : order) {
      if (run > 0) {
        for (int64_t i = 0; i < run && nextNew < n; ++i, ++nextNew)
          spliced.pushBack({at + scratchIndex[nextNew].pos, scratchIndex[nextNew].len});
      } else {
        for (int64_t i = 0; i < -run && nextOld < queue_.size(); ++i, ++nextOld)
          spliced.pushBack(queue_[nextOld]);
      }
    }
    // Whatever `order` did not place keeps its relative order, behind the rest.
    for (; nextOld < queue_.size(); ++nextOld) spliced.pushBack(queue_[nextOld]);
    for (; nextNew < n; ++nextNew)
      spliced.pushBack({at + scratchIndex[nextNew].pos, scratchIndex[nextNew].len});
    queue_ = std::move(spliced);
    activeInfo_->live += n;
    endPos = writtenPos_.load(std::memory_order_relaxed);
    counter_.setChannelSize(static_cast<int64_t>(queue_.size()));
  }
  events.clear();
  if (sdk::Result r = syncTo(endPos); !r)
    return sdk::Result::failure(r.error() + " (the events may be delivered after a restart)");
  // Replaying the log alone would queue the new records last: the checkpoint keeps the order.
  if (sdk::Result r = checkpoint(); !r)
    return sdk::Result::failure("the events are stored but their place in the order is not (" +
                                r.error() + ")");
  wakeTakers();
  return sdk::Result::success();
}

sdk::Result FileStore::take(TakeState& st, std::size_t max, std::span<sdk::Event>& taken) {
  taken = {};
  if (!isOpen()) return sdk::Result::failure("the file channel is closed");
  if (max == 0) return sdk::Result::success();
  // Once registered, checkpoint() reads st.entries under mu_: growing them (which frees the
  // old buffer) must happen under mu_ too. The first take of a transaction grows them before
  // registering them, without the lock; a pooled TakeState rarely needs to grow at all.
  if (!st.registered) {
    try {
      st.entries.reserve(st.entries.size() + max);
    } catch (...) {
      return sdk::Result::failure("out of memory in takeBatch");
    }
  }
  std::size_t n = 0;
  std::size_t firstEntry = 0;
  {
    std::unique_lock lock(mu_);
    if (st.registered && st.epoch != epoch_) {  // left over from before a restart
      st.entries.clear();
      st.events.clear();
      st.registered = false;
    }
    if (st.entries.capacity() < st.entries.size() + max) {
      try {
        st.entries.reserve(st.entries.size() + max);
      } catch (...) {
        return sdk::Result::failure("out of memory in takeBatch");
      }
    }
    firstEntry = st.entries.size();
    auto visible = [&] { return !queue_.empty() && queue_[0].pos < visibleLimitLocked(); };
    if (!visible() && !stopping_ && options_.maxTakeWaitMs > 0) {
      ++dataWaiters_;
      dataCv_.wait_for(lock, std::chrono::milliseconds(options_.maxTakeWaitMs),
                       [&] { return visible() || stopping_; });
      --dataWaiters_;
    }
    const uint64_t limit = visibleLimitLocked();
    while (n < max && n < queue_.size() && queue_[n].pos < limit) ++n;
    for (std::size_t i = 0; i < n; ++i) st.entries.push_back(queue_.popFront());
    reserved_ += n;
    if (n > 0 && !st.registered) {
      inflight_.push_back(&st);
      st.registered = true;
      st.epoch = epoch_;
    }
    if (n > 0) counter_.setChannelSize(static_cast<int64_t>(queue_.size()));
  }
  if (n == 0) return sdk::Result::success();

  // Read the bodies back, one pread per run of neighbouring records.
  const std::size_t firstEvent = st.events.size();
  try {
    st.events.reserve(firstEvent + n);
    st.spare.reserve(st.events.capacity());
  } catch (...) {
    return sdk::Result::failure("out of memory in takeBatch");
  }
  std::size_t i = firstEntry;
  const std::size_t end = st.entries.size();
  while (i < end) {
    const uint32_t fid = fileOf(st.entries[i].pos);
    const uint64_t runStart = offsetOf(st.entries[i].pos);
    uint64_t runEnd = runStart + st.entries[i].len;
    std::size_t j = i + 1;
    while (j < end && fileOf(st.entries[j].pos) == fid) {
      const uint64_t o = offsetOf(st.entries[j].pos);
      if (o < runEnd || o - runEnd > kMaxReadGap || o + st.entries[j].len - runStart > kMaxReadRun)
        break;
      runEnd = o + st.entries[j].len;
      ++j;
    }
    int fd = -1;
    std::string path;
    {
      std::lock_guard lock(mu_);
      auto it = files_.find(fid);
      if (it != files_.end()) {
        fd = it->second.file->fd;
        path = it->second.file->path;
      }
    }
    if (fd < 0) return sdk::Result::failure("log file " + std::to_string(fid) + " is gone");
    try {
      st.readBuf.resize(runEnd - runStart);
    } catch (...) {
      return sdk::Result::failure("out of memory reading events back");
    }
    int err = 0;
    if (!preadFully(fd, st.readBuf.data(), st.readBuf.size(), runStart, err)) {
      counter_.increment(idx_.takeError);
      return sdk::Result::failure("cannot read '" + path + "': " + errnoText(err));
    }
    for (std::size_t k = i; k < j; ++k) {
      const uint64_t rel = offsetOf(st.entries[k].pos) - runStart;
      RecordView rv;
      ParseStatus ps = parseRecord(st.readBuf.data() + rel, st.entries[k].len, rv);
      bool ok = ps == ParseStatus::Ok && rv.type == RecordType::Put && rv.size == st.entries[k].len;
      if (ok) {
        if (st.spare.empty()) {
          st.events.emplace_back();  // reserved: cannot throw
        } else {
          st.events.push_back(std::move(st.spare.back()));
          st.spare.pop_back();
        }
        ok = decodePut(rv.body, st.events.back());
        if (!ok) st.events.pop_back();
      }
      if (!ok) {
        // Unreadable on disk: it cannot be delivered. It stays in the transaction, so its
        // commit removes it for good instead of failing every take from now on.
        counter_.increment(idx_.takeError);
        logger_->error("dropping a corrupt event in '", path, "' at offset ",
                       offsetOf(st.entries[k].pos), " (", nameOf(ps), ")");
      }
    }
    i = j;
  }
  taken = std::span<sdk::Event>(st.events.data() + firstEvent, st.events.size() - firstEvent);
  return sdk::Result::success();
}

sdk::Result FileStore::commitTakes(TakeState& st) {
  const std::size_t n = st.entries.size();
  if (n == 0) {
    st.events.clear();
    return sdk::Result::success();
  }
  if (!isOpen()) return sdk::Result::failure("the file channel is closed");
  const uint64_t txId = nextTxId_.fetch_add(1, std::memory_order_relaxed);
  try {
    st.recordBuf.clear();
    appendTakeRecord(st.recordBuf, txId, st.entries);
  } catch (...) {
    return sdk::Result::failure("out of memory encoding a take");
  }
  uint64_t endPos = 0;
  bool wakePutters = false;
  {
    std::lock_guard lock(mu_);
    if (!st.registered || st.epoch != epoch_) {
      // Taken before the channel was closed: the events are back in the reopened queue.
      st.entries.clear();
      st.events.clear();
      st.registered = false;
      return sdk::Result::failure("the file channel was restarted during this transaction");
    }
    uint64_t at = 0;
    sdk::Result r = appendLocked(st.recordBuf, at);
    if (!r) {
      counter_.increment(idx_.takeError);
      return r;
    }
    FileInfo* info = nullptr;
    uint32_t infoId = 0;
    for (const IndexEntry& e : st.entries) {
      const uint32_t id = fileOf(e.pos);
      if (!info || infoId != id) {
        auto it = files_.find(id);
        info = it == files_.end() ? nullptr : &it->second;
        infoId = id;
      }
      if (info && info->live > 0) --info->live;
    }
    reserved_ -= n;
    unregisterLocked(st);
    st.registered = false;
    wakePutters = spaceWaiters_ > 0;
    endPos = writtenPos_.load(std::memory_order_relaxed);
  }
  if (wakePutters) spaceCv_.notify_all();
  st.entries.clear();
  st.recycleEvents();  // outside the lock
  if (options_.fsyncPerTransaction) {
    // A failed sync still reports success: the events are gone from the queue, so a failure
    // would make the sink roll back and drop events the channel no longer holds. The sink has
    // delivered them; at worst (the take record never reaches the disk) they are delivered
    // again after a restart. markFailed() logged the failure and set Unhealthy.
    (void)syncTo(endPos);
  }
  return sdk::Result::success();
}

void FileStore::rollbackTakes(TakeState& st) noexcept {
  st.recycleEvents();
  if (st.entries.empty()) return;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (st.registered && st.epoch == epoch_) {
      // Back at the head, in their order. Puts keep the ring's capacity above queued plus
      // in-flight events, so this does not grow it; should it fail anyway, the events are in
      // the log and not taken, and markFailed() stops every checkpoint from passing them, so
      // they do come back at the next restart.
      try {
        queue_.reserve(queue_.size() + st.entries.size());
        for (std::size_t i = st.entries.size(); i-- > 0;) queue_.pushFront(st.entries[i]);
      } catch (...) {
        markFailed("out of memory returning rolled-back events to the file channel's index");
      }
      reserved_ -= st.entries.size();
      unregisterLocked(st);
      st.registered = false;
      counter_.setChannelSize(static_cast<int64_t>(queue_.size()));
      wake = dataWaiters_ > 0;
    }
    st.registered = false;
  }
  st.entries.clear();
  if (wake) dataCv_.notify_all();
}

sdk::Result FileStore::checkpoint() {
  std::lock_guard ckLock(checkpointMu_);
  if (!isOpen()) return sdk::Result::failure("the file channel is closed");
  if (failed()) {
    counter_.increment(idx_.checkpointWriteError);
    return sdk::Result::failure("no checkpoint while the file channel is unhealthy (" +
                                failReason() + ")");
  }
  uint64_t pos = 0, nextTx = 0;
  {
    std::lock_guard lock(mu_);
    snapshot_.clear();
    std::size_t total = queue_.size();
    for (const TakeState* st : inflight_) total += st->entries.size();
    snapshot_.reserve(total);
    // Taken but not committed: they come first, as a rollback would put them back at the head.
    for (const TakeState* st : inflight_)
      snapshot_.insert(snapshot_.end(), st->entries.begin(), st->entries.end());
    for (std::size_t i = 0; i < queue_.size(); ++i) snapshot_.push_back(queue_[i]);
    pos = writtenPos_.load(std::memory_order_relaxed);
    nextTx = nextTxId_.load(std::memory_order_relaxed);
    // Which files this checkpoint makes unneeded is decided now, from the same moment as the
    // snapshot: a take committed later can empty another file, but this checkpoint still
    // names that file's events, and the take record may not reach the disk.
    deletable_.clear();
    collectDeletableLocked(fileOf(pos), deletable_);
  }
  sdk::Result r = syncTo(pos);
  if (!r) {
    counter_.increment(idx_.checkpointWriteError);
    return r;
  }
  std::string& b = checkpointBuf_;
  b.clear();
  auto u32 = [&](uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); };
  auto u64 = [&](uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); };
  b.reserve(kCheckpointHeader + snapshot_.size() * kCheckpointEntry + 4);
  u32(kCheckpointMagic);
  u32(kCheckpointVersion);
  u32(fileOf(pos));
  u32(0);
  u64(offsetOf(pos));
  u64(nextTx);
  u64(snapshot_.size());
  for (const IndexEntry& e : snapshot_) {
    u64(e.pos);
    u32(e.len);
  }
  u32(crc32c(b.data(), b.size()));

  auto writeTo = [&](const std::string& dir) -> sdk::Result {
    const std::string tmp = dir + "/" + kCheckpointName + ".tmp";
    const std::string final = dir + "/" + kCheckpointName;
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return sdk::Result::failure("cannot create '" + tmp + "': " + errnoText(errno));
    int err = 0;
    bool ok = pwriteFully(fd, b.data(), b.size(), 0, err);
    if (ok && ::fdatasync(fd) != 0) {
      ok = false;
      err = errno;
    }
    ::close(fd);
    if (ok && ::rename(tmp.c_str(), final.c_str()) != 0) {
      ok = false;
      err = errno;
    }
    if (!ok) {
      ::unlink(tmp.c_str());
      return sdk::Result::failure("cannot write checkpoint '" + final + "': " + errnoText(err));
    }
    fsyncDir(dir);
    return sdk::Result::success();
  };
  r = writeTo(options_.checkpointDir);
  if (!r) {
    counter_.increment(idx_.checkpointWriteError);
    logger_->error(r.error());
    return r;
  }
  if (!options_.backupCheckpointDir.empty()) {
    sdk::Result rb = writeTo(options_.backupCheckpointDir);
    if (!rb) {
      counter_.increment(idx_.checkpointBackupWriteError);
      logger_->error("backup ", rb.error());
      // The older backup may still be needed, with the log files it names: delete nothing.
      return sdk::Result::success();
    }
  }
  if (!deletable_.empty()) {
    std::lock_guard lock(mu_);
    deleteFilesLocked(deletable_);
  }
  return sdk::Result::success();
}

void FileStore::collectDeletableLocked(uint32_t belowFileId, std::vector<uint32_t>& ids) const {
  // Only a prefix of the log is deleted: a later file can hold Take records for events in an
  // earlier one, and a full replay must see them. A file with no live event now gets none
  // later: puts go to the active file only, and a rollback returns events that were counted.
  for (const auto& [id, info] : files_) {
    if (id >= belowFileId || info.live > 0 || info.file == active_) break;
    ids.push_back(id);
  }
}

void FileStore::deleteFilesLocked(const std::vector<uint32_t>& ids) {
  for (const uint32_t id : ids) {
    auto it = files_.find(id);
    if (it == files_.end()) continue;
    const std::string path = it->second.file->path;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      // Stop: the files after it must stay while it does (see collectDeletableLocked).
      logger_->warn("cannot delete used-up log file '", path, "': ", errnoText(errno));
      break;
    }
    logger_->debug("deleted used-up log file '", path, "'");
    files_.erase(it);
  }
}

void FileStore::backgroundLoop() {
  using Clock = std::chrono::steady_clock;
  auto nextCheckpoint = Clock::now() + std::chrono::milliseconds(options_.checkpointIntervalMs);
  auto nextSync = Clock::now() + std::chrono::milliseconds(options_.fsyncIntervalMs);
  std::unique_lock l(bgMu_);
  while (!bgStop_) {
    auto wake = nextCheckpoint;
    if (!options_.fsyncPerTransaction) wake = std::min(wake, nextSync);
    bgCv_.wait_until(l, wake, [&] { return bgStop_; });
    if (bgStop_) break;
    l.unlock();
    const auto now = Clock::now();
    // After a failure neither can succeed; markFailed() has said so once.
    if (failed()) {
      nextSync = now + std::chrono::milliseconds(options_.fsyncIntervalMs);
      nextCheckpoint = now + std::chrono::milliseconds(options_.checkpointIntervalMs);
    }
    if (!options_.fsyncPerTransaction && now >= nextSync) {
      sdk::Result r = syncTo(writtenPos_.load());
      if (!r) logger_->error(r.error());
      nextSync = now + std::chrono::milliseconds(options_.fsyncIntervalMs);
    }
    if (now >= nextCheckpoint) {
      sdk::Result r = checkpoint();
      if (!r) logger_->error("checkpoint failed: ", r.error());
      nextCheckpoint = Clock::now() + std::chrono::milliseconds(options_.checkpointIntervalMs);
    }
    l.lock();
  }
}

std::size_t FileStore::size() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::size_t FileStore::inFlight() const {
  std::lock_guard lock(mu_);
  return reserved_;
}

std::size_t FileStore::logFileCount() const {
  std::lock_guard lock(mu_);
  return files_.size();
}

}  // namespace sluice::plugins::filechannel
