#pragma once
// Flume's LoggerSink: logs every event at INFO through the host's logger, with the body shown
// as a hex dump the way Flume's EventHelper.dumpEvent shows it. For testing and debugging.

#include <cstddef>
#include <string>

#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/sink.hpp"

namespace sluice::plugins::logger {

const sdk::Schema& loggerSinkSchema();

// Appends Flume's rendering of an event: "{ headers:{k=v, k2=v2} body: 31 32 33 ... 123 }".
// The body is cut to maxBytes and dumped as commons-io HexDump does (16 bytes a line: offset,
// hex bytes, printable characters), with the first line's offset removed.
void appendEventDump(std::string& out, const sdk::Event& event, std::size_t maxBytes);

class LoggerSink final : public sdk::AbstractSink {
 public:
  void configure(const sdk::Context& context) override;
  // Sink runner thread: takes up to batchSize events in one transaction, logs each, commits.
  sdk::Status process() override;

 private:
  std::size_t maxBytesToLog_ = 16;
  std::size_t batchSize_ = 100;
  std::string line_;  // reused for every log line
};

}  // namespace sluice::plugins::logger
