#include "my_sink.hpp"

#include <exception>
#include <span>

namespace example {

namespace sdk = sluice::sdk;

sdk::Schema MySink::schema() {
  return {
      sdk::Key("prefix").string().doc("Text written before each event body"),
      sdk::Key("suffix").string().doc("Text written after each event body"),
      sdk::Key("batchSize").integer().def("100").range(1, 100000).doc(
          "Most events taken from the channel in one transaction"),
  };
}

void MySink::configure(const sdk::Context& context) {
  prefix_ = context.getString("prefix", "");
  suffix_ = context.getString("suffix", "");
  const int32_t batchSize = context.getInteger("batchSize", 100);
  if (batchSize < 1) context.fail("batchSize", "must be >= 1");
  batchSize_ = static_cast<std::size_t>(batchSize);
}

void MySink::start() {
  logger().info("writing with prefix '", prefix_, "' and suffix '", suffix_, "'");
}

void MySink::stop() {
  logger().info("stopped after ", sinkCounter().getEventDrainSuccessCount(), " events");
}

void MySink::write(const sdk::Event& event) {
  line_.clear();
  line_.append(prefix_).append(event.getBody()).append(suffix_);
  logger().info(line_);
}

sdk::Status MySink::process() {
  sdk::Channel* channel = getChannel();
  // Begins a transaction; its destructor rolls back unless commit() succeeded, so every early
  // return below leaves the events in the channel for the next attempt.
  sdk::TransactionGuard tx(*channel);

  // The taken events stay owned by the transaction until it ends; `batch` views them.
  std::span<sdk::Event> batch;
  sdk::Result taken = tx->takeBatch(batchSize_, batch);
  if (!taken) {
    sinkCounter().incrementChannelReadFail();
    return deliveryFailed("cannot take from channel " + channel->getName() + ": " + taken.error());
  }
  sinkCounter().countBatch(batch.size(), batchSize_);
  if (batch.empty()) {
    // Nothing to do: close the empty transaction and let the runner back off.
    (void)tx.commit();
    return sdk::Status::BACKOFF;
  }

  const auto n = static_cast<int64_t>(batch.size());
  sinkCounter().addToEventDrainAttemptCount(n);
  try {
    for (const sdk::Event& event : batch) write(event);
  } catch (const std::exception& e) {
    sinkCounter().incrementEventWriteFail();
    tx.rollback();  // the whole batch goes back to the head of the channel, in order
    return deliveryFailed(std::string("write failed, batch rolled back: ") + e.what());
  }

  sdk::Result committed = tx.commit();
  if (!committed) {
    // The guard rolls back; the events are written again later (at-least-once, as in Flume).
    return deliveryFailed("commit failed: " + committed.error());
  }
  sinkCounter().addToEventDrainSuccessCount(n);
  return sdk::Status::READY;
}

}  // namespace example
