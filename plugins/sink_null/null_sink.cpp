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
  sdk::SinkBatch batch(*this, batchSize_);
  if (!batch.ok()) return deliveryFailed(batch.error());  // rolled back
  // An empty channel: let the runner back off. A short batch still did work: READY.
  if (batch.empty()) return sdk::Status::BACKOFF;
  if (sdk::Result r = batch.commit(); !r)
    return deliveryFailed("Failed to commit the take transaction: " + r.error());
  return sdk::Status::READY;
}

}  // namespace sluice::plugins::null
