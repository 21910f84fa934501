#include <chrono>
#include <map>

#include "core/monitoring/snapshot.hpp"
#include "core/runtime/agent.hpp"

namespace sluice::core::monitoring {

namespace {

void addContext(std::map<std::string, std::string>& out, const sdk::Context& ctx) {
  for (const auto& [k, p] : ctx.parameters()) out[ctx.path() + "." + k] = p.value;
}

void addCounters(ComponentSnapshot& c, const sdk::CounterGroup& g) {
  c.hasCounters = true;
  c.counterType = g.type();
  c.startTime = g.getStartTime();
  c.stopTime = g.getStopTime();
  for (std::size_t i = 0; i < g.size(); ++i) c.counters.emplace_back(g.name(i), g.get(i));
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
    if (v.group) addCounters(c, *v.group);
    const SourceConfig* src = nullptr;
    if (v.kind == "SOURCE")
      for (const auto& s : cfg.sources)
        if (s.name == v.name) src = &s;
    if (src) {
      c.selector = src->selector.type;
      for (const auto& i : src->interceptors) c.interceptors.emplace_back(i.name, i.type);
    }
    const std::string state = c.state;
    out.components.push_back(std::move(c));
    // The source's interceptors, in chain order (the chain holds exactly the configured ones).
    const ChannelProcessorImpl* chain = v.channelProcessor;
    if (src && chain && chain->interceptorCount() == src->interceptors.size())
      for (std::size_t i = 0; i < chain->interceptorCount(); ++i) {
        ComponentSnapshot ic;
        ic.kind = "INTERCEPTOR";
        ic.name = v.name + "." + src->interceptors[i].name;
        ic.type = src->interceptors[i].type;
        ic.state = state;
        addCounters(ic, chain->interceptorCounters(i));
        out.components.push_back(std::move(ic));
      }
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
    const SinkProcessor& p = v.runner->processor();
    for (std::size_t i = 0; i < p.sinks().size(); ++i) {
      const LatencyHistogram& h = p.batchLatency(i);
      LatencySnapshot l;
      for (int64_t us : LatencyHistogram::kBoundsUs) l.boundsSeconds.push_back(us / 1e6);
      for (std::size_t b = 0; b < LatencyHistogram::kBuckets; ++b) l.buckets.push_back(h.bucket(b));
      l.sumSeconds = static_cast<double>(h.sumNs()) / 1e9;
      r.latency.emplace_back(p.sinks()[i]->getName(), std::move(l));
    }
    const int active = p.activeSink();
    if (active >= 0 && static_cast<std::size_t>(active) < p.sinks().size())
      r.activeSink = p.sinks()[static_cast<std::size_t>(active)]->getName();
    r.sinksInBackoff = p.sinksInBackoff();
    r.sinkFailureCount = p.counters().get(SinkProcessor::SinkFailureCount);
    r.failoverCount = p.counters().get(SinkProcessor::FailoverCount);
    if (r.group) {
      // Flume's SINK_PROCESSOR counter group, for groups only (a lone sink's default processor
      // has nothing to count).
      ComponentSnapshot c;
      c.kind = "SINK_PROCESSOR";
      c.name = r.name;
      c.type = r.processor;
      c.state = r.started ? "START" : "STOP";
      addCounters(c, p.counters());
      c.counters.emplace_back("SinksInBackoff", r.sinksInBackoff);
      c.attributes.emplace_back("ActiveSink", r.activeSink);
      out.components.push_back(std::move(c));
    }
    out.runners.push_back(std::move(r));
  }
  out.logs = agent.logs().recent().copy();
  out.logCapacity = agent.logs().recent().capacity();
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
