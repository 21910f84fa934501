#pragma once
// Builds a Pipeline from an AgentConfig: every component through the ComponentFactory, wired to
// each other (sinks to their channels, sources to their channel processors, sink runners to
// their sinks), plus the checks that span components (batch sizes against channels). Nothing is
// started.

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <spdlog/fwd.h>

#include "core/config/diagnostics.hpp"
#include "core/config/model.hpp"
#include "core/log/logging.hpp"
#include "core/runtime/component_factory.hpp"
#include "core/runtime/pipeline.hpp"
#include "core/runtime/reload_plan.hpp"
#include "core/runtime/runners.hpp"

namespace sluice::core {

class PipelineBuilder {
 public:
  struct Options {
    // Flume's behaviour: drop a broken component (and what depends on it) and build the rest.
    bool lenient = false;
    SinkRunner::Options sinkRunner;
    // A key no schema knows is an error even in a Flume .properties config (--strict).
    bool strict = false;
    // Called with a step's name before each component is built (see AgentOptions).
    const std::function<void(const std::string&)>* step = nullptr;
  };

  PipelineBuilder(const PluginRegistry& registry, LogHub& logs, Options options)
      : factory_(registry, logs), registry_(registry), logs_(logs), options_(options) {}

  // Builds `cfg` into `out` (which must be empty). Returns false when diags has errors.
  //
  // With `running` and `plan` (a hot reload), the components the plan keeps are shared with the
  // running pipeline, still running, instead of being built; `running` is not changed.
  bool build(const AgentConfig& cfg, Diagnostics& diags, Pipeline& out,
             const Pipeline* running = nullptr, const ReloadPlan* plan = nullptr);

 private:
  void buildChannels(Diagnostics& diags);
  void buildSinks(Diagnostics& diags);
  void buildSources(Diagnostics& diags);
  std::shared_ptr<SourceEntry> buildSource(const SourceConfig& s, Diagnostics& local);
  void buildSinkRunners(Diagnostics& diags);
  bool buildGroupRunner(const SinkGroupConfig& g, Diagnostics& local);
  // Each source's and sink's batch sizes against its channels' transactionCapacity, by
  // component ("source:r1"): Flume 1.11 drops such a component, so they settle with it.
  void checkBatchSizes();
  // Moves `key`'s batch-size problems into `local`.
  void takeBatchProblems(const std::string& key, Diagnostics& local);
  // --lenient: a channel nothing is connected to any more is removed, as Flume removes it.
  void dropIdleChannels(Diagnostics& diags);
  // With a plan that keeps `name`: shares the running entry into the new pipeline, returns true.
  template <class Entry>
  bool shareKept(std::vector<std::shared_ptr<Entry>> Pipeline::*list,
                 std::vector<ReloadPlan::Item> ReloadPlan::*items, std::string_view name);
  // Reports a component's problems: errors in strict mode, warnings plus dropping it when lenient.
  bool settle(const std::string& what, Diagnostics& local, Diagnostics& diags) const;
  void step(const std::string& what) const {
    if (options_.step && *options_.step) (*options_.step)("build " + what);
  }

  ComponentFactory factory_;
  const PluginRegistry& registry_;
  LogHub& logs_;
  Options options_;
  // The build in progress.
  const AgentConfig* cfg_ = nullptr;
  Pipeline* out_ = nullptr;
  const Pipeline* running_ = nullptr;
  const ReloadPlan* plan_ = nullptr;
  std::map<std::string, std::vector<std::string>> batchProblems_;
};

}  // namespace sluice::core
