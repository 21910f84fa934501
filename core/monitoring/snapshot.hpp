#pragma once
// Plain copies of what the monitoring endpoints show, taken from a running agent in one go
// (counter values are relaxed-atomic reads). Rendering works on these only, so it never touches
// the agent and is unit-testable with made-up data.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/log/log_ring.hpp"

namespace sluice::core {
class Agent;
}

namespace sluice::core::monitoring {

struct ComponentSnapshot {
  // SOURCE, CHANNEL, SINK (the agent section it is configured in), or SINK_PROCESSOR (a sink
  // group's processor, named as the group) and INTERCEPTOR (named "<source>.<interceptor>").
  std::string kind;
  std::string
      counterType;    // Flume's MonitoredCounterGroup type: SOURCE, CHANNEL, SINK_PROCESSOR...
  std::string name;   // r1
  std::string type;   // the configured plugin type: seq, memory, ...
  std::string state;  // IDLE, START, STOP, ERROR
  bool hasCounters = false;
  int64_t startTime = 0, stopTime = 0;                    // ms since the epoch, 0 = never
  std::vector<std::pair<std::string, int64_t>> counters;  // Flume names, in the group's order
  std::vector<std::string> channels;                      // source: channels; sink: its channel
  std::vector<std::pair<std::string, std::string>> interceptors;  // source: (name, type)
  std::string selector;                                           // source: selector type
  // String-valued attributes shown after the counters (SINK_PROCESSOR: ActiveSink).
  std::vector<std::pair<std::string, std::string>> attributes;
};

struct LatencySnapshot {
  std::vector<double> boundsSeconds;  // upper bounds; buckets has one more (+Inf)
  std::vector<int64_t> buckets;       // per bucket, not cumulative
  double sumSeconds = 0;
};

struct SinkRunnerSnapshot {
  std::string name;  // group name, or the lone sink's name
  bool group = false;
  std::string processor;  // default, failover, load_balance
  std::vector<std::string> sinks;
  bool started = false;
  int64_t failingSinceMs = 0;  // 0 = not failing
  int64_t failureCount = 0;
  std::string lastError;
  int64_t lastErrorMs = 0;
  // Per sink of the runner, in the processor's order (failover: by priority).
  std::vector<std::pair<std::string, LatencySnapshot>> latency;
  // The processor's state (groups only; see SinkProcessor).
  std::string activeSink;  // empty before the first batch
  int64_t sinksInBackoff = 0, sinkFailureCount = 0, failoverCount = 0;
};

struct PluginSnapshot {
  std::string name, version, file;
  std::vector<std::string> types;  // "source:seq", ...
};

struct Snapshot {
  std::string agent;
  std::string configFile;
  bool available = false;  // false: the agent is starting, reloading or stopping
  bool running = false;
  std::vector<ComponentSnapshot> components;
  std::vector<SinkRunnerSnapshot> runners;
  std::vector<std::pair<std::string, std::string>> config;  // effective keys, sorted
  LogRing::Copy logs;  // recent WARN/ERROR records of the process, oldest first
  std::size_t logCapacity = 0;
  int64_t takenAtMs = 0;
};

// Copies everything from the agent. The caller keeps the agent from starting, reloading or
// stopping meanwhile.
void snapshotAgent(const Agent& agent, Snapshot& out);

}  // namespace sluice::core::monitoring
