#pragma once
// Flume's NullSink: takes events and discards them. For benchmarks and for draining a channel.

#include <cstddef>

#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/sink.hpp"

namespace sluice::plugins::null {

const sdk::Schema& nullSinkSchema();

class NullSink final : public sdk::AbstractSink {
 public:
  void configure(const sdk::Context& context) override;
  // Sink runner thread: takes up to batchSize events in one transaction and commits. The
  // channel owns the taken events and destroys them at commit; nothing is copied or allocated
  // here beyond the transaction object.
  sdk::Status process() override;

 private:
  std::size_t batchSize_ = 100;
};

}  // namespace sluice::plugins::null
