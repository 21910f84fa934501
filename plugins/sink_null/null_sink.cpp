#include "null_sink.hpp"

#include <span>
#include <string>

#include "config_keys.hpp"

namespace sluice::plugins::null {

const sdk::Schema& nullSinkSchema() {
  static const sdk::Schema schema{
      sdk::Key("batchSize")
          .integer()
          .def("100")
          .range(1, 2147483647)
          .doc("Maximum number of events taken and discarded per transaction"),
  };
  return schema;
}

void NullSink::configure(const sdk::Context& context) {
  batchSize_ = static_cast<std::size_t>(requireInteger(context, "batchSize"));
}

sdk::Status NullSink::process() {
  sdk::Channel* channel = getChannel();
  if (channel == nullptr) return deliveryFailed("no channel attached to sink " + getName());
  sdk::SinkCounter& counter = sinkCounter();
  sdk::TransactionGuard tx(*channel);
  std::span<sdk::Event> batch;
  if (sdk::Result r = tx->takeBatch(batchSize_, batch); !r) {
    counter.incrementChannelReadFail();
    return deliveryFailed("Failed to take events from channel: " + r.error());  // rolls back
  }
  const auto n = static_cast<int64_t>(batch.size());
  counter.countBatch(batch.size(), batchSize_);
  counter.addToEventDrainAttemptCount(n);
  if (sdk::Result r = tx.commit(); !r) {
    counter.incrementChannelReadFail();
    return deliveryFailed("Failed to commit the take transaction: " + r.error());
  }
  counter.addToEventDrainSuccessCount(n);
  // An empty channel: let the runner back off. A short batch still did work: READY.
  return n == 0 ? sdk::Status::BACKOFF : sdk::Status::READY;
}

}  // namespace sluice::plugins::null
