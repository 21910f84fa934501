#pragma once
// Hot reload of a running pipeline, in two phases:
//  1. plan (reload_plan.hpp) and build the new pipeline beside the running one, sharing the
//     components the plan keeps. Nothing running is touched; a failure here (a bad key, a
//     configure() that fails, an exception) refuses the reload.
//  2. switch over: stop the replaced and removed sources and sinks, start the new channels and
//     sinks, move the events of each replaced channel into its successor, start the new sources,
//     then swap the pipelines and stop the old channels. A failure at any step (a start() that
//     fails, an exception such as bad_alloc or one from a channel's getTransaction()) rolls
//     back: the new components stop, events moved into a new channel go back (or are delivered
//     by its sinks first), and the stopped old components start again.
// Kept components are never stopped, moved or rebuilt in either phase, and the running pipeline
// is only ever replaced by a whole new one.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/fwd.h>

#include "core/config/diagnostics.hpp"
#include "core/config/model.hpp"
#include "core/runtime/lifecycle.hpp"
#include "core/runtime/pipeline.hpp"
#include "core/runtime/pipeline_builder.hpp"

namespace sluice::core {

struct ReloadHost {
  const PluginRegistry& registry;
  LogHub& logs;
  const Lifecycle& lifecycle;
  std::shared_ptr<spdlog::logger> log;
  PipelineBuilder::Options build;  // its `step` is also called before each switch-over step
  std::chrono::milliseconds drainTimeout;
};

// Applies `cfg` to `running`, whose components run. Returns true when `running` now holds and
// runs the new pipeline, and sets `kept` to what kept running ("channel:c1", ...). Returns false
// when the reload was refused or rolled back: `running` then holds the previous pipeline,
// running again, and diags says why. Never throws.
bool reloadPipeline(Pipeline& running, const AgentConfig& cfg, const ReloadHost& host,
                    Diagnostics& diags, std::vector<std::string>& kept) noexcept;

// Moves the events of `from` into `to`, 100 per take/put transaction pair, until `from` is empty
// or the deadline passes; `beforeBatch` runs before each pair. Returns how many moved. A failed
// put is retried (a full `to` is waited out: its sinks make room); an exception (from
// getTransaction(), or bad_alloc) propagates after the open take rolled back, so an event is
// always in one of the two channels.
int64_t moveEvents(sdk::Channel& from, sdk::Channel& to, ChannelWaker* toWaker,
                   std::chrono::steady_clock::time_point deadline,
                   const std::function<void()>& beforeBatch = {});

}  // namespace sluice::core
