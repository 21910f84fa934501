#pragma once
// Transaction bookkeeping shared by the channels (memory, file, spillable memory, kafka): the
// state of a transaction, staging a put batch, Flume's messages for a full put or take list, the
// pool of per-transaction staging buffers, and PooledTransaction, the sdk::Transaction the
// pooled channels share. What differs between channels (where committed events go) stays in
// each channel.
//
// Header-only: each channel .so compiles its own copy (see meson.build in this folder).
// Everything here is on the hot path: no allocation except growing a staging vector, no lock
// except the pool's (once per transaction, not per event).

#include <cstddef>
#include <iterator>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
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

// The sdk::Transaction of a channel that stages in pooled Buffers: the state checks at the top of
// every call, put staging, and the commit/rollback/close bookkeeping, written once. What happens
// to the events is the channel's, in Ops:
//
//   struct Ops {
//     using Buffers = ...;  // pooled staging: `sdk::EventBatch puts` and reset()
//     sdk::ChannelCounter& counter() noexcept;
//     void begin(Buffers&) noexcept;  // a new transaction: reset Ops' own state (puts are empty)
//     // Channel-specific checks of a put batch that passed checkPut(); on failure the batch is
//     // discarded.
//     sdk::Result admitPut(Buffers&, const sdk::EventBatch& events) noexcept;
//     // takeBatch() in an open transaction, max > 0.
//     sdk::Result take(Buffers&, std::size_t max, std::span<sdk::Event>& taken) noexcept;
//     // commit() of an open transaction. A failure leaves it open: the caller rolls back.
//     sdk::Result commit(Buffers&) noexcept;
//     // rollback() of an open transaction, after the staged puts were discarded: return the
//     // taken events to the head of the channel.
//     void rollback(Buffers&) noexcept;
//     // Optional: sdk::Transaction::putSourceState in an open transaction, for a channel that
//     // keeps source state (the file channel). Without it, the SDK's default refuses.
//     sdk::Result putSourceState(Buffers&, std::string_view key, std::string_view value) noexcept;
//   };
//
// Ops lives inside the transaction and is destroyed after it, so the destructor can still roll
// back through it. One thread at a time, as sdk::Transaction.
template <class Ops>
class PooledTransaction final : public sdk::Transaction {
 public:
  using Buffers = typename Ops::Buffers;

  template <class... A>
  PooledTransaction(BufferPool<Buffers>& pool, std::size_t txCapacity, A&&... opsArgs)
      : pool_(pool),
        buf_(pool.acquire()),
        txCapacity_(txCapacity),
        ops_(std::forward<A>(opsArgs)...) {}
  ~PooledTransaction() override {
    // A transaction dropped while open must not lose the events it took.
    if (state_ == TxState::kOpen) rollback();
    pool_.release(std::move(buf_));
  }

  void begin() noexcept override {
    if (state_ == TxState::kOpen) return;
    buf_->puts.clear();
    ops_.begin(*buf_);
    state_ = TxState::kOpen;
  }

  sdk::Result putBatch(sdk::EventBatch& events) noexcept override {
    sdk::Result check = checkPut(state_, buf_->puts, events, txCapacity_, ops_.counter());
    if (!check || events.empty()) return check;
    if (sdk::Result r = ops_.admitPut(*buf_, events); !r) {
      events.clear();
      return r;
    }
    return stagePut(buf_->puts, events);
  }

  sdk::Result putSourceState(std::string_view key, std::string_view value) noexcept override {
    if constexpr (requires(Ops & o, Buffers & b) { o.putSourceState(b, key, value); }) {
      if (state_ != TxState::kOpen) return notOpen("putSourceState");
      return ops_.putSourceState(*buf_, key, value);
    } else {
      return sdk::Transaction::putSourceState(key, value);
    }
  }

  sdk::Result takeBatch(std::size_t max, std::span<sdk::Event>& taken) noexcept override {
    taken = {};
    if (state_ != TxState::kOpen) return notOpen("takeBatch");
    if (max == 0) return sdk::Result::success();
    return ops_.take(*buf_, max, taken);
  }

  sdk::Result commit() noexcept override {
    if (state_ != TxState::kOpen) return notOpen("commit");
    sdk::Result r = ops_.commit(*buf_);
    if (r) state_ = TxState::kDone;
    return r;
  }

  void rollback() noexcept override {
    if (state_ != TxState::kOpen) return;
    buf_->puts.clear();  // uncommitted puts are discarded, as in Flume
    ops_.rollback(*buf_);
    state_ = TxState::kDone;
  }

  void close() noexcept override {
    if (state_ == TxState::kOpen) rollback();
    state_ = TxState::kClosed;
  }

 private:
  BufferPool<Buffers>& pool_;
  std::unique_ptr<Buffers> buf_;
  const std::size_t txCapacity_;
  TxState state_ = TxState::kNew;
  Ops ops_;
};

}  // namespace sluice::plugins::channeltx
