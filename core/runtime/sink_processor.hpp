#pragma once
// Sink processors decide which sink of a group handles the next batch (Flume's SinkProcessor).
// A lone sink runs under DefaultSinkProcessor. Built in here rather than as plugins because
// they hold references into the runtime's sinks; their keys are Flume's.

#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <spdlog/fwd.h>

#include "core/config/diagnostics.hpp"
#include "core/plugin/registry.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/sink.hpp"
#include "sluice/sdk/sink_selector.hpp"

namespace sluice::core {

class SinkProcessor {
 public:
  virtual ~SinkProcessor() = default;
  // Runs on the group's SinkRunner thread only.
  virtual sdk::ProcessOutcome process() = 0;
  const std::vector<sdk::Sink*>& sinks() const { return sinks_; }

 protected:
  std::vector<sdk::Sink*> sinks_;
};

// Makes a plugin sink selector for load_balance: `type` is the processor.selector value (not
// round_robin or random, which are built in), `context` its "processor.selector." keys, stripped.
// The selector comes back configured, with setSinks() done; nullptr after reporting to diags.
using SinkSelectorFactory = std::function<PluginPtr<sdk::SinkSelector>(
    const std::string& type, const sdk::Context& context, const std::vector<sdk::Sink*>& sinks,
    Diagnostics& diags)>;

// Creates the processor for a group. type: default | failover | load_balance (case-insensitive,
// Flume class names accepted). context holds the group's "processor." keys, stripped.
// Returns nullptr and reports to diags on a bad configuration.
std::unique_ptr<SinkProcessor> makeSinkProcessor(const std::string& type, const sdk::Context& context,
                                                 std::vector<sdk::Sink*> sinks,
                                                 const std::shared_ptr<spdlog::logger>& log,
                                                 Diagnostics& diags,
                                                 const SinkSelectorFactory& makeSelector = {});

}  // namespace sluice::core
