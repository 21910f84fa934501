#include <chrono>
#include <map>

#include "core/monitoring/snapshot.hpp"
#include "core/runtime/agent.hpp"

namespace sluice::core::monitoring {

namespace {

void addContext(std::map<std::string, std::string>& out, const sdk::Context& ctx) {
  for (const auto& [k, p] : ctx.parameters()) out[ctx.path() + "." + k] = p.value;
}

}  // namespace

void snapshotAgent(const Agent& agent, Snapshot& out) {
  const AgentConfig& cfg = agent.config();
  out.agent = cfg.agent;
  out.configFile = cfg.file;
  out.available = true;
  out.running = agent.running();
  out.takenAtMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  out.components.clear();
  for (const auto& v : agent.components()) {
    ComponentSnapshot c;
    c.kind = v.kind;
    c.name = v.name;
    c.type = v.type;
    c.state = sdk::nameOf(v.component->getLifecycleState());
    c.channels = v.channels;
    if (v.group) {
      c.hasCounters = true;
      c.counterType = v.group->type();
      c.startTime = v.group->getStartTime();
      c.stopTime = v.group->getStopTime();
      for (std::size_t i = 0; i < v.group->size(); ++i)
        c.counters.emplace_back(v.group->name(i), v.group->get(i));
    }
    if (v.kind == "SOURCE")
      for (const auto& s : cfg.sources)
        if (s.name == v.name) {
          c.selector = s.selector.type;
          for (const auto& i : s.interceptors) c.interceptors.emplace_back(i.name, i.type);
        }
    out.components.push_back(std::move(c));
  }
  out.runners.clear();
  for (const auto& v : agent.sinkRunners()) {
    SinkRunnerSnapshot r;
    r.name = v.name;
    r.group = v.group;
    r.processor = v.processorType;
    r.sinks = v.sinks;
    r.started = v.started;
    r.failingSinceMs = v.runner->failingSinceMs();
    r.failureCount = v.runner->failureCount();
    auto [err, at] = v.runner->lastError();
    r.lastError = std::move(err);
    r.lastErrorMs = at;
    const LatencyHistogram& h = v.runner->batchLatency();
    for (int64_t us : LatencyHistogram::kBoundsUs) r.latency.boundsSeconds.push_back(us / 1e6);
    for (std::size_t i = 0; i < LatencyHistogram::kBuckets; ++i)
      r.latency.buckets.push_back(h.bucket(i));
    r.latency.sumSeconds = static_cast<double>(h.sumNs()) / 1e9;
    out.runners.push_back(std::move(r));
  }
  std::map<std::string, std::string> keys;
  for (const auto& s : cfg.sources) addContext(keys, s.context);
  for (const auto& c : cfg.channels) addContext(keys, c.context);
  for (const auto& s : cfg.sinks) addContext(keys, s.context);
  for (const auto& g : cfg.sinkgroups) {
    std::string sinks;
    for (const auto& n : g.sinks) sinks += (sinks.empty() ? "" : " ") + n;
    keys[cfg.agent + ".sinkgroups." + g.name + ".sinks"] = sinks;
    addContext(keys, g.processor.context);
  }
  out.config.assign(keys.begin(), keys.end());
}

}  // namespace sluice::core::monitoring
