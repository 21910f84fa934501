// The runners through real agents, the real loader and real plugin .so files: a sink group's
// runner waits for puts on every channel its sinks read, and a pollable source's runner backs
// off as the config's keys (or, without them, the source's own defaults) say.

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "tests/runtime/agent_fixture.hpp"

using namespace sluice;
using namespace sluice::core;
using namespace std::chrono_literals;
using sluice::testing::bodies;
using sluice::testing::counter;
using sluice::testing::Fixture;
using sluice::testing::TempDir;
using sluice::testing::waitUntil;

TEST_CASE("a failover group over two channels: a trickle on the second arrives promptly") {
  // k2 has the priority and reads c2, the only channel with traffic; k1 reads c1 and comes
  // first in the group, so c1 is the runner's first channel. The runner's back-off is an hour:
  // a runner that waited for puts on c1 alone would hold every event back that long.
  Fixture f;
  TempDir tmp;
  constexpr int kEvents = 20;
  AgentOptions opts;
  opts.sinkRunner.backoffIncrement = 1h;
  opts.sinkRunner.maxBackoff = 1h;
  opts.drainTimeout = 2s;
  auto agent = f.buildOk(R"(
a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sinkgroups = g1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = failover
a1.sinkgroups.g1.processor.priority.k1 = 5
a1.sinkgroups.g1.processor.priority.k2 = 10
a1.sources.r1.type = test.header_seq
a1.sources.r1.totalEvents = )" +
                             std::to_string(kEvents) + R"(
a1.sources.r1.batchSize = 1
a1.sources.r1.sleepMs = 150
a1.sources.r1.channels = c2
a1.channels.c1.type = memory
a1.channels.c2.type = memory
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.outFile = )" + (tmp / "k1").string() +
                             R"(
a1.sinks.k2.type = test.file_sink
a1.sinks.k2.channel = c2
a1.sinks.k2.outFile = )" + (tmp / "k2").string() +
                             "\n",
                         opts);
  REQUIRE(agent->start().ok());
  // One event every 150 ms, each finding the sink waiting after an empty take: all of them in
  // 20 s is far below the hour a wait on the wrong channel takes, and far above what they need.
  const auto began = std::chrono::steady_clock::now();
  CHECK(waitUntil(
      [&] { return counter(*agent, "SINK", "k2", "EventDrainSuccessCount") == kEvents; }, 20s));
  MESSAGE(kEvents << " events arrived in "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - began)
                         .count()
                  << " ms");
  agent->stop();
  CHECK(counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == 0);
  CHECK(counter(*agent, "CHANNEL", "c2", "ChannelSize") == 0);
  std::multiset<std::string> want;
  for (int i = 0; i < kEvents; ++i) want.insert(std::to_string(i));
  CHECK(bodies(tmp / "k2") == want);
}

namespace {

std::string pollingSource(const std::string& extra) {
  return R"(
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = test.header_seq
a1.sources.r1.totalEvents = 0
a1.sources.r1.channels = c1
)" + extra +
         R"(
a1.channels.c1.type = memory
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
)";
}

}  // namespace

TEST_CASE("the source runner backs off as the config's keys say, else as the source says") {
  // test.header_seq with nothing to send polls, backs off, polls again. With a back-off of
  // 10-20 ms, 20 polls take about 0.4 s; at 1-5 s (Flume's defaults) or an hour, far longer
  // than the 20 s the test waits.
  const struct {
    const char* what;
    const char* keys;
  } cases[] = {
      {"the config's keys",
       "a1.sources.r1.backoffSleepIncrement = 10\n"
       "a1.sources.r1.maxBackoffSleep = 20\n"},
      {"no keys: the source's getters", "a1.sources.r1.backoffDefaultMs = 10\n"},
      {"the keys win over the source's getters",
       "a1.sources.r1.backoffDefaultMs = 3600000\n"
       "a1.sources.r1.backoffSleepIncrement = 10\n"
       "a1.sources.r1.maxBackoffSleep = 20\n"},
  };
  Fixture f;
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto agent = f.buildOk(pollingSource(c.keys));
    REQUIRE(agent->start().ok());
    CHECK(waitUntil([&] { return counter(*agent, "SOURCE", "r1", "PollCount") >= 20; }, 20s));
    agent->stop();
  }
}

TEST_CASE("a back-off key out of range is an error naming the key and its line") {
  Fixture f;
  Diagnostics d;
  auto agent = f.build(pollingSource("a1.sources.r1.maxBackoffSleep = 0\n"), d);
  std::string all;
  for (const auto& i : d.items()) all += i.message + "\n";
  INFO(all);
  CHECK(d.hasErrors());
  CHECK(all.find("a1.sources.r1.maxBackoffSleep: expected milliseconds between 1 and 3600000, "
                 "got 0 (test.properties:8)") != std::string::npos);
}
