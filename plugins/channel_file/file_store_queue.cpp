// Puts and takes: encoding a transaction's records, queueing them once written, reading
// bodies back for takers, and the commit and rollback of takes.

#include "file_store_internal.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <limits>

namespace sluice::plugins::filechannel {

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

sdk::Result FileStore::encodePuts(const sdk::EventBatch& events, std::string& scratch,
                                  std::vector<IndexEntry>& scratchIndex,
                                  std::span<const SourceState> states) {
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
    // Per transaction, not per event: replay keeps them only when the Commit below is there.
    for (const SourceState& s : states)
      if (appendStateRecord(scratch, txId, s.key, s.value) > kMaxPayload)
        return sdk::Result::failure("source state of '" + s.key +
                                    "' too large for the file channel");
    appendCommitRecord(scratch, txId, static_cast<uint32_t>(n));
  } catch (...) {
    return sdk::Result::failure("out of memory encoding a put");
  }
  return sdk::Result::success();
}

sdk::Result FileStore::commitPuts(sdk::EventBatch& events, std::string& scratch,
                                  std::vector<IndexEntry>& scratchIndex, std::size_t leaving,
                                  std::span<const SourceState> states) {
  uint64_t endPos = 0;
  sdk::Result r = appendPuts(events, scratch, scratchIndex, leaving, endPos, states);
  if (!r || endPos == 0) return r;
  return syncPuts(endPos);
}

sdk::Result FileStore::appendPuts(sdk::EventBatch& events, std::string& scratch,
                                  std::vector<IndexEntry>& scratchIndex, std::size_t leaving,
                                  uint64_t& endPos, std::span<const SourceState> states) {
  endPos = 0;
  const std::size_t n = events.size();
  if (n == 0 && states.empty()) return sdk::Result::success();
  auto fail = [&](std::string msg) {
    events.clear();
    counter_.increment(idx_.putError);
    return sdk::Result::failure(std::move(msg));
  };
  if (!isOpen()) return fail("the file channel is closed");
  if (failed())
    return fail("the file channel is unhealthy since an earlier failure (" + failReason() +
                "); puts are refused until it is restarted");
  if (sdk::Result r = encodePuts(events, scratch, scratchIndex, states); !r) return fail(r.error());
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
    try {
      for (const SourceState& s : states) {
        auto it = states_.find(s.key);
        if (it == states_.end())
          states_.emplace(s.key, s.value);
        else
          it->second = s.value;
      }
    } catch (...) {
      // The record is written but the map lags it: a checkpoint would store the old value
      // while passing the record. Only a replay sorts that out.
      markFailed("out of memory recording a source state");
    }
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

}  // namespace sluice::plugins::filechannel
