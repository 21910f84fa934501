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

}  // namespace sluice::core::monitoring
