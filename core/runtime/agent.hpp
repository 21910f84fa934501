#pragma once
// One agent: builds the components of an AgentConfig through the plugin registry, wires them,
// and runs them. Start order: channels, sinks, sources. Stop order: sources, then sinks after
// draining what their channels hold (bounded), then channels.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/fwd.h>

#include "core/config/model.hpp"
#include "core/log/logging.hpp"
#include "core/plugin/registry.hpp"
#include "core/runtime/channel_processor.hpp"
#include "core/runtime/channel_waker.hpp"
#include "core/runtime/runners.hpp"
#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/sink.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::core {

struct AgentOptions {
  // Flume's behaviour: drop a broken component (and what depends on it) and start the rest.
  bool lenient = false;
  std::chrono::milliseconds drainTimeout{5000};
  SinkRunner::Options sinkRunner;
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
  sdk::CounterGroup* group;  // nullptr when the component publishes no counters
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
  //
  // With `previous` (a running agent, for a reload), components whose configuration is
  // unchanged and whose dependencies are kept are moved over from it, still running, instead of
  // being built again. Call it only with a config that already built cleanly on its own.
  bool build(const AgentConfig& config, Diagnostics& diags, Agent* previous = nullptr);
  // Starts channels, sinks (with their runners), then sources. On a failure, stops what started
  // and returns the failure. Components adopted from a previous agent are already running.
  sdk::Result start();
  void stop();
  bool running() const { return running_; }

  // Applies a new configuration to a running agent without stopping the world: unchanged
  // channels keep their buffered events and unchanged sources and sinks keep running; changed
  // components (and those that depend on them) are replaced. Events in a replaced channel are
  // moved into its successor. The new config must be valid (checked by a dry build first);
  // if it is not, nothing changes and diags says why. If a new component then fails to start,
  // the reload is rolled back: the previous components run again and diags says why. Returns
  // the agent now running.
  static std::unique_ptr<Agent> reload(std::unique_ptr<Agent> current, const AgentConfig& config,
                                       Diagnostics& diags);

  std::vector<CounterView> counters() const;
  std::vector<ComponentView> components() const;
  std::vector<SinkRunnerView> sinkRunners() const;
  const AgentConfig& config() const { return config_; }
  const LogHub& logs() const { return logs_; }
  sdk::CounterGroup* counters(const std::string& kind, const std::string& name) const;
  const std::string& name() const { return config_.agent; }
  // Names of components this agent took over running from the previous one on its last build.
  const std::vector<std::string>& adopted() const { return adopted_; }

 private:
  // Each entry owns the loggers of its objects, declared first so that they are destroyed last.
  struct ChannelEntry {
    std::vector<std::unique_ptr<sdk::Logger>> loggers;
    std::string name, type, signature;
    PluginPtr<sdk::Channel> channel;
    std::unique_ptr<ChannelWaker> waker;
  };
  struct SinkEntry {
    std::vector<std::unique_ptr<sdk::Logger>> loggers;
    std::string name, type, channel, signature;
    PluginPtr<sdk::Sink> sink;
  };
  struct RunnerEntry {
    std::vector<std::unique_ptr<sdk::Logger>> loggers;  // first: outlives the runner's selector
    std::string name, signature;
    std::vector<std::string> sinks;
    std::unique_ptr<SinkRunner> runner;
    bool started = false;
  };
  struct SourceEntry {
    std::vector<std::unique_ptr<sdk::Logger>> loggers;
    std::string name, type, signature;
    std::vector<std::string> channels;
    PluginPtr<sdk::Source> source;
    std::unique_ptr<ChannelProcessorImpl> processor;
    std::unique_ptr<PollableSourceRunner> runner;
  };

  std::unique_ptr<sdk::Logger> makeLogger(const std::string& kind, const std::string& type,
                                          const std::string& name);
  void buildChannels(const AgentConfig& cfg, Diagnostics& diags, Agent* prev);
  void buildSinks(const AgentConfig& cfg, Diagnostics& diags, Agent* prev);
  void buildSources(const AgentConfig& cfg, Diagnostics& diags, Agent* prev);
  void buildSinkRunners(const AgentConfig& cfg, Diagnostics& diags, Agent* prev);
  void checkBatchSizes(const AgentConfig& cfg, Diagnostics& diags);
  ChannelEntry* channel(const std::string& name);
  bool isAdopted(const std::string& kind, const std::string& name) const;
  // Reports a component's problems: errors in strict mode, warnings plus dropping it when lenient.
  bool settle(const std::string& what, Diagnostics& local, Diagnostics& diags);

  // reload() after a failure: `next`'s components that were taken over from `current` go
  // back to it, the new ones stop, what `current` stopped starts again. Returns `current`.
  static std::unique_ptr<Agent> rollBack(std::unique_ptr<Agent> current, std::unique_ptr<Agent> next,
                                         const std::string& why, Diagnostics& diags);

  sdk::Result startChannelsAndSinks();
  sdk::Result startSources();
  void stopSources();
  void stopSinks(std::chrono::milliseconds drain);
  void stopChannels();

  PluginRegistry& registry_;
  LogHub& logs_;
  AgentOptions options_;
  AgentConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  bool running_ = false;
  std::vector<std::string> adopted_;

  // Destruction runs bottom-up: sources, runners and sinks go before the channels they use.
  std::vector<ChannelEntry> channels_;
  std::vector<SinkEntry> sinks_;
  std::vector<RunnerEntry> runners_;
  std::vector<SourceEntry> sources_;
};

// A stable text of a component's configuration (type and every key/value, without locations),
// used to tell which components a reload changes.
std::string configSignature(const ComponentConfig& c);

}  // namespace sluice::core
