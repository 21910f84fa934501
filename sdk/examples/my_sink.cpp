#include "my_sink.hpp"

#include <exception>

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
  // Begins a transaction on the sink's channel and takes up to batchSize events, counting the
  // batch as Flume's sinks do. Until commit() succeeds the events stay in the channel: every
  // early return below rolls them back, to be taken again.
  sdk::SinkBatch batch(*this, batchSize_);
  if (!batch.ok()) return deliveryFailed(batch.error());
  // Nothing to do (the empty take is already committed): let the runner wait for events.
  if (batch.empty()) return sdk::Status::BACKOFF;

  // The taken events stay owned by the transaction until it ends; events() views them.
  try {
    for (const sdk::Event& event : batch.events()) write(event);
  } catch (const std::exception& e) {
    sinkCounter().incrementEventWriteFail();
    batch.rollback();  // the whole batch goes back to the head of the channel, in order
    return deliveryFailed(std::string("write failed, batch rolled back: ") + e.what());
  }

  if (sdk::Result committed = batch.commit(); !committed) {
    // The events are written again later (at-least-once, as in Flume).
    return deliveryFailed("commit failed: " + committed.error());
  }
  return sdk::Status::READY;
}

}  // namespace example
