#pragma once
// Flume's counter groups as its JMX MBeans show them: one group per component that has counters,
// named "<Type>.<name>" (SOURCE.r1), each attribute a (name, text) pair: Type, StartTime,
// StopTime, the counters, string attributes, and a channel's ChannelFillPercentage. The /metrics
// JSON and the Ganglia reporter both send exactly these.

#include <string>
#include <utility>
#include <vector>

#include "core/monitoring/snapshot.hpp"

namespace sluice::core::monitoring {

struct FlumeGroup {
  std::string key;  // SOURCE.r1, CHANNEL.c1, SINK_PROCESSOR.g1...
  std::vector<std::pair<std::string, std::string>> attributes;
};

// Every component with counters, sorted by key.
std::vector<FlumeGroup> flumeGroups(const Snapshot& s);

// The Prometheus text Flume's PrometheusHTTPMetricsServer serves at /metrics, for scrape configs
// and dashboards written against it: each numeric attribute of each group as
// Flume_<Attribute>{component="<name>"}, a counter (exposed with Prometheus' _total suffix) for
// what Flume's counter classes increment or add to, a gauge for what they set (ChannelSize,
// ChannelCapacity, OpenConnectionCount). Type, StartTime, StopTime and ChannelFillPercentage,
// which those classes have no such method for, are left out, as Flume leaves them out. The values
// are read at every scrape.
std::string renderFlumePrometheus(const Snapshot& s);

}  // namespace sluice::core::monitoring
