#pragma once
// Sinks take events from one channel and write them out, as in Flume.

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/component.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::sdk {

// A SinkRunner thread calls process() in a loop (through a sink processor when the sink is in a
// group). process() takes a batch in one transaction, writes it, and commits only after the write
// succeeded; on failure it rolls back and returns BACKOFF. SinkBatch (below) does the take and
// its counting the way every sink needs it.
class SLUICE_SDK_API Sink : public Component {
 public:
  virtual Status process() = 0;

  // Set by the host before configure(); outlives the sink.
  Channel* getChannel() const noexcept { return channel_; }

 protected:
  // The non-throwing way to report a failed delivery: `return deliveryFailed("disk full");`
  // after rolling back. Same effect as throwing EventDeliveryException.
  Status deliveryFailed(std::string why) { return delivery_.fail(logger(), std::move(why)); }

 private:
  friend struct HostAccess;
  friend class SinkBatch;
  detail::Delivery delivery_;
  Channel* channel_ = nullptr;
};

// Flume's AbstractSink, with its SinkCounter.
class SLUICE_SDK_API AbstractSink : public Sink {
 public:
  SinkCounter& sinkCounter() noexcept { return counter_; }
  CounterGroup* counters() noexcept override { return &counter_; }

 private:
  SinkCounter counter_;
};

// One take of a sink's process(), counted as Flume's sinks count it in their SinkCounter. The
// constructor begins a transaction on the sink's channel and takes up to batchSize events: it
// counts the batch as empty, short or complete (BatchEmptyCount, BatchUnderflowCount,
// BatchCompleteCount) and its events in EventDrainAttemptCount; an empty take is committed at
// once; a failed take counts ChannelReadFail. commit() adds EventDrainSuccessCount, or counts
// ChannelReadFail when the commit fails. Until commit() succeeds the events stay in the channel:
// the destructor (or rollback()) puts them back, in order, to be taken again.
//
//   sdk::SinkBatch batch(*this, batchSize_);
//   if (!batch.ok()) return deliveryFailed(batch.error());   // rolled back
//   if (batch.empty()) return sdk::Status::BACKOFF;
//   ... write batch.events(); on error: return deliveryFailed(...), which rolls back ...
//   if (sdk::Result r = batch.commit(); !r) return deliveryFailed("commit failed: " + r.error());
//   return sdk::Status::READY;
//
// The events are owned by the transaction: a sink may change them, and moves from them only if
// it then commits. Used on the sink's runner thread, like process().
class SLUICE_SDK_API SinkBatch {
 public:
  // May throw what Channel::getTransaction() throws (bad_alloc); process() lets it through.
  SinkBatch(AbstractSink& sink, std::size_t batchSize) : sink_(sink) {
    SinkCounter& counter = sink.sinkCounter();
    Channel* channel = sink.getChannel();
    if (channel == nullptr) {
      error_ = "no channel attached to sink '" + sink.getName() + "'";
      return;
    }
    tx_ = channel->getTransaction();
    tx_->begin();
    if (Result r = tx_->takeBatch(batchSize, events_); !r) {
      counter.incrementChannelReadFail();
      error_ = "cannot take from channel '" + channel->getName() + "': " + r.error();
      events_ = {};
      return;
    }
    counter.countBatch(events_.size(), batchSize);
    sink.delivery_.noteTaken(events_.size());
    if (!events_.empty()) {
      counter.addToEventDrainAttemptCount(static_cast<int64_t>(events_.size()));
    } else if (Result r = commitTx(); !r) {
      counter.incrementChannelReadFail();
      error_ =
          "cannot commit an empty take from channel '" + channel->getName() + "': " + r.error();
    }
  }
  SinkBatch(const SinkBatch&) = delete;
  SinkBatch& operator=(const SinkBatch&) = delete;
  ~SinkBatch() {
    if (!tx_) return;
    if (!done_) tx_->rollback();
    tx_->close();
  }

  // False when the take failed (error() says why; nothing is taken).
  bool ok() const noexcept { return error_.empty(); }
  const std::string& error() const noexcept { return error_; }
  std::span<Event> events() const noexcept { return events_; }
  std::size_t size() const noexcept { return events_.size(); }
  bool empty() const noexcept { return events_.empty(); }

  // Commits the take: the events leave the channel for good. `delivered` is what
  // EventDrainSuccessCount grows by (all the events unless the sink dropped some on purpose).
  Result commit() noexcept { return commit(events_.size()); }
  Result commit(std::size_t delivered) noexcept {
    Result r = commitTx();
    if (r)
      sink_.sinkCounter().addToEventDrainSuccessCount(static_cast<int64_t>(delivered));
    else
      sink_.sinkCounter().incrementChannelReadFail();
    return r;
  }
  // Puts the events back at the head of the channel at once (the destructor would, later).
  void rollback() noexcept {
    if (tx_ && !done_) tx_->rollback();
    done_ = true;
  }

 private:
  Result commitTx() noexcept {
    if (!tx_ || done_) return Result::failure("the take is already finished");
    Result r = tx_->commit();
    if (r) done_ = true;
    return r;
  }

  AbstractSink& sink_;
  std::unique_ptr<Transaction> tx_;
  std::span<Event> events_;
  std::string error_;
  bool done_ = false;
};

}  // namespace sluice::sdk
