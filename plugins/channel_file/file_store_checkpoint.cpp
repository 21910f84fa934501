// Checkpoints (the queue's index written atomically, and to the backup directory) and the
// deletion of log files nothing needs any more; the background thread that runs them.

#include "file_store_internal.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "crc32c.hpp"
#include "file_util.hpp"

namespace sluice::plugins::filechannel {

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
    // The states as of the same position: a few short strings per source, copied per checkpoint.
    stateSnapshot_.clear();
    for (const auto& [key, value] : states_) stateSnapshot_.push_back({key, value});
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
  u32(static_cast<uint32_t>(stateSnapshot_.size()));
  for (const SourceState& s : stateSnapshot_) {
    u32(static_cast<uint32_t>(s.key.size()));
    b.append(s.key);
    u32(static_cast<uint32_t>(s.value.size()));
    b.append(s.value);
  }
  u32(crc32c(b.data(), b.size()));

  auto writeTo = [&](const std::string& dir) -> sdk::Result {
    std::string error;
    if (files::writeFileAtomically(dir + "/" + kCheckpointName, b, &error) != 0)
      return sdk::Result::failure("checkpoint: " + error);
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

}  // namespace sluice::plugins::filechannel
