#include "my_source.hpp"

#include <algorithm>

namespace example {

namespace sdk = sluice::sdk;

sdk::Schema MySource::schema() {
  return {
      sdk::Key("prefix").string().req().doc("Text put before the counter in every event body"),
      sdk::Key("totalEvents").longValue().def("10").atLeast(0).doc(
          "How many events to emit in all; then the source backs off"),
      sdk::Key("batchSize").integer().def("1").range(1, 100000).doc(
          "Events handed to the channel processor per process() call"),
  };
}

void MySource::configure(const sdk::Context& context) {
  // The host has already checked types and ranges against schema(); checking again here keeps
  // the source correct when it is configured without a host (unit tests).
  prefix_ = context.requireString("prefix");
  totalEvents_ = context.getLong("totalEvents", 10);
  if (totalEvents_ < 0) context.fail("totalEvents", "must be >= 0");
  batchSize_ = context.getInteger("batchSize", 1);
  if (batchSize_ < 1) context.fail("batchSize", "must be >= 1");
}

void MySource::start() {
  // Safe to call again after stop(): the sequence continues where it stopped.
  batch_.reserve(static_cast<std::size_t>(batchSize_));
  logger().info("emitting ", totalEvents_, " events with prefix '", prefix_, "' in batches of ",
                batchSize_);
}

void MySource::stop() { logger().info("stopped after ", counter_, " events"); }

sdk::Status MySource::process() {
  if (counter_ >= totalEvents_) return sdk::Status::BACKOFF;  // done: nothing more to emit

  const int64_t n = std::min(batchSize_, totalEvents_ - counter_);
  batch_.clear();
  for (int64_t i = 0; i < n; ++i) batch_.emplace_back(prefix_ + std::to_string(counter_ + i));

  sourceCounter().addToEventReceivedCount(n);
  sourceCounter().incrementAppendBatchReceivedCount();
  // The processor runs the interceptors and puts the batch into the channels in one transaction
  // per channel; on return the batch is empty either way.
  sdk::Result r = getChannelProcessor().processEventBatch(batch_);
  if (!r) {
    sourceCounter().incrementChannelWriteFail();
    // counter_ stays put: the same numbers are emitted again after the back-off.
    return deliveryFailed("channel did not accept events " + std::to_string(counter_) + ".." +
                          std::to_string(counter_ + n - 1) + ": " + r.error());
  }
  counter_ += n;
  sourceCounter().addToEventAcceptedCount(n);
  sourceCounter().incrementAppendBatchAcceptedCount();
  return sdk::Status::READY;
}

}  // namespace example
