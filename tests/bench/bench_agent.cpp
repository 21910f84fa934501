// Benchmark driver (not a test): runs one agent config in-process through the same loader and
// runtime as `sluice agent`, waits until a sink has drained N events, and prints throughput and
// peak RSS. scripts/bench drives it.
//
//   bench_agent <config> <agent> <sink> <events> [body-bytes]
//
// <events> as "~N" (for a source that cannot know what it will get, e.g. a Kafka topic whose
// broker dropped old messages) stops at N events, or once the sink has drained at least 90% of
// N and then nothing for 2 s; the clock stops at the last event, and the count is what arrived.

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "core/config/model.hpp"
#include "core/log/logging.hpp"
#include "core/plugin/registry.hpp"
#include "core/runtime/agent.hpp"
#include "core/runtime/allocator.hpp"

using namespace sluice;
using namespace sluice::core;

static long peakRssKb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: bench_agent <config> <agent> <sink> <events> [body-bytes]\n";
    return 2;
  }
#ifndef SLUICE_ALLOCATOR_MIMALLOC
  tuneAllocator();  // as the sluice binary does with glibc's malloc
#endif
  std::string file = argv[1], agentName = argv[2], sink = argv[3];
  const std::string eventsArg = argv[4];
  const bool approximate = !eventsArg.empty() && eventsArg[0] == '~';
  int64_t events = std::stoll(approximate ? eventsArg.substr(1) : eventsArg);
  double bodyBytes = argc > 5 ? std::stod(argv[5]) : 0;

  LogHub logs(sdk::LogLevel::warn);
  PluginRegistry registry;
  Diagnostics diags;
  registry.addDirectory(builtinPluginDir(), diags);
  RawConfig raw = loadConfigFile(file);
  AgentConfig cfg = buildAgentConfig(raw, agentName, diags);
  Agent agent(registry, logs);
  if (diags.hasErrors() || !agent.build(cfg, diags)) {
    for (const auto& d : diags.items()) std::cerr << d.message << "\n";
    return 1;
  }
  long rssBefore = peakRssKb();
  auto t0 = std::chrono::steady_clock::now();
  if (!agent.start()) return 1;
  sdk::CounterGroup* g = agent.counters("SINK", sink);
  if (!g) {
    std::cerr << "no sink " << sink << "\n";
    return 1;
  }
  int64_t drained = 0;
  auto t1 = std::chrono::steady_clock::now();
  while (drained < events) {
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    const int64_t now = g->get("EventDrainSuccessCount").value_or(0);
    const auto t = std::chrono::steady_clock::now();
    if (now != drained) {
      drained = now;
      t1 = t;
    } else if (approximate && drained * 10 >= events * 9 && t - t1 > std::chrono::seconds(2)) {
      events = drained;
    }
  }
  agent.stop();
  double secs = std::chrono::duration<double>(t1 - t0).count();
  double eps = static_cast<double>(events) / secs;
  std::printf("%-34s %12lld events %8.3f s %14.0f events/s %9.1f MB/s  peak RSS %6.1f MB (%.1f MB before start)\n",
              file.substr(file.find_last_of('/') + 1).c_str(), static_cast<long long>(events), secs,
              eps, eps * bodyBytes / 1e6, peakRssKb() / 1024.0, rssBefore / 1024.0);
  return 0;
}
