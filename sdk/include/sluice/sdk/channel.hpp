#pragma once
// Channels buffer events between sources and sinks. Every event enters a channel in a put
// transaction and leaves it in a take transaction; it is gone from the channel only when the take
// commits, so a sink that fails to write rolls back and the events are delivered again.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "sluice/sdk/component.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::sdk {

// One transaction on one channel, used by one thread: begin, then puts or takes, then commit or
// rollback, then close. Unlike Flume, put and take live on the transaction rather than on the
// channel with a thread-local transaction: the owner is explicit and no thread-local lookup
// happens per event.
//
// No method throws. Failures come back as Result; after a failed call the caller rolls back.
class SLUICE_SDK_API Transaction {
 public:
  virtual ~Transaction() = default;

  virtual void begin() noexcept = 0;
  // Moves every event of the batch into the transaction and leaves the vector empty (its
  // capacity kept for reuse). Fails when the batch would exceed transactionCapacity or the
  // channel's byte capacity; the events are then discarded and the caller rolls back and
  // re-reads its input. Events become visible to takers only on commit.
  virtual Result putBatch(EventBatch& events) noexcept = 0;
  // Takes up to max events from the head of the channel, oldest first. They stay owned by the
  // transaction until it ends, so that rollback() can put them back without a copy: `taken`
  // views the events this call took, and stays valid until the next takeBatch(), commit(),
  // rollback() or close(). commit() removes them for good; rollback() returns them to the head
  // of the channel, in order. A sink reads them and may change them; it must not move from an
  // event unless it then commits. An empty channel is success with an empty view; failure means
  // a channel error or more than transactionCapacity takes in one transaction.
  virtual Result takeBatch(std::size_t max, std::span<Event>& taken) noexcept = 0;
  // For puts: may wait up to the channel's keep-alive for space, then fails.
  virtual Result commit() noexcept = 0;
  virtual void rollback() noexcept = 0;
  virtual void close() noexcept = 0;

  // Flume has no such call. Records `value` under `key` (a source's full path, e.g.
  // "a1.sources.r1") in this put transaction: it becomes durable atomically with the commit and
  // is discarded by rollback(). A source that reads from a position (a SQL offset, a file offset)
  // passes its position after this batch here, so that after a crash the channel tells it exactly
  // where the committed events end (Channel::committedSourceState); saving the position only after
  // the commit leaves a window in which a kill -9 makes a restart send the batch again. At most
  // one value per key per transaction (a second call replaces the first); the value is per
  // transaction, not per event. Call it between begin() and commit(), with or without events.
  // A channel that keeps no durable state (memory, spillable, Kafka) keeps this default.
  virtual Result putSourceState(std::string_view key, std::string_view value) noexcept {
    (void)key;
    (void)value;
    return Result::failure("this channel keeps no source state");
  }

  Result put(Event&& event) noexcept {
    EventBatch one;
    try {
      one.push_back(std::move(event));
    } catch (...) {
      return Result::failure("out of memory");
    }
    return putBatch(one);
  }
};

// What a take would find right now, as far as a channel knows without waiting (Channel::backlog).
enum class Backlog : uint8_t {
  // Nothing to take. The sink runner may then sleep until the next put this agent makes to the
  // channel (or its back-off time passes).
  Empty,
  // Committed events are waiting.
  Events,
  // The channel cannot tell cheaply, e.g. because its events arrive from outside this agent
  // (Kafka). Its takeBatch() must then wait for events itself (a poll timeout), since the sink
  // runner calls it again at once rather than sleeping.
  Unknown,
};

// Flume's org.apache.flume.Channel. getTransaction() may be called from many threads at once.
class SLUICE_SDK_API Channel : public Component {
 public:
  virtual std::unique_ptr<Transaction> getTransaction() = 0;
  // Flume has no such call: the sink runner asks it after an empty or short take to decide
  // whether to take again at once or to sleep until the next put. Called from any thread, often:
  // it must not lock, allocate or do I/O (read an atomic the channel keeps up to date per batch).
  virtual Backlog backlog() const noexcept = 0;
  // Flume has no such call. True when Transaction::putSourceState works on this channel, i.e. it
  // keeps source state durably (the file channel). The host asks it to know which channels must
  // agree on a source's state, and to skip state-only transactions on channels that keep none.
  // Constant over the channel's life; cheap.
  virtual bool keepsSourceState() const noexcept { return false; }
  // Flume has no such call. The value that the last committed put transaction carrying `key`
  // recorded with Transaction::putSourceState; a durable channel keeps it across restarts (its
  // replay restores it), so a source can resume exactly after the events the channel holds or
  // has delivered. False when the channel never committed a value for the key or keeps none.
  // Called from any thread once the channel has started, outside the data path (a source asks
  // it once when it starts).
  virtual bool committedSourceState(std::string_view key, std::string& out) const noexcept {
    (void)key;
    (void)out;
    return false;
  }

  ChannelCounter& channelCounter() noexcept { return counter_; }
  const ChannelCounter& channelCounter() const noexcept { return counter_; }
  CounterGroup* counters() noexcept override { return &counter_; }

 private:
  ChannelCounter counter_;
};

// Begins a transaction and rolls it back on scope exit unless commit() succeeded:
//
//   TransactionGuard tx(*getChannel());
//   std::span<Event> batch;
//   if (!tx->takeBatch(n, batch)) return deliveryFailed("take failed");  // destructor rolls back
//   ... write batch ...
//   if (!tx.commit()) return deliveryFailed("commit failed");
class SLUICE_SDK_API TransactionGuard {
 public:
  explicit TransactionGuard(Channel& channel) : tx_(channel.getTransaction()) { tx_->begin(); }
  TransactionGuard(const TransactionGuard&) = delete;
  TransactionGuard& operator=(const TransactionGuard&) = delete;
  ~TransactionGuard() {
    if (!done_) tx_->rollback();
    tx_->close();
  }

  Transaction* operator->() const noexcept { return tx_.get(); }
  Transaction& get() const noexcept { return *tx_; }

  Result commit() noexcept {
    Result r = tx_->commit();
    if (r) done_ = true;
    return r;
  }
  void rollback() noexcept {
    if (!done_) tx_->rollback();
    done_ = true;
  }

 private:
  std::unique_ptr<Transaction> tx_;
  bool done_ = false;
};

}  // namespace sluice::sdk
