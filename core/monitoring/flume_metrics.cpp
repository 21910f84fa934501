#include "core/monitoring/flume_metrics.hpp"

#include <algorithm>

#include "core/monitoring/json.hpp"
#include "core/monitoring/render.hpp"

namespace sluice::core::monitoring {

std::vector<FlumeGroup> flumeGroups(const Snapshot& s) {
  std::vector<FlumeGroup> out;
  for (const auto& c : s.components) {
    if (!c.hasCounters) continue;
    FlumeGroup g{groupKey(c), {}};
    auto& a = g.attributes;
    a.reserve(c.counters.size() + c.attributes.size() + 4);
    a.emplace_back("Type", c.counterType.empty() ? c.kind : c.counterType);
    a.emplace_back("StartTime", std::to_string(c.startTime));
    a.emplace_back("StopTime", std::to_string(c.stopTime));
    for (const auto& [k, v] : c.counters) {
      // A channel's Open is Flume's boolean isOpen(), which JMX (and so /metrics and Ganglia)
      // shows as true or false.
      if (c.kind == "CHANNEL" && k == "Open")
        a.emplace_back(k, v ? "true" : "false");
      else
        a.emplace_back(k, std::to_string(v));
    }
    for (const auto& [k, v] : c.attributes) a.emplace_back(k, v);
    if (c.kind == "CHANNEL")
      a.emplace_back("ChannelFillPercentage", javaDouble(channelFillPercent(c)));
    out.push_back(std::move(g));
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.key < y.key; });
  return out;
}

}  // namespace sluice::core::monitoring
