#include "file_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <stdexcept>

#include "file_store_internal.hpp"

namespace sluice::plugins::filechannel {

StoreCounters StoreCounters::addTo(sdk::CounterGroup& g) {
  StoreCounters c{};
  c.putError = g.add("EventPutErrorCount");
  c.takeError = g.add("EventTakeErrorCount");
  c.checkpointWriteError = g.add("CheckpointWriteErrorCount");
  c.checkpointBackupWriteError = g.add("CheckpointBackupWriteErrorCount");
  c.open = g.add("Open");
  c.closed = g.add("Closed");
  c.unhealthy = g.add("Unhealthy");
  return c;
}

FileStore::FileStore(sdk::Logger& logger, sdk::ChannelCounter& counter, StoreCounters indices)
    : logger_(&logger), counter_(counter), idx_(indices) {
  counter_.set(idx_.closed, 1);
}

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
    states_ = std::move(scan.states);
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
  counter_.set(idx_.closed, 0);
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
  counter_.set(idx_.closed, 1);
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

std::size_t FileStore::size() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool FileStore::sourceState(std::string_view key, std::string& out) const {
  std::lock_guard lock(mu_);
  auto it = states_.find(key);
  if (it == states_.end()) return false;
  out = it->second;
  return true;
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
