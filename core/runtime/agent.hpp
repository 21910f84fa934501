#pragma once
// One agent: the pipeline of one AgentConfig (pipeline_builder.hpp builds it), run in Flume's
// order (lifecycle.hpp: channels, sinks, sources; stopping sources, then sinks after draining
// what their channels hold, bounded, then channels), reloaded in place (reload.hpp), and read by
// monitoring through the views below.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/fwd.h>

#include "core/config/model.hpp"
#include "core/log/logging.hpp"
#include "core/plugin/registry.hpp"
#include "core/runtime/channel_processor.hpp"
#include "core/runtime/lifecycle.hpp"
#include "core/runtime/pipeline.hpp"
#include "core/runtime/pipeline_builder.hpp"
#include "core/runtime/runners.hpp"
#include "sluice/sdk/component.hpp"

namespace sluice::core {

struct AgentOptions {
  // Flume's behaviour: drop a broken component (and what depends on it) and start the rest.
  bool lenient = false;
  // A key no schema knows is an error in a Flume .properties config too (it always is in TOML):
  // --strict, for CI pipelines. Reloads are held to it as well.
  bool strict = false;
  std::chrono::milliseconds drainTimeout{5000};
  SinkRunner::Options sinkRunner;
  // Tests only: called with each step's name before the step, in every reload (building each
  // new component, stopping, starting, moving each batch of events...). Throwing from it
  // simulates a failure there, such as std::bad_alloc; the reload must then leave the previous
  // pipeline running with every committed event. Not owned: it must outlive the agent.
  const std::function<void(const std::string& step)>* reloadStepHook = nullptr;
};

// A component's counters, named as Flume's monitoring names them ("SOURCE", "r1").
struct CounterView {
  std::string kind;  // SOURCE, CHANNEL, SINK
  std::string name;
  std::string type;
  sdk::CounterGroup* group;
};

// Read-only views for monitoring (core/monitoring). Pointers are valid while the agent lives and
// is not rebuilt; the caller keeps the agent from being started, reloaded or stopped meanwhile.
struct ComponentView {
  std::string kind;  // SOURCE, CHANNEL, SINK
  std::string name;
  std::string type;
  std::vector<std::string> channels;  // a source's channels, a sink's channel
  const sdk::Component* component;
  sdk::CounterGroup* group;                      // nullptr when the component publishes no counters
  const ChannelProcessorImpl* channelProcessor;  // a source's (its interceptors' counters)
};
struct SinkRunnerView {
  std::string name;  // the sink group's name, or the lone sink's
  bool group;
  std::string processorType;  // as configured: default, failover, load_balance...
  std::vector<std::string> sinks;
  const SinkRunner* runner;
  bool started;
};

class Agent {
 public:
  Agent(PluginRegistry& registry, LogHub& logs, AgentOptions options = {});
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Checks and builds everything (types, schemas, cross-component rules, configure()). Nothing
  // runs yet. Returns false when diags has errors; the agent must then not be started.
  bool build(const AgentConfig& config, Diagnostics& diags);
  // Starts channels, sinks (with their runners), then sources. On a failure, stops what started
  // and returns the failure.
  sdk::Result start();
  void stop();
  bool running() const { return running_; }

  // Applies a new configuration to the running agent without stopping the world (reload.hpp):
  // unchanged channels keep their buffered events and unchanged sources and sinks keep
  // running; changed components (and those that depend on them) are replaced, and the events
  // of a replaced channel move into its successor. A config that does not build changes
  // nothing; one whose new components fail to start, or any other failure on the way, is
  // rolled back to the previous components, running again. diags says why in both cases.
  // Returns true when the new configuration runs. Never throws, and the agent always stays.
  bool reload(const AgentConfig& config, Diagnostics& diags) noexcept;

  std::vector<CounterView> counters() const;
  std::vector<ComponentView> components() const;
  std::vector<SinkRunnerView> sinkRunners() const;
  // The service watchdog's liveness check (AgentLoop): the first runner whose current process()
  // call has run longer than `limit` ("sink runner k1", "source runner r1"), or empty when none.
  // Event-driven sources run their own threads and are not covered. Same rule as the views.
  std::string stalledRunner(std::chrono::nanoseconds limit) const;
  const AgentConfig& config() const { return pipeline_.config; }
  const LogHub& logs() const { return logs_; }
  sdk::CounterGroup* counters(const std::string& kind, const std::string& name) const;
  const std::string& name() const { return pipeline_.config.agent; }
  // What kept running through the last successful reload ("channel:c1", "sink:k1", "source:r1",
  // "runner:sink:k1"); empty after build().
  const std::vector<std::string>& adopted() const { return adopted_; }

 private:
  PipelineBuilder::Options builderOptions() const;

  PluginRegistry& registry_;
  LogHub& logs_;
  AgentOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  Lifecycle lifecycle_;
  bool running_ = false;
  std::vector<std::string> adopted_;
  Pipeline pipeline_;
};

}  // namespace sluice::core
