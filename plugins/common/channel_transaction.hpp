#pragma once
// Transaction bookkeeping shared by the channels (memory, file, spillable memory): the state of
// a transaction, staging a put batch, Flume's messages for a full put or take list, and the
// pool of per-transaction staging buffers. What differs between channels (where committed
// events go) stays in each channel.
//
// Header-only: each channel .so compiles its own copy (see meson.build in this folder).
// Everything here is on the hot path: no allocation except growing a staging vector, no lock
// except the pool's (once per transaction, not per event).

#include <cstddef>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::plugins::channeltx {

// A transaction's life: begin() opens it; commit() and rollback() finish it (kDone, and a
// later begin() may open it again); close() ends it for good, rolling back if still open.
enum class TxState { kNew, kOpen, kDone, kClosed };

// The failure a data-path call returns outside begin()..commit()/rollback().
inline sdk::Result notOpen(const char* call) {
  return sdk::Result::failure(std::string(call) + "() called outside an open transaction");
}

inline std::string putQueueFull(std::size_t txCapacity) {
  return "Put queue for transaction of capacity " + std::to_string(txCapacity) +
         " full, consider committing more frequently, increasing capacity or increasing thread "
         "count";
}

inline std::string takeListFull(std::size_t txCapacity, std::size_t requested) {
  return "Take list for transaction of capacity " + std::to_string(txCapacity) +
         " full, consider committing more frequently, increasing capacity, or increasing thread "
         "count (a batch of " +
         std::to_string(requested) +
         " was requested; a sink's batchSize must not exceed the channel's transactionCapacity)";
}

// The first checks of putBatch(): the transaction is open, the batch fits the transaction
// capacity. Counts the attempt. On failure `events` is emptied, as the Transaction contract
// says. A success with events empty means there is nothing to stage.
inline sdk::Result checkPut(TxState state, const sdk::EventBatch& staged, sdk::EventBatch& events,
                            std::size_t txCapacity, sdk::ChannelCounter& counter) {
  if (state != TxState::kOpen) {
    events.clear();
    return notOpen("putBatch");
  }
  if (events.empty()) return sdk::Result::success();
  counter.addToEventPutAttemptCount(static_cast<int64_t>(events.size()));
  if (staged.size() + events.size() > txCapacity) {
    events.clear();
    return sdk::Result::failure(putQueueFull(txCapacity));
  }
  return sdk::Result::success();
}

// Moves `events` to the end of `staged` and leaves `events` empty. Swapping hands the caller
// our (pooled, equally large) buffer and keeps theirs: O(1) instead of moving every event. Only
// when neither side's capacity shrinks much, so a one-event put does not throw away a pooled
// batch-sized buffer.
inline sdk::Result stagePut(sdk::EventBatch& staged, sdk::EventBatch& events) noexcept {
  try {
    if (staged.empty() && staged.capacity() >= events.capacity() &&
        events.capacity() * 2 >= staged.capacity()) {
      staged.swap(events);
    } else {
      staged.insert(staged.end(), std::make_move_iterator(events.begin()),
                    std::make_move_iterator(events.end()));
      events.clear();
    }
  } catch (...) {
    events.clear();
    return sdk::Result::failure("out of memory staging a put");
  }
  return sdk::Result::success();
}

// A few staging buffers kept between transactions, so a transaction reuses grown vectors
// instead of allocating them. Buffers must have reset(), which empties them keeping capacity.
// Any thread; one lock per acquire and per release.
template <class Buffers, std::size_t kMax = 16>
class BufferPool {
 public:
  std::unique_ptr<Buffers> acquire() {
    {
      std::lock_guard lock(mu_);
      if (!pool_.empty()) {
        std::unique_ptr<Buffers> b = std::move(pool_.back());
        pool_.pop_back();
        return b;
      }
    }
    return std::make_unique<Buffers>();
  }

  void release(std::unique_ptr<Buffers> b) noexcept {
    if (!b) return;
    b->reset();
    std::lock_guard lock(mu_);
    if (pool_.size() < kMax) {
      try {
        pool_.push_back(std::move(b));
      } catch (...) {
        // Could not keep it: it is freed on return.
      }
    }
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<Buffers>> pool_;  // guarded by mu_
};

}  // namespace sluice::plugins::channeltx
