// A hot reload that fails at any step must leave the running pipeline running, with every event
// it had: failures injected where a real reload can fail (a channel whose getTransaction()
// throws, a start() that fails, std::bad_alloc at each step of the reload), each checked at the
// far end of the old pipeline.
//
// Every case runs r1 (test.header_seq) -> c1 (test.fault_channel) -> k1 (test.file_sink) with
// k1 failing at first, so that c1 holds events when the reload comes. The new config changes
// c1, which replaces c1 and its dependents r1 and k1: the reload has to stop r1 and k1, start
// the new components and move c1's events, so every step of a reload runs.

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <new>
#include <set>
#include <sstream>

#include "core/config/model.hpp"
#include "core/log/logging.hpp"
#include "core/plugin/registry.hpp"
#include "core/runtime/agent.hpp"
#include "tests/runtime/test_support.hpp"

using namespace sluice;
using namespace sluice::core;
using sluice::testing::TempDir;
using sluice::testing::waitUntil;

namespace {

constexpr int64_t kTotal = 2000;  // events r1 emits

AgentOptions fastBackoff() {
  AgentOptions o;
  o.sinkRunner.backoffIncrement = std::chrono::milliseconds(20);
  o.sinkRunner.maxBackoff = std::chrono::milliseconds(50);
  o.drainTimeout =
      std::chrono::milliseconds(200);  // a rollback's new failing sink drains no longer
  return o;
}

// One run of the pipeline: the old config, a reload, then delivery.
class ReloadRun {
 public:
  ReloadRun(const std::string& oldChannelKeys, AgentOptions options = fastBackoff()) {
    registry_.addDirectory(builtinPluginDir(), loadDiags_);
    registry_.addLibrary(sluice::testing::env("SLUICE_TEST_PLUGIN"), loadDiags_);
    registry_.addLibrary(sluice::testing::env("SLUICE_TEST_FAULT_PLUGIN"), loadDiags_);
    REQUIRE_FALSE(loadDiags_.hasErrors());
    sluice::testing::writeFile(tmp_ / "fail", "");
    agent_ = std::make_unique<Agent>(registry_, logs_, options);
    Diagnostics d;
    const AgentConfig cfg = config("10000", oldChannelKeys + failing(), d);
    REQUIRE_FALSE(d.hasErrors());
    REQUIRE(agent_->build(cfg, d));
    REQUIRE(agent_->start().ok());
    oldChannel_ = agent_->counters("CHANNEL", "c1");
    oldSource_ = agent_->counters("SOURCE", "r1");
    REQUIRE(waitUntil([&] { return count("CHANNEL", "c1", "ChannelSize") >= 200; }));
  }
  ~ReloadRun() { agent_->stop(); }

  // Reloads to a config in which c1 has a new capacity plus `newChannelKeys`. The new k1 works,
  // or with newSinkFails fails like the old one until the check removes the file.
  bool reload(const std::string& newChannelKeys, bool newSinkFails = false) {
    const AgentConfig cfg =
        config("20000", newChannelKeys + (newSinkFails ? failing() : ""), diags);
    REQUIRE_FALSE(diags.hasErrors());
    return agent_->reload(cfg, diags);
  }

  std::string errors() const {
    std::string s;
    for (const auto& i : diags.items())
      if (i.severity == Diagnostic::Severity::Error) s += i.message + "\n";
    return s;
  }

  // After a failed reload: the old components run, and once k1 works again every event r1
  // emits arrives at the far end exactly once.
  void checkOldPipelineDeliversEveryEventOnce() {
    CHECK(agent_->running());
    CHECK(agent_->counters("CHANNEL", "c1") == oldChannel_);
    CHECK(agent_->counters("SOURCE", "r1") == oldSource_);
    CHECK(count("CHANNEL", "c1", "ChannelCapacity") == 10000);
    std::filesystem::remove(tmp_ / "fail");
    CHECK(waitUntil([&] { return count("SOURCE", "r1", "EventAcceptedCount") == kTotal; },
                    std::chrono::seconds(60)));
    CHECK(waitUntil([&] { return lines().size() >= static_cast<std::size_t>(kTotal); },
                    std::chrono::seconds(60)));
    CHECK(waitUntil([&] { return count("CHANNEL", "c1", "ChannelSize") == 0; }));
    agent_->stop();
    const auto out = lines();
    CHECK(out.size() == static_cast<std::size_t>(kTotal));
    CHECK(std::set<std::string>(out.begin(), out.end()).size() == static_cast<std::size_t>(kTotal));
  }

  // After a successful reload: the new components run, and every event arrives (r1 was
  // replaced, so it starts again from 0: at least once).
  void checkNewPipelineDeliversEveryEvent() {
    CHECK(agent_->running());
    std::filesystem::remove(tmp_ / "fail");
    CHECK(count("CHANNEL", "c1", "ChannelCapacity") == 20000);
    CHECK(waitUntil([&] { return count("SOURCE", "r1", "EventAcceptedCount") == kTotal; },
                    std::chrono::seconds(60)));
    CHECK(waitUntil([&] { return count("CHANNEL", "c1", "ChannelSize") == 0; }));
    agent_->stop();
    const auto out = lines();
    CHECK(std::set<std::string>(out.begin(), out.end()).size() == static_cast<std::size_t>(kTotal));
  }

  const TempDir& tmp() const { return tmp_; }
  Diagnostics diags;

 private:
  AgentConfig config(const std::string& capacity, const std::string& extra, Diagnostics& d) {
    const std::string text = R"(
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = test.header_seq
a1.sources.r1.totalEvents = )" +
                             std::to_string(kTotal) + R"(
a1.sources.r1.batchSize = 10
a1.sources.r1.sleepMs = 2
a1.sources.r1.channels = c1
a1.channels.c1.type = test.fault_channel
a1.channels.c1.capacity = )" +
                             capacity + R"(
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.batchSize = 20
a1.sinks.k1.outFile = )" + (tmp_ / "out").string() +
                             "\n" + extra;
    return buildAgentConfig(parseProperties(text, "reload.properties"), "a1", d);
  }

  std::string failing() const {
    return "a1.sinks.k1.failFile = " + (tmp_ / "fail").string() + "\n";
  }

  int64_t count(const std::string& kind, const std::string& name, const std::string& counter) {
    sdk::CounterGroup* g = agent_->counters(kind, name);
    REQUIRE(g != nullptr);
    return g->get(counter).value_or(-1);
  }

  // The bodies k1 wrote, one per line.
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(sluice::testing::readFile(tmp_ / "out"));
    for (std::string line; std::getline(in, line);) out.push_back(line.substr(0, line.find(' ')));
    return out;
  }

  LogHub logs_{sdk::LogLevel::warn};
  PluginRegistry registry_;
  Diagnostics loadDiags_;
  TempDir tmp_;
  std::unique_ptr<Agent> agent_;
  sdk::CounterGroup* oldChannel_ = nullptr;
  sdk::CounterGroup* oldSource_ = nullptr;
};

}  // namespace

TEST_CASE("reload: a new channel whose getTransaction() throws is rolled back, nothing lost") {
  ReloadRun run("");
  // The new channel starts; moving the old one's events into it throws on the first put.
  CHECK_FALSE(run.reload("a1.channels.c1.throwOnTransaction = true\n"));
  CHECK(run.errors().find("configuration reload failed: getTransaction() fails on purpose") !=
        std::string::npos);
  run.checkOldPipelineDeliversEveryEventOnce();
}

TEST_CASE("reload: the old channel's getTransaction() throwing while events move rolls back") {
  TempDir control;
  const std::string throwFile = (control / "throw").string();
  ReloadRun run("a1.channels.c1.throwWhileExists = " + throwFile + "\n");
  // From here the old channel throws to everyone: its source (which retries), its failing sink,
  // and the reload's first take from it.
  sluice::testing::writeFile(throwFile, "");
  const bool reloaded = run.reload("");
  std::filesystem::remove(throwFile);
  CHECK_FALSE(reloaded);
  CHECK(run.errors().find("configuration reload failed: getTransaction() fails on purpose") !=
        std::string::npos);
  run.checkOldPipelineDeliversEveryEventOnce();
}

TEST_CASE("reload: a new channel whose start() fails is rolled back, nothing lost") {
  ReloadRun run("");
  // The old channel is stopped to let the new one take over (as for a durable channel on the
  // same directories), then the new one still fails: the old one must start again.
  CHECK_FALSE(run.reload("a1.channels.c1.failStart = true\n"));
  CHECK(run.errors().find("configuration reload failed: a1.channels.c1 failed to start: start() "
                          "fails on purpose") != std::string::npos);
  run.checkOldPipelineDeliversEveryEventOnce();
}

TEST_CASE("reload: std::bad_alloc at any step leaves the old pipeline running, nothing lost") {
  // Fails the reload at its 1st step, then at its 2nd, ... until one gets through every step.
  // Events already moved into the new channel are delivered by the new sink before the old
  // pipeline comes back, or, when that sink fails too, moved back into the old channel.
  bool newSinkFails = false;
  SUBCASE("the new sink works") { newSinkFails = false; }
  SUBCASE("the new sink fails too") { newSinkFails = true; }
  CAPTURE(newSinkFails);
  std::set<std::string> failedAt;
  int failAt = 1;
  for (;; ++failAt) {
    CAPTURE(failAt);
    int steps = 0;
    std::string injected;
    const std::function<void(const std::string&)> hook = [&](const std::string& step) {
      if (++steps == failAt) {
        injected = step;
        throw std::bad_alloc();
      }
    };
    AgentOptions options = fastBackoff();
    options.reloadStepHook = &hook;
    ReloadRun run("", options);
    const bool reloaded = run.reload("", newSinkFails);
    if (injected.empty()) {
      // No step left to fail: this reload went through.
      CHECK(reloaded);
      run.checkNewPipelineDeliversEveryEvent();
      break;
    }
    CAPTURE(injected);
    failedAt.insert(injected);
    CHECK_FALSE(reloaded);
    CHECK(run.errors().find("std::bad_alloc") != std::string::npos);
    run.checkOldPipelineDeliversEveryEventOnce();
    REQUIRE(failAt < 200);  // the step count is bounded by the events to move
  }
  // Every kind of step failed once: planning, building, stopping, starting, moving events.
  for (const char* step :
       {"plan", "build channel c1", "build sink k1", "build source r1", "stop replaced sources",
        "stop replaced sinks", "start channel c1", "start new channels and sinks",
        "move a batch out of channel c1", "start new sources"}) {
    const std::string name = step;
    CAPTURE(name);
    CHECK(failedAt.count(name) == 1);
  }
}
