#pragma once
// Handing a source's batch to its channels with Flume's SourceCounter bookkeeping, which every
// batch-putting source (taildir, spooldir, netcat, kafka, seq, stress) did in its own copy.
// Header-only.

#include <cstdint>

#include "sluice/sdk/counters.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/result.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::plugins::sources {

// Puts the batch as one appendBatch: EventReceivedCount and AppendBatchReceivedCount first, then
// EventAcceptedCount and AppendBatchAcceptedCount when the channels took it, ChannelWriteFail
// when they refused it. The batch is empty afterwards either way (the processor consumes it).
inline sdk::Result putBatch(sdk::ChannelProcessor& processor, sdk::SourceCounter& counter,
                            sdk::EventBatch& batch) noexcept {
  const auto n = static_cast<int64_t>(batch.size());
  counter.addToEventReceivedCount(n);
  counter.incrementAppendBatchReceivedCount();
  sdk::Result r = processor.processEventBatch(batch);
  batch.clear();
  if (r) {
    counter.addToEventAcceptedCount(n);
    counter.incrementAppendBatchAcceptedCount();
  } else {
    counter.incrementChannelWriteFail();
  }
  return r;
}

// The events of one RPC call (the avro and thrift sources): as Flume's RPC sources count an
// append (single = true: AppendReceivedCount, AppendAcceptedCount) or an appendBatch, with its
// events. An empty call commits nothing and is accepted. The batch is empty afterwards.
inline sdk::Result putCall(sdk::ChannelProcessor& processor, sdk::SourceCounter& counter,
                           sdk::EventBatch& batch, bool single) noexcept {
  const auto n = static_cast<int64_t>(batch.size());
  if (single)
    counter.incrementAppendReceivedCount();
  else
    counter.incrementAppendBatchReceivedCount();
  counter.addToEventReceivedCount(n);
  sdk::Result r;
  if (n > 0) r = processor.processEventBatch(batch);
  batch.clear();
  if (r) {
    if (single)
      counter.incrementAppendAcceptedCount();
    else
      counter.incrementAppendBatchAcceptedCount();
    counter.addToEventAcceptedCount(n);
  } else {
    counter.incrementChannelWriteFail();
  }
  return r;
}

}  // namespace sluice::plugins::sources
