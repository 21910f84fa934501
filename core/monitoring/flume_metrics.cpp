#include "core/monitoring/flume_metrics.hpp"

#include <algorithm>
#include <charconv>
#include <map>

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

std::string renderFlumePrometheus(const Snapshot& s) {
  struct Metric {
    bool gauge = false;
    std::string samples;  // its lines, so they come together under one TYPE line
  };
  std::map<std::string, Metric> metrics;  // by Flume_<Attribute>
  for (const FlumeGroup& g : flumeGroups(s)) {
    const std::string component = g.key.substr(g.key.find('.') + 1);
    for (const auto& [name, value] : g.attributes) {
      if (name == "Type" || name == "StartTime" || name == "StopTime" ||
          name == "ChannelFillPercentage")
        continue;
      double number = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
      if (ec != std::errc() || end != value.data() + value.size()) continue;  // not a number
      const std::string base = "Flume_" + name;
      Metric& m = metrics[base];
      m.gauge = name == "ChannelSize" || name == "ChannelCapacity" || name == "OpenConnectionCount";
      m.samples += base + (m.gauge ? "" : "_total") + "{component=\"" + component + "\"} " + value + "\n";
    }
  }
  std::string out;
  for (const auto& [base, m] : metrics)
    out += "# HELP " + base + " " + base + "\n# TYPE " + base + (m.gauge ? " gauge\n" : " counter\n") +
           m.samples;
  return out;
}

}  // namespace sluice::core::monitoring
