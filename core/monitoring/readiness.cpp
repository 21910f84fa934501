#include "core/monitoring/readiness.hpp"

#include <algorithm>
#include <cstdio>

#include "core/monitoring/render.hpp"

namespace sluice::core::monitoring {

ReadyResult evaluateReady(const Snapshot& s, const ReadyOptions& o, int64_t nowMs) {
  ReadyResult r;
  r.agent = s.agent;
  r.options = o;
  auto check = [&](const std::string& name, const std::string& component, bool ok,
                   const std::string& detail) {
    r.checks.push_back({name, component, ok, detail});
    if (!ok) r.reasons.push_back(component.empty() ? detail : component + ": " + detail);
  };
  check("agent", s.agent, s.available && s.running,
        !s.available ? "the agent is starting, reloading or stopping"
                     : (s.running ? "running" : "not running"));
  if (s.available) {
    for (const auto& c : s.components) {
      // Sink processors and interceptors follow their runner and source, checked already.
      if (c.kind == "SINK_PROCESSOR" || c.kind == "INTERCEPTOR") continue;
      check("started", c.kind + "." + c.name, c.state == "START", "lifecycle " + c.state);
      // A component that depends on a server (the SQL source) reports whether it reaches it in
      // a ConnectedGauge counter: 0 makes the agent not ready.
      for (const auto& [counterName, value] : c.counters)
        if (counterName == "ConnectedGauge")
          check("connected", c.kind + "." + c.name, value != 0,
                value != 0 ? "connected to its server" : "cannot reach its server");
      if (c.kind == "CHANNEL") {
        double fill = channelFillPercent(c);
        char buf[96];
        std::snprintf(buf, sizeof(buf), "%.1f%% full (threshold %.1f%%)", fill,
                      o.maxChannelFillPercent);
        check("channelFill", "CHANNEL." + c.name, fill <= o.maxChannelFillPercent, buf);
      }
    }
    for (const auto& run : s.runners) {
      std::string comp = (run.group ? "SINK_GROUP." : "SINK.") + run.name;
      if (!run.started) check("started", comp, false, "sink runner not started");
      int64_t failing =
          run.failingSinceMs > 0 ? std::max<int64_t>(0, nowMs - run.failingSinceMs) : 0;
      std::string detail = run.failingSinceMs > 0
                               ? "failing for " + std::to_string(failing) + " ms (threshold " +
                                     std::to_string(o.maxSinkFailingMs) + " ms): " + run.lastError
                               : "delivering";
      check("sinkFailing", comp, failing <= o.maxSinkFailingMs, detail);
    }
  }
  r.ready = r.reasons.empty();
  return r;
}

}  // namespace sluice::core::monitoring
