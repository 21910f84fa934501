// End-to-end pipelines inside one process, through the real loader and the real built-in
// plugin .so files: config text -> model -> agent -> events at the far end.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "tests/runtime/agent_fixture.hpp"

using namespace sluice;
using namespace sluice::core;
using sluice::testing::bodies;
using sluice::testing::counter;
using sluice::testing::env;
using sluice::testing::Fixture;
using sluice::testing::TempDir;
using sluice::testing::waitFor;

namespace {

std::string errors(const Diagnostics& d) {
  std::string s;
  for (const auto& i : d.items())
    if (i.severity == Diagnostic::Severity::Error) s += i.message + "\n";
  return s;
}

}  // namespace

TEST_CASE("seq -> memory -> null delivers exactly totalEvents, and counters add up") {
  Fixture f;
  auto agent = f.buildOk(R"(
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = 200000
a1.sources.r1.batchSize = 1000
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = null
a1.sinks.k1.batchSize = 1000
a1.sinks.k1.channel = c1
)");
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] { return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == 200000; }));
  agent->stop();
  CHECK(counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == 200000);
  CHECK(counter(*agent, "SOURCE", "r1", "EventAcceptedCount") == 200000);
  CHECK(counter(*agent, "CHANNEL", "c1", "EventPutSuccessCount") == 200000);
  CHECK(counter(*agent, "CHANNEL", "c1", "EventTakeSuccessCount") == 200000);
  CHECK(counter(*agent, "CHANNEL", "c1", "ChannelSize") == 0);
  CHECK(counter(*agent, "CHANNEL", "c1", "ChannelCapacity") == 10000);
  CHECK(agent->counters("SINK", "k1")->getStartTime() > 0);
  CHECK(agent->counters("SINK", "k1")->getStopTime() >= agent->counters("SINK", "k1")->getStartTime());
}

TEST_CASE("multiplexing routes by header, with default and optional channels") {
  Fixture f;
  TempDir tmp;
  std::string cfg = R"(
a1.sources = r1
a1.channels = c1 c2 c3
a1.sinks = k1 k2 k3
a1.sources.r1.type = test.header_seq
a1.sources.r1.totalEvents = 300
a1.sources.r1.values = CZ US XX
a1.sources.r1.channels = c1 c2 c3
a1.sources.r1.selector.type = multiplexing
a1.sources.r1.selector.header = state
a1.sources.r1.selector.mapping.CZ = c1
a1.sources.r1.selector.mapping.US = c2
a1.sources.r1.selector.optional.US = c3
a1.sources.r1.selector.default = c1
a1.channels.c1.type = memory
a1.channels.c2.type = memory
a1.channels.c3.type = memory
)";
  for (int i = 1; i <= 3; ++i)
    cfg += "a1.sinks.k" + std::to_string(i) + ".type = test.file_sink\na1.sinks.k" +
           std::to_string(i) + ".channel = c" + std::to_string(i) + "\na1.sinks.k" +
           std::to_string(i) + ".outFile = " + (tmp / ("k" + std::to_string(i))).string() + "\n";
  auto agent = f.buildOk(cfg);
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] {
    return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == 200 &&
           counter(*agent, "SINK", "k2", "EventDrainSuccessCount") == 100 &&
           counter(*agent, "SINK", "k3", "EventDrainSuccessCount") == 100;
  }));
  agent->stop();
  std::multiset<std::string> k1 = bodies(tmp / "k1"), k2 = bodies(tmp / "k2"), k3 = bodies(tmp / "k3");
  CHECK(k1.size() == 200);
  CHECK(k2.size() == 100);
  CHECK(k3 == k2);
  for (int i = 0; i < 300; ++i) {
    std::string b = std::to_string(i);
    if (i % 3 == 1) {
      CHECK(k2.count(b) == 1);
      CHECK(k1.count(b) == 0);
    } else {
      CHECK(k1.count(b) == 1);
      CHECK(k2.count(b) == 0);
    }
  }
  // The header travels with the event.
  CHECK(sluice::testing::readFile(tmp / "k2").find("1 state=US\n") != std::string::npos);
}

TEST_CASE("replicating fans out to every channel") {
  Fixture f;
  TempDir tmp;
  auto agent = f.buildOk(R"(
a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = 5000
a1.sources.r1.batchSize = 100
a1.sources.r1.channels = c1 c2
a1.channels.c1.type = memory
a1.channels.c2.type = memory
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.outFile = )" + (tmp / "k1").string() + R"(
a1.sinks.k2.type = test.file_sink
a1.sinks.k2.channel = c2
a1.sinks.k2.outFile = )" + (tmp / "k2").string() + "\n");
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] {
    return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == 5000 &&
           counter(*agent, "SINK", "k2", "EventDrainSuccessCount") == 5000;
  }));
  agent->stop();
  auto a = bodies(tmp / "k1"), b = bodies(tmp / "k2");
  CHECK(a.size() == 5000);
  CHECK(a == b);
  CHECK(std::set<std::string>(a.begin(), a.end()).size() == 5000);
}

TEST_CASE("a failing sink rolls back, and every event is delivered once it recovers") {
  Fixture f;
  TempDir tmp;
  sluice::testing::writeFile(tmp / "fail", "");
  AgentOptions opts;
  opts.sinkRunner.backoffIncrement = std::chrono::milliseconds(20);
  opts.sinkRunner.maxBackoff = std::chrono::milliseconds(100);
  auto agent = f.buildOk(R"(
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = 500
a1.sources.r1.batchSize = 50
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.batchSize = 30
a1.sinks.k1.failFile = )" + (tmp / "fail").string() + R"(
a1.sinks.k1.outFile = )" + (tmp / "out").string() + "\n", opts);
  REQUIRE(agent->start().ok());
  // While failing, everything stays in the channel.
  CHECK(waitFor([&] { return counter(*agent, "CHANNEL", "c1", "ChannelSize") == 500; }));
  CHECK(waitFor([&] { return counter(*agent, "SINK", "k1", "EventWriteFail") >= 2; }));
  CHECK(counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == 0);
  std::filesystem::remove(tmp / "fail");
  CHECK(waitFor([&] { return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == 500; }));
  agent->stop();
  auto b = bodies(tmp / "out");
  CHECK(b.size() == 500);
  CHECK(std::set<std::string>(b.begin(), b.end()).size() == 500);
}

TEST_CASE("failover: the backup takes over while the primary fails, then the primary returns") {
  Fixture f;
  TempDir tmp;
  sluice::testing::writeFile(tmp / "fail", "");
  AgentOptions opts;
  opts.sinkRunner.backoffIncrement = std::chrono::milliseconds(20);
  opts.sinkRunner.maxBackoff = std::chrono::milliseconds(50);
  auto agent = f.buildOk(R"(
a1.sources = r1
a1.channels = c1
a1.sinks = k1 k2
a1.sinkgroups = g1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = failover
a1.sinkgroups.g1.processor.priority.k1 = 10
a1.sinkgroups.g1.processor.priority.k2 = 5
a1.sinkgroups.g1.processor.maxpenalty = 300
a1.sources.r1.type = test.header_seq
a1.sources.r1.totalEvents = 3000
a1.sources.r1.batchSize = 10
a1.sources.r1.sleepMs = 3
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 5000
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.batchSize = 10
a1.sinks.k1.failFile = )" + (tmp / "fail").string() + R"(
a1.sinks.k1.outFile = )" + (tmp / "k1").string() + R"(
a1.sinks.k2.type = test.file_sink
a1.sinks.k2.channel = c1
a1.sinks.k2.batchSize = 10
a1.sinks.k2.outFile = )" + (tmp / "k2").string() + "\n", opts);
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] { return counter(*agent, "SINK", "k2", "EventDrainSuccessCount") >= 300; }));
  CHECK(counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == 0);
  CHECK(counter(*agent, "SINK", "k1", "EventWriteFail") >= 1);
  std::filesystem::remove(tmp / "fail");  // the primary's target recovers
  CHECK(waitFor([&] {
    return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") +
               counter(*agent, "SINK", "k2", "EventDrainSuccessCount") == 3000;
  }, std::chrono::seconds(60)));
  agent->stop();
  auto k1 = bodies(tmp / "k1"), k2 = bodies(tmp / "k2");
  CHECK(k1.size() > 0);
  std::multiset<std::string> all = k1;
  all.insert(k2.begin(), k2.end());
  CHECK(all.size() == 3000);
  CHECK(std::set<std::string>(all.begin(), all.end()).size() == 3000);
  // Once back, the primary takes the traffic again: the last events went to k1.
  CHECK(k1.count("2999") == 1);
}

TEST_CASE("load_balance spreads batches and backs off a failing sink") {
  Fixture f;
  TempDir tmp;
  sluice::testing::writeFile(tmp / "fail", "");
  std::string cfg = R"(
a1.sources = r1
a1.channels = c1
a1.sinks = k1 k2 k3
a1.sinkgroups = g1
a1.sinkgroups.g1.sinks = k1 k2 k3
a1.sinkgroups.g1.processor.type = load_balance
a1.sinkgroups.g1.processor.selector = round_robin
a1.sinkgroups.g1.processor.backoff = true
a1.sources.r1.type = test.header_seq
a1.sources.r1.totalEvents = 3000
a1.sources.r1.batchSize = 10
a1.sources.r1.sleepMs = 1
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 5000
a1.sinks.k3.failFile = )" + (tmp / "fail").string() + "\n";
  for (int i = 1; i <= 3; ++i) {
    std::string k = "a1.sinks.k" + std::to_string(i);
    cfg += k + ".type = test.file_sink\n" + k + ".channel = c1\n" + k + ".batchSize = 10\n" + k +
           ".outFile = " + (tmp / ("k" + std::to_string(i))).string() + "\n";
  }
  auto agent = f.buildOk(cfg);
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] {
    return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") +
               counter(*agent, "SINK", "k2", "EventDrainSuccessCount") == 3000;
  }, std::chrono::seconds(60)));
  agent->stop();
  int64_t a = counter(*agent, "SINK", "k1", "EventDrainSuccessCount");
  int64_t b = counter(*agent, "SINK", "k2", "EventDrainSuccessCount");
  // Round robin between the two healthy sinks: each within 35%..65% of the total.
  CHECK(a > 1050);
  CHECK(b > 1050);
  CHECK(counter(*agent, "SINK", "k3", "EventDrainSuccessCount") == 0);
  // Backed off exponentially (1 s, 2 s, 4 s...), so the failing sink is tried a handful of
  // times, not once per batch (there were hundreds of batches).
  CHECK(counter(*agent, "SINK", "k3", "EventWriteFail") >= 1);
  CHECK(counter(*agent, "SINK", "k3", "EventWriteFail") <= 6);
  auto all = bodies(tmp / "k1");
  auto k2 = bodies(tmp / "k2");
  all.insert(k2.begin(), k2.end());
  CHECK(std::set<std::string>(all.begin(), all.end()).size() == 3000);
}

namespace {
// A load_balance group of two test.file_sink sinks with the given selector lines.
std::string weightedGroup(const std::filesystem::path& dir, const std::string& selectorLines,
                          int totalEvents) {
  std::string cfg = R"(
a1.sources = r1
a1.channels = c1
a1.sinks = k1 k2
a1.sinkgroups = g1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = load_balance
a1.sinks.k2.failFile = )" + (dir / "fail").string() + R"(
a1.sources.r1.type = test.header_seq
a1.sources.r1.totalEvents = )" + std::to_string(totalEvents) + R"(
a1.sources.r1.batchSize = 10
a1.sources.r1.sleepMs = 1
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 5000
)" + selectorLines;
  for (int i = 1; i <= 2; ++i) {
    std::string k = "a1.sinks.k" + std::to_string(i);
    cfg += k + ".type = test.file_sink\n" + k + ".channel = c1\n" + k + ".batchSize = 10\n" + k +
           ".outFile = " + (dir / ("k" + std::to_string(i))).string() + "\n";
  }
  return cfg;
}
}  // namespace

TEST_CASE("load_balance with a custom selector plugin: its weights decide the spread") {
  Fixture f;
  TempDir tmp;
  auto agent = f.buildOk(weightedGroup(tmp.path(), R"(
a1.sinkgroups.g1.processor.selector = test.weighted_selector
a1.sinkgroups.g1.processor.selector.weights = 3 1
)", 4000));
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] {
    return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") +
               counter(*agent, "SINK", "k2", "EventDrainSuccessCount") == 4000;
  }, std::chrono::seconds(60)));
  agent->stop();
  const int64_t a = counter(*agent, "SINK", "k1", "EventDrainSuccessCount");
  const int64_t b = counter(*agent, "SINK", "k2", "EventDrainSuccessCount");
  // Batches may be short when the sink outruns the source, so the split is by batch, not event:
  // 3:1 of the batches puts k1 well above 60% of the events and k2 well above 10%.
  CHECK(a > 2400);
  CHECK(b > 400);
  auto all = bodies(tmp / "k1");
  auto k2 = bodies(tmp / "k2");
  all.insert(k2.begin(), k2.end());
  CHECK(all.size() == 4000);
  CHECK(std::set<std::string>(all.begin(), all.end()).size() == 4000);
}

TEST_CASE("load_balance: a custom selector that throws, or a failing sink, loses nothing") {
  Fixture f;
  TempDir tmp;
  sluice::testing::writeFile(tmp / "fail", "");  // k2 fails: backoff must keep k1 serving
  auto agent = f.buildOk(weightedGroup(tmp.path(), R"(
a1.sinkgroups.g1.processor.selector = test.weighted_selector
a1.sinkgroups.g1.processor.selector.weights = 1 5
a1.sinkgroups.g1.processor.selector.throwEvery = 3
a1.sinkgroups.g1.processor.backoff = true
)", 2000));
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] { return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == 2000; },
                  std::chrono::seconds(60)));
  agent->stop();
  CHECK(counter(*agent, "SINK", "k2", "EventDrainSuccessCount") == 0);
  CHECK(counter(*agent, "SINK", "k2", "EventWriteFail") >= 1);
  CHECK(counter(*agent, "SINK", "k2", "EventWriteFail") <= 6);  // backed off, not per batch
  auto got = bodies(tmp / "k1");
  CHECK(std::set<std::string>(got.begin(), got.end()).size() == 2000);
}

TEST_CASE("load_balance selector errors name the key and the line") {
  Fixture f;
  TempDir tmp;
  {
    Diagnostics d;
    f.build(weightedGroup(tmp.path(), "a1.sinkgroups.g1.processor.selector = com.example.Nope\n", 10), d);
    const std::string e = errors(d);
    CHECK(e.find("a1.sinkgroups.g1.processor.selector: unknown sink-selector type 'com.example.Nope'") !=
          std::string::npos);
    CHECK(e.find("test.weighted_selector") != std::string::npos);  // the known types are listed
    CHECK(e.find("test.properties:") != std::string::npos);
  }
  {
    Diagnostics d;
    f.build(weightedGroup(tmp.path(), R"(
a1.sinkgroups.g1.processor.selector = test.weighted_selector
a1.sinkgroups.g1.processor.selector.weights = 3
a1.sinkgroups.g1.processor.selector.wieghts = 3 1
)", 10), d);
    const std::string e = errors(d);
    CHECK(e.find("wieghts") != std::string::npos);
    CHECK(e.find("weights") != std::string::npos);
  }
  {
    Diagnostics d;
    f.build(weightedGroup(tmp.path(), R"(
a1.sinkgroups.g1.processor.selector = test.weighted_selector
a1.sinkgroups.g1.processor.selector.weights = 3
)", 10), d);
    CHECK(errors(d).find("expected one weight per sink (2), got 1") != std::string::npos);
  }
  {
    Diagnostics d;
    f.build(weightedGroup(tmp.path(), R"(
a1.sinkgroups.g1.processor.selector = round_robin
a1.sinkgroups.g1.processor.selector.weights = 3 1
)", 10), d);
    CHECK(errors(d).find("selector.weights: unknown key for the round_robin selector") !=
          std::string::npos);
  }
}

TEST_CASE("stop drains what the channel holds before stopping the sink") {
  Fixture f;
  TempDir tmp;
  auto agent = f.buildOk(R"(
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = 20000
a1.sources.r1.batchSize = 100
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 20000
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.batchSize = 10
a1.sinks.k1.outFile = )" + (tmp / "out").string() + "\n");
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] { return counter(*agent, "CHANNEL", "c1", "EventPutSuccessCount") > 0; }));
  agent->stop();
  int64_t put = counter(*agent, "CHANNEL", "c1", "EventPutSuccessCount");
  CHECK(put > 0);
  CHECK(counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == put);
  CHECK(counter(*agent, "CHANNEL", "c1", "ChannelSize") == 0);
  CHECK(static_cast<int64_t>(bodies(tmp / "out").size()) == put);
}

TEST_CASE("validation: every problem is reported with agent, component, key and line") {
  Fixture f;
  Diagnostics d;
  auto agent = f.build(R"(a1.sources = r1
a1.channels = c1
a1.sinks = k1 k2
a1.sources.r1.type = seq
a1.sources.r1.batchSize = 500
a1.sources.r1.totalEvnets = 10
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = nul
a1.sinks.k1.channel = c1
a1.sinks.k2.type = logger
a1.sinks.k2.channel = c1
a1.sinks.k2.maxBytesToLog = lots
)", d);
  std::string e = errors(d);
  INFO(e);
  // Unknown key, with a hint and the line.
  CHECK(e.find("a1.sources.r1.totalEvnets: unknown key") != std::string::npos);
  CHECK(e.find("did you mean 'totalEvents'") != std::string::npos);
  CHECK(e.find("test.properties:6") != std::string::npos);
  // Unknown type with a suggestion.
  CHECK(e.find("a1.sinks.k1.type: unknown sink type 'nul'") != std::string::npos);
  CHECK(e.find("did you mean 'null'") != std::string::npos);
  // Bad value.
  CHECK(e.find("a1.sinks.k2.maxBytesToLog: expected an integer, got 'lots'") != std::string::npos);
  CHECK(e.find("test.properties:14") != std::string::npos);
  // batchSize <= transactionCapacity.
  CHECK(e.find("a1.sources.r1.batchSize: 500 must be <= transactionCapacity (100) of channel 'c1'") !=
        std::string::npos);
}

TEST_CASE("transactionCapacity above capacity is refused by the channel, naming both") {
  Fixture f;
  Diagnostics d;
  f.build(R"(
a1.sources = r1
a1.channels = c1
a1.sources.r1.type = seq
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 2000
)", d);
  std::string e = errors(d);
  INFO(e);
  CHECK(e.find("a1.channels.c1.transactionCapacity") != std::string::npos);
  CHECK(e.find("2000") != std::string::npos);
  CHECK(e.find("1000") != std::string::npos);
}

TEST_CASE("--lenient drops a broken component and starts the rest, as Flume does") {
  Fixture f;
  Diagnostics d;
  AgentOptions opts;
  opts.lenient = true;
  auto agent = f.build(R"(
a1.sources = r1
a1.channels = c1
a1.sinks = k1 k2
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = 100
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
a1.sinks.k2.type = nosuchsink
a1.sinks.k2.channel = c1
)", d, opts);
  CHECK_FALSE(d.hasErrors());
  bool warned = false;
  for (const auto& i : d.items())
    warned = warned || i.message.find("dropped sink 'k2'") != std::string::npos;
  CHECK(warned);
  REQUIRE(agent);
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] { return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == 100; }));
  CHECK(agent->counters("SINK", "k2") == nullptr);
  agent->stop();
}

namespace {
std::string reloadConfig(const TempDir& tmp, const std::string& outName, const std::string& extra = "") {
  return R"(
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = test.header_seq
a1.sources.r1.totalEvents = 3000
a1.sources.r1.batchSize = 10
a1.sources.r1.sleepMs = 2
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.batchSize = 20
a1.sinks.k1.outFile = )" + (tmp / outName).string() + "\n" + extra;
}
}  // namespace

TEST_CASE("hot reload replaces only the changed sink; the channel and source keep running") {
  Fixture f;
  TempDir tmp;
  Diagnostics d0;
  RawConfig raw = parseProperties(reloadConfig(tmp, "first"), "r.properties");
  AgentConfig cfg = buildAgentConfig(raw, "a1", d0);
  auto agent = std::make_unique<Agent>(f.registry, f.logs);
  REQUIRE(agent->build(cfg, d0));
  REQUIRE(agent->start().ok());
  sdk::CounterGroup* srcBefore = agent->counters("SOURCE", "r1");
  sdk::CounterGroup* chBefore = agent->counters("CHANNEL", "c1");
  CHECK(waitFor([&] { return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") >= 200; }));

  // An invalid edit: reported, nothing changes.
  Diagnostics bad;
  RawConfig rawBad = parseProperties(reloadConfig(tmp, "first") + "a1.sinks.k1.bogus = 1\n", "r.properties");
  Agent* before = agent.get();
  agent->reload(buildAgentConfig(rawBad, "a1", bad), bad);
  CHECK(bad.hasErrors());
  CHECK(agent.get() == before);
  CHECK(agent->running());

  // A valid edit: the sink writes to a new file while events keep flowing.
  Diagnostics good;
  RawConfig raw2 = parseProperties(reloadConfig(tmp, "second"), "r.properties");
  agent->reload(buildAgentConfig(raw2, "a1", good), good);
  CHECK_FALSE(good.hasErrors());
  const auto& kept = agent->adopted();
  CHECK(std::find(kept.begin(), kept.end(), "channel:c1") != kept.end());
  CHECK(std::find(kept.begin(), kept.end(), "source:r1") != kept.end());
  CHECK(std::find(kept.begin(), kept.end(), "sink:k1") == kept.end());
  CHECK(agent->counters("SOURCE", "r1") == srcBefore);
  CHECK(agent->counters("CHANNEL", "c1") == chBefore);
  CHECK(waitFor([&] { return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") > 0; }));
  CHECK(waitFor([&] { return counter(*agent, "SOURCE", "r1", "EventAcceptedCount") == 3000; }, std::chrono::seconds(60)));
  CHECK(waitFor([&] { return counter(*agent, "CHANNEL", "c1", "ChannelSize") == 0; }));
  agent->stop();
  auto first = bodies(tmp / "first"), second = bodies(tmp / "second");
  CHECK(first.size() >= 200);
  CHECK(second.size() > 0);
  std::multiset<std::string> all = first;
  all.insert(second.begin(), second.end());
  // Nothing lost, nothing duplicated: the old sink committed what it wrote before it stopped.
  CHECK(all.size() == 3000);
  CHECK(std::set<std::string>(all.begin(), all.end()).size() == 3000);
}

TEST_CASE("hot reload of a changed channel moves its buffered events into the new one") {
  Fixture f;
  TempDir tmp;
  sluice::testing::writeFile(tmp / "fail", "");
  std::string failing = "a1.sinks.k1.failFile = " + (tmp / "fail").string() + "\n";
  Diagnostics d0;
  AgentOptions opts;
  opts.sinkRunner.backoffIncrement = std::chrono::milliseconds(20);
  opts.sinkRunner.maxBackoff = std::chrono::milliseconds(50);
  auto agent = std::make_unique<Agent>(f.registry, f.logs, opts);
  REQUIRE(agent->build(buildAgentConfig(parseProperties(reloadConfig(tmp, "out", failing), "r"), "a1", d0), d0));
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] { return counter(*agent, "CHANNEL", "c1", "ChannelSize") >= 300; }));
  // New capacity (a changed channel) and a sink that works again.
  Diagnostics d1;
  auto cfg = buildAgentConfig(
      parseProperties(reloadConfig(tmp, "out") + "a1.channels.c1.capacity = 20000\n", "r"), "a1", d1);
  agent->reload(cfg, d1);
  CHECK_FALSE(d1.hasErrors());
  CHECK(counter(*agent, "CHANNEL", "c1", "ChannelCapacity") == 20000);
  CHECK(waitFor([&] { return counter(*agent, "SOURCE", "r1", "EventAcceptedCount") == 3000; },
                  std::chrono::seconds(60)));
  CHECK(waitFor([&] { return counter(*agent, "CHANNEL", "c1", "ChannelSize") == 0; }));
  agent->stop();
  // The new source started from 0 again (it was replaced with its channel), so the old events
  // appear once from the moved buffer and again from the restarted source: at-least-once.
  auto out = bodies(tmp / "out");
  std::set<std::string> distinct(out.begin(), out.end());
  CHECK(distinct.size() == 3000);
}

TEST_CASE("hot reload of a changed file channel on the same directories keeps its events") {
  Fixture f;
  TempDir tmp;
  sluice::testing::writeFile(tmp / "fail", "");
  const std::string fileChannel = "a1.channels.c1.type = file\n"
                                  "a1.channels.c1.checkpointDir = " + (tmp / "cp").string() + "\n"
                                  "a1.channels.c1.dataDirs = " + (tmp / "data").string() + "\n"
                                  "a1.channels.c1.minimumRequiredSpace = 0\n";
  std::string failing = "a1.sinks.k1.failFile = " + (tmp / "fail").string() + "\n";
  Diagnostics d0;
  AgentOptions opts;
  opts.sinkRunner.backoffIncrement = std::chrono::milliseconds(20);
  opts.sinkRunner.maxBackoff = std::chrono::milliseconds(50);
  auto agent = std::make_unique<Agent>(f.registry, f.logs, opts);
  REQUIRE(agent->build(buildAgentConfig(parseProperties(reloadConfig(tmp, "out", fileChannel + failing), "r"), "a1", d0), d0));
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] { return counter(*agent, "CHANNEL", "c1", "ChannelSize") >= 300; }));
  // The new channel locks the same directories: it can only start once the old one stopped,
  // and it then replays the events the old one stored.
  Diagnostics d1;
  auto cfg = buildAgentConfig(
      parseProperties(reloadConfig(tmp, "out", fileChannel) + "a1.channels.c1.capacity = 20000\n", "r"),
      "a1", d1);
  agent->reload(cfg, d1);
  CHECK_FALSE(d1.hasErrors());
  CHECK(counter(*agent, "CHANNEL", "c1", "ChannelCapacity") == 20000);
  CHECK(waitFor([&] { return counter(*agent, "SOURCE", "r1", "EventAcceptedCount") == 3000; },
                  std::chrono::seconds(60)));
  CHECK(waitFor([&] { return counter(*agent, "CHANNEL", "c1", "ChannelSize") == 0; },
                  std::chrono::seconds(60)));
  agent->stop();
  auto out = bodies(tmp / "out");
  std::set<std::string> distinct(out.begin(), out.end());
  CHECK(distinct.size() == 3000);
}

TEST_CASE("hot reload: dependents of a change restart, an unrelated channel keeps its events") {
  Fixture f;
  TempDir tmp;
  sluice::testing::writeFile(tmp / "fail2", "");
  AgentOptions opts;
  opts.sinkRunner.backoffIncrement = std::chrono::milliseconds(20);
  opts.sinkRunner.maxBackoff = std::chrono::milliseconds(50);
  // Two independent lines: r1 -> c1 -> k1, and r2 -> c2 -> k2 whose sink fails for now, so c2
  // holds events across the reload.
  auto text = [&](const std::string& c1Capacity, const std::string& stamp) {
    return R"(
a1.sources = r1 r2
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sources.r1.type = test.header_seq
a1.sources.r1.totalEvents = 2000
a1.sources.r1.batchSize = 10
a1.sources.r1.sleepMs = 2
a1.sources.r1.channels = c1
a1.sources.r1.interceptors = i1
a1.sources.r1.interceptors.i1.type = static
a1.sources.r1.interceptors.i1.key = stamp
a1.sources.r1.interceptors.i1.value = )" + stamp + R"(
a1.sources.r2.type = test.header_seq
a1.sources.r2.totalEvents = 500
a1.sources.r2.batchSize = 50
a1.sources.r2.channels = c2
a1.channels.c1.type = memory
a1.channels.c1.capacity = )" + c1Capacity + R"(
a1.channels.c2.type = memory
a1.channels.c2.capacity = 1000
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.outFile = )" + (tmp / "k1").string() + R"(
a1.sinks.k2.type = test.file_sink
a1.sinks.k2.channel = c2
a1.sinks.k2.failFile = )" + (tmp / "fail2").string() + R"(
a1.sinks.k2.outFile = )" + (tmp / "k2").string() + "\n";
  };
  Diagnostics d0;
  auto agent = std::make_unique<Agent>(f.registry, f.logs, opts);
  REQUIRE(agent->build(buildAgentConfig(parseProperties(text("10000", "A"), "r"), "a1", d0), d0));
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] { return counter(*agent, "CHANNEL", "c2", "ChannelSize") == 500; }));
  sdk::CounterGroup* c2Before = agent->counters("CHANNEL", "c2");
  sdk::CounterGroup* k2Before = agent->counters("SINK", "k2");

  // 1. Only r1's interceptor changes: r1 restarts; its channel and sink, and all of line 2, stay.
  Diagnostics d1;
  agent->reload(buildAgentConfig(parseProperties(text("10000", "B"), "r"), "a1", d1), d1);
  REQUIRE_FALSE(d1.hasErrors());
  auto adopted = [&](const std::string& what) {
    const auto& kept = agent->adopted();
    return std::find(kept.begin(), kept.end(), what) != kept.end();
  };
  CHECK_FALSE(adopted("source:r1"));
  CHECK(adopted("channel:c1"));
  CHECK(adopted("sink:k1"));
  CHECK(adopted("source:r2"));
  CHECK(adopted("channel:c2"));
  CHECK(adopted("sink:k2"));

  // 2. c1 changes: its source and sink are replaced with it; line 2 is untouched, events and all.
  Diagnostics d2;
  agent->reload(buildAgentConfig(parseProperties(text("20000", "B"), "r"), "a1", d2), d2);
  REQUIRE_FALSE(d2.hasErrors());
  CHECK_FALSE(adopted("channel:c1"));
  CHECK_FALSE(adopted("source:r1"));
  CHECK_FALSE(adopted("sink:k1"));
  CHECK(adopted("channel:c2"));
  CHECK(adopted("source:r2"));
  CHECK(adopted("sink:k2"));
  CHECK(agent->counters("CHANNEL", "c2") == c2Before);
  CHECK(agent->counters("SINK", "k2") == k2Before);
  // k2 keeps taking a batch and rolling it back: the size is 500 whenever none is out.
  CHECK(waitFor([&] { return counter(*agent, "CHANNEL", "c2", "ChannelSize") == 500; }));
  CHECK(counter(*agent, "CHANNEL", "c1", "ChannelCapacity") == 20000);

  std::filesystem::remove(tmp / "fail2");
  CHECK(waitFor([&] { return counter(*agent, "CHANNEL", "c2", "ChannelSize") == 0; }));
  CHECK(waitFor([&] { return counter(*agent, "SOURCE", "r1", "EventAcceptedCount") == 2000; },
                  std::chrono::seconds(60)));
  CHECK(waitFor([&] { return counter(*agent, "CHANNEL", "c1", "ChannelSize") == 0; }));
  agent->stop();
  auto k2 = bodies(tmp / "k2");
  CHECK(k2.size() == 500);  // line 2: every event once, the reloads never touched it
  CHECK(std::set<std::string>(k2.begin(), k2.end()).size() == 500);
  auto k1 = bodies(tmp / "k1");
  CHECK(std::set<std::string>(k1.begin(), k1.end()).size() == 2000);  // r1 restarted: at least once
  // Events after the first reload carry the new interceptor's stamp.
  CHECK(sluice::testing::readFile(tmp / "k1").find("stamp=B") != std::string::npos);
}

TEST_CASE("hot reload: a new sink that cannot start brings the previous configuration back") {
  Fixture f;
  TempDir tmp;
  sluice::testing::writeFile(tmp / "afile", "");  // a directory cannot be created under a file
  Diagnostics d0;
  auto agent = std::make_unique<Agent>(f.registry, f.logs);
  REQUIRE(agent->build(buildAgentConfig(parseProperties(reloadConfig(tmp, "first"), "r"), "a1", d0), d0));
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] { return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") >= 100; }));
  // Valid on paper (dry build passes); file_roll's start() cannot create the directory.
  const std::string bad = std::string(R"(
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = test.header_seq
a1.sources.r1.totalEvents = 3000
a1.sources.r1.batchSize = 10
a1.sources.r1.sleepMs = 2
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = )") + (tmp / "afile" / "sub").string() + "\n";
  Diagnostics d1;
  Agent* before = agent.get();
  agent->reload(buildAgentConfig(parseProperties(bad, "r"), "a1", d1), d1);
  CHECK(d1.hasErrors());
  CHECK(errors(d1).find("configuration reload failed: a1.sinks.k1 failed to start") !=
        std::string::npos);
  CHECK(errors(d1).find("afile/sub") != std::string::npos);
  CHECK(agent.get() == before);
  CHECK(agent->running());
  // The old sink writes again, and the source never stopped for good: everything arrives once.
  CHECK(waitFor([&] { return counter(*agent, "SOURCE", "r1", "EventAcceptedCount") == 3000; },
                  std::chrono::seconds(60)));
  CHECK(waitFor([&] { return counter(*agent, "CHANNEL", "c1", "ChannelSize") == 0; }));
  CHECK(waitFor([&] { return bodies(tmp / "first").size() >= 3000; }));
  agent->stop();
  auto first = bodies(tmp / "first");
  std::set<std::string> distinct(first.begin(), first.end());
  CHECK(distinct.size() == 3000);
  CHECK(first.size() == 3000);
  CHECK_FALSE(std::filesystem::exists(tmp / "afile" / "sub"));
}

TEST_CASE("hot reload: a new source that cannot start is rolled back with the events moved") {
  Fixture f;
  TempDir tmp;
  // A port that is taken: the new netcat source fails in start().
  const int busy = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(busy >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(busy, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(busy, 1) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(busy, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const int port = ntohs(addr.sin_port);

  sluice::testing::writeFile(tmp / "fail", "");
  AgentOptions opts;
  opts.sinkRunner.backoffIncrement = std::chrono::milliseconds(20);
  opts.sinkRunner.maxBackoff = std::chrono::milliseconds(50);
  Diagnostics d0;
  auto agent = std::make_unique<Agent>(f.registry, f.logs, opts);
  const std::string failing = "a1.sinks.k1.failFile = " + (tmp / "fail").string() + "\n";
  REQUIRE(agent->build(buildAgentConfig(parseProperties(reloadConfig(tmp, "out", failing), "r"), "a1", d0), d0));
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] { return counter(*agent, "CHANNEL", "c1", "ChannelSize") >= 300; }));
  // A changed channel (its events move to the new one), a working sink, and a source that
  // cannot bind: the reload gets as far as starting sources, then goes back.
  std::string text = reloadConfig(tmp, "out") + "a1.channels.c1.capacity = 20000\n";
  text.replace(text.find("a1.sources.r1.type = test.header_seq"),
               std::string("a1.sources.r1.type = test.header_seq").size(),
               "a1.sources.r1.type = netcat\na1.sources.r1.bind = 127.0.0.1\na1.sources.r1.port = " +
                   std::to_string(port));
  for (const char* key : {"a1.sources.r1.totalEvents = 3000\n", "a1.sources.r1.sleepMs = 2\n"})
    text.erase(text.find(key), std::string(key).size());
  Diagnostics d1;
  Agent* before = agent.get();
  agent->reload(buildAgentConfig(parseProperties(text, "r"), "a1", d1), d1);
  CHECK(errors(d1).find("configuration reload failed: a1.sources.r1 failed to start") !=
        std::string::npos);
  CHECK(agent.get() == before);
  CHECK(counter(*agent, "CHANNEL", "c1", "ChannelCapacity") == 10000);  // the old channel
  ::close(busy);
  std::filesystem::remove(tmp / "fail");
  CHECK(waitFor([&] { return counter(*agent, "SOURCE", "r1", "EventAcceptedCount") == 3000; },
                  std::chrono::seconds(60)));
  CHECK(waitFor([&] { return counter(*agent, "CHANNEL", "c1", "ChannelSize") == 0; },
                  std::chrono::seconds(60)));
  agent->stop();
  // Events that sat in the channel went to the new sink while it drained, or back into the old
  // channel; the restarted source repeats from its start (at least once). None is missing.
  auto out = bodies(tmp / "out");
  std::set<std::string> distinct(out.begin(), out.end());
  CHECK(distinct.size() == 3000);
}

TEST_CASE("the load_balancing channel selector spreads one source over two channels") {
  Fixture f;
  TempDir tmp;
  auto agent = f.buildOk(R"(
a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = 4000
a1.sources.r1.batchSize = 100
a1.sources.r1.channels = c1 c2
a1.sources.r1.selector.type = load_balancing
a1.sources.r1.selector.policy = round_robin
a1.channels.c1.type = memory
a1.channels.c1.capacity = 5000
a1.channels.c2.type = memory
a1.channels.c2.capacity = 5000
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.outFile = )" + (tmp / "k1").string() + R"(
a1.sinks.k2.type = test.file_sink
a1.sinks.k2.channel = c2
a1.sinks.k2.outFile = )" + (tmp / "k2").string() + "\n");
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] {
    return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") +
               counter(*agent, "SINK", "k2", "EventDrainSuccessCount") == 4000;
  }));
  agent->stop();
  auto a = bodies(tmp / "k1"), b = bodies(tmp / "k2");
  CHECK(a.size() == 2000);
  CHECK(b.size() == 2000);
  CHECK(a.count("0") + b.count("0") == 1);
  std::multiset<std::string> all = a;
  all.insert(b.begin(), b.end());
  CHECK(std::set<std::string>(all.begin(), all.end()).size() == 4000);
}

TEST_CASE("a sink that reports BACKOFF on a short batch is not put to sleep while events wait") {
  // file_roll, like Flume's sinks, returns BACKOFF whenever it took fewer events than its batch
  // size. With the channel smaller than the source's output, nearly every batch is short while
  // the source waits for room; a runner that slept its back-off then (an hour here) would stall.
  Fixture f;
  TempDir tmp;
  AgentOptions opts;
  opts.sinkRunner.backoffIncrement = std::chrono::hours(1);
  opts.sinkRunner.maxBackoff = std::chrono::hours(1);
  auto agent = f.buildOk(R"(
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = 20000
a1.sources.r1.batchSize = 100
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 300
a1.channels.c1.transactionCapacity = 250
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.batchSize = 250
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.sink.directory = )" + (tmp / "out").string() + "\n", opts);
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] { return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == 20000; },
                  std::chrono::seconds(60)));
  CHECK(counter(*agent, "SINK", "k1", "BatchUnderflowCount") > 0);
  agent->stop();
  int64_t lines = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp / "out")) {
    std::string text = sluice::testing::readFile(e.path());
    lines += std::count(text.begin(), text.end(), '\n');
  }
  CHECK(lines == 20000);
}
