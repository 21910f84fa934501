#include "core/runtime/agent.hpp"

#include <spdlog/spdlog.h>

#include "core/runtime/reload.hpp"

namespace sluice::core {

Agent::Agent(PluginRegistry& registry, LogHub& logs, AgentOptions options)
    : registry_(registry),
      logs_(logs),
      options_(options),
      log_(logs.core("agent")),
      lifecycle_(logs, log_) {}

Agent::~Agent() { stop(); }

PipelineBuilder::Options Agent::builderOptions() const {
  PipelineBuilder::Options o{options_.lenient, options_.sinkRunner, options_.strict};
  o.step = options_.reloadStepHook;
  return o;
}

bool Agent::build(const AgentConfig& cfg, Diagnostics& diags) {
  Pipeline next;
  PipelineBuilder::Options o = builderOptions();
  o.step = nullptr;  // the hook is for reloads
  PipelineBuilder(registry_, logs_, o).build(cfg, diags, next);
  pipeline_ = std::move(next);
  adopted_.clear();
  return !diags.hasErrors();
}

sdk::Result Agent::start() {
  if (running_) return sdk::Result::success();
  running_ = true;
  sdk::Result r = lifecycle_.startChannelsAndSinks(pipeline_);
  if (r) r = lifecycle_.startSources(pipeline_);
  if (!r) {
    log_->error("{}", r.error());
    stop();
    return r;
  }
  log_->info("agent '{}' started: {} source(s), {} channel(s), {} sink(s)", name(),
             pipeline_.sources.size(), pipeline_.channels.size(), pipeline_.sinks.size());
  return sdk::Result::success();
}

void Agent::stop() {
  if (!running_) return;
  running_ = false;
  log_->info("stopping agent '{}' (sinks drain for up to {} ms)", name(),
             options_.drainTimeout.count());
  lifecycle_.stopSources(pipeline_);
  lifecycle_.stopSinks(pipeline_, options_.drainTimeout);
  lifecycle_.stopChannels(pipeline_);
  log_->info("agent '{}' stopped", name());
}

bool Agent::reload(const AgentConfig& cfg, Diagnostics& diags) noexcept {
  const ReloadHost host{
      registry_, logs_, lifecycle_, log_, builderOptions(), options_.drainTimeout};
  if (running_) return reloadPipeline(pipeline_, cfg, host, diags, adopted_);
  // Nothing runs: the new configuration is simply built in place of the old one.
  try {
    Pipeline next;
    if (!PipelineBuilder(registry_, logs_, host.build).build(cfg, diags, next)) return false;
    pipeline_ = std::move(next);
    adopted_.clear();
    return true;
  } catch (const std::exception& e) {
    try {
      diags.error(std::string("configuration reload refused: ") + e.what());
    } catch (...) {
    }
  } catch (...) {
    try {
      diags.error("configuration reload refused: unknown exception");
    } catch (...) {
    }
  }
  return false;
}

std::vector<CounterView> Agent::counters() const {
  std::vector<CounterView> out;
  for (const auto& s : pipeline_.sources)
    if (auto* g = s->source->counters()) out.push_back({"SOURCE", s->name, s->type, g});
  for (const auto& c : pipeline_.channels)
    if (auto* g = c->channel->counters()) out.push_back({"CHANNEL", c->name, c->type, g});
  for (const auto& s : pipeline_.sinks)
    if (auto* g = s->sink->counters()) out.push_back({"SINK", s->name, s->type, g});
  return out;
}

std::vector<ComponentView> Agent::components() const {
  std::vector<ComponentView> out;
  for (const auto& s : pipeline_.sources)
    out.push_back({"SOURCE", s->name, s->type, s->channels, s->source.get(), s->source->counters(),
                   s->processor.get()});
  for (const auto& c : pipeline_.channels)
    out.push_back(
        {"CHANNEL", c->name, c->type, {}, c->channel.get(), c->channel->counters(), nullptr});
  for (const auto& s : pipeline_.sinks)
    out.push_back(
        {"SINK", s->name, s->type, {s->channel}, s->sink.get(), s->sink->counters(), nullptr});
  return out;
}

std::vector<SinkRunnerView> Agent::sinkRunners() const {
  std::vector<SinkRunnerView> out;
  for (const auto& r : pipeline_.runners) {
    bool group = r->name.rfind("group:", 0) == 0;
    std::string name = r->runner->name();
    std::string processor = "default";
    if (group)
      for (const auto& g : pipeline_.config.sinkgroups)
        if (g.name == name) processor = g.processor.type;
    out.push_back({name, group, processor, r->sinks, r->runner.get(), r->started});
  }
  return out;
}

std::string Agent::stalledRunner(std::chrono::nanoseconds limit) const {
  const auto now = std::chrono::steady_clock::now();
  for (const auto& r : pipeline_.runners)
    if (r->runner->busy().busyFor(now) > limit) return "sink runner " + r->runner->name();
  for (const auto& s : pipeline_.sources)
    if (s->runner && s->runner->busy().busyFor(now) > limit) return "source runner " + s->name;
  return {};
}

sdk::CounterGroup* Agent::counters(const std::string& kind, const std::string& name) const {
  for (const auto& v : counters())
    if (v.kind == kind && v.name == name) return v.group;
  return nullptr;
}

}  // namespace sluice::core
