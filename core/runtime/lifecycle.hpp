#pragma once
// Starts and stops the components of a pipeline in Flume's order: channels, then sinks with
// their runners, then sources; stopping goes the other way. Each function skips what is already
// in the wanted state, so it may run on a whole pipeline, on the part of one that a reload
// changes, or again after a partial failure.
//
// Runs on the host's control thread. Start failures come back as a Result naming the component
// ("a1.sinks.k1 failed to start: ..."); stop failures are logged.

#include <chrono>
#include <memory>
#include <string>

#include <spdlog/fwd.h>

#include "core/log/logging.hpp"
#include "core/runtime/pipeline.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::core {

class Lifecycle {
 public:
  Lifecycle(LogHub& logs, std::shared_ptr<spdlog::logger> log)
      : logs_(logs), log_(std::move(log)) {}

  // Channels, then sinks, then the sink runners that are not running yet.
  sdk::Result startChannelsAndSinks(Pipeline& p) const;
  // Interceptors, then the source, then a pollable source's runner.
  sdk::Result startSources(Pipeline& p) const;

  void stopSources(Pipeline& p) const;
  // Stops the sink runners, each after its channels are drained or `drain` passed, then the sinks.
  void stopSinks(Pipeline& p, std::chrono::milliseconds drain) const;
  void stopChannels(Pipeline& p) const;

  // One channel of agent `agent` (a reload hands a durable channel's directories over).
  sdk::Result startChannel(const std::string& agent, ChannelEntry& c) const;
  void stopChannel(const std::string& agent, ChannelEntry& c) const;

 private:
  LogHub& logs_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace sluice::core
