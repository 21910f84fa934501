// Unit tests of the sink processors' timing rules (failover penalties, load_balance backoff) with
// a stepped clock instead of sleeping through 2^n-second penalties, the random selector's spread,
// and the interceptor contract the channel processor enforces. In-test sinks and interceptors:
// the pipeline tests (tests/runtime) cover the same processors end to end with real plugins.

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "core/runtime/channel_processor.hpp"
#include "core/runtime/sink_processor.hpp"
#include "sluice/sdk/host_access.hpp"
#include "sluice/sdk/selector.hpp"

using namespace sluice;
using namespace sluice::core;
using namespace std::chrono_literals;
using Clock = SinkProcessor::Clock;

namespace {

std::shared_ptr<spdlog::logger> quietLog() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

// A sink that fails while `failing` is set and counts its calls.
class ScriptedSink final : public sdk::AbstractSink {
 public:
  explicit ScriptedSink(std::string name) {
    sdk::HostAccess::attach(*this, std::move(name), nullptr);
  }
  bool failing = false;
  int calls = 0;
  sdk::Status process() override {
    ++calls;
    if (failing) return deliveryFailed("failing on purpose");
    return sdk::Status::READY;
  }
};

struct Group {
  std::vector<std::unique_ptr<ScriptedSink>> sinks;
  std::unique_ptr<SinkProcessor> proc;
  Clock::time_point t = Clock::now();

  Group(const std::string& type, const std::map<std::string, std::string>& keys, int n) {
    std::vector<sdk::Sink*> ptrs;
    for (int i = 1; i <= n; ++i) {
      sinks.push_back(std::make_unique<ScriptedSink>("k" + std::to_string(i)));
      ptrs.push_back(sinks.back().get());
    }
    sdk::Context ctx("a1.sinkgroups.g1.processor");
    for (const auto& [k, v] : keys) ctx.put(k, v);
    Diagnostics diags;
    proc = makeSinkProcessor(type, ctx, ptrs, quietLog(), diags);
    REQUIRE_MESSAGE(proc, (diags.items().empty() ? "" : diags.items().front().message));
    proc->setClock([this] { return t; });
  }
  ScriptedSink& operator[](int i) { return *sinks[static_cast<std::size_t>(i - 1)]; }
  sdk::ProcessOutcome step() { return proc->process(); }
};

}  // namespace

TEST_CASE("failover: a failed sink is parked min(maxpenalty, 2^failures s), then tried again") {
  Group g("failover", {{"priority.k1", "10"}, {"priority.k2", "5"}, {"maxpenalty", "5000"}}, 2);
  g[1].failing = true;
  // Failure 1 parks k1 for 2 s; k2 takes the batch in the same call.
  CHECK_FALSE(g.step().failed);
  CHECK(g[1].calls == 1);
  CHECK(g[2].calls == 1);
  CHECK(g.proc->sinksInBackoff() == 1);
  g.t += 1999ms;
  g.step();
  CHECK(g[1].calls == 1);  // still parked
  g.t += 1ms;
  g.step();
  CHECK(g[1].calls == 2);  // failure 2: parked for 4 s
  g.t += 3999ms;
  g.step();
  CHECK(g[1].calls == 2);
  g.t += 1ms;
  g.step();
  CHECK(g[1].calls == 3);  // failure 3: 8 s, capped by maxpenalty at 5 s
  g.t += 4999ms;
  g.step();
  CHECK(g[1].calls == 3);
  g.t += 1ms;
  g[1].failing = false;  // the primary recovers: it takes the traffic again
  const int k2Before = g[2].calls;
  g.step();
  g.step();
  CHECK(g[1].calls == 5);
  CHECK(g[2].calls == k2Before);
  CHECK(g.proc->activeSink() == 0);
  CHECK(g.proc->sinksInBackoff() == 0);
  // Back to a clean record: the next failure parks it for 2 s again, not 16.
  g[1].failing = true;
  g.step();
  g.t += 2000ms;
  g.step();
  CHECK(g[1].calls == 7);
}

TEST_CASE("failover: maxpenalty defaults to Flume's 30000 ms") {
  Group g("failover", {{"priority.k1", "10"}, {"priority.k2", "5"}}, 2);
  g[1].failing = true;
  g.step();  // failures: 1 -> 2 s
  for (int failures = 2; failures <= 5; ++failures) {
    g.t += std::chrono::milliseconds(1000LL << (failures - 1));
    g.step();
    CHECK(g[1].calls == failures);
  }
  // After 5 failures 2^5 s = 32 s is capped at 30 s.
  g.t += 29999ms;
  g.step();
  CHECK(g[1].calls == 5);
  g.t += 1ms;
  g.step();
  CHECK(g[1].calls == 6);
}

TEST_CASE("failover: sinks without a priority rank below those with one, in config order") {
  Group g("failover", {{"priority.k3", "-5"}}, 3);
  // Flume gives unset priorities -1, -2, ...: k1 (-1) first, then k2 (-2), then k3 (-5).
  g.step();
  CHECK(g[1].calls == 1);
  g[1].failing = true;
  g.step();
  CHECK(g[2].calls == 1);
  CHECK(g[3].calls == 0);
}

TEST_CASE("load_balance backoff grows 2^failures s and is capped by selector.maxTimeOut") {
  Group g("load_balance", {{"backoff", "true"}, {"selector.maxTimeOut", "3000"}}, 2);
  g[1].failing = true;
  int k1 = 0;
  // Round robin: k1 is tried first on every other call until it fails; then it sits out.
  for (int i = 0; i < 4; ++i) g.step();
  k1 = g[1].calls;
  CHECK(k1 == 1);
  g.t += 1999ms;
  for (int i = 0; i < 4; ++i) g.step();
  CHECK(g[1].calls == k1);
  g.t += 1ms;  // 2 s after failure 1
  for (int i = 0; i < 4; ++i) g.step();
  CHECK(g[1].calls == k1 + 1);  // failure 2: 4 s, capped at 3 s
  g.t += 2999ms;
  for (int i = 0; i < 4; ++i) g.step();
  CHECK(g[1].calls == k1 + 1);
  g.t += 1ms;
  for (int i = 0; i < 4; ++i) g.step();
  CHECK(g[1].calls == k1 + 2);
  CHECK(g[2].calls == 20);  // k2 delivered every batch in the meantime
}

TEST_CASE("load_balance: selector.maxTimeOut defaults to 30000 ms; without backoff no sink sits out") {
  Group g("load_balance", {{"backoff", "true"}}, 2);
  g[1].failing = true;
  g.step();
  for (int failures = 2; failures <= 5; ++failures) {
    g.t += std::chrono::milliseconds(1000LL << (failures - 1));
    for (int i = 0; i < 2; ++i) g.step();
    CHECK(g[1].calls == failures);
  }
  g.t += 29999ms;
  for (int i = 0; i < 2; ++i) g.step();
  CHECK(g[1].calls == 5);
  g.t += 1ms;
  for (int i = 0; i < 2; ++i) g.step();
  CHECK(g[1].calls == 6);

  Group plain("load_balance", {}, 2);
  plain[1].failing = true;
  for (int i = 0; i < 10; ++i) CHECK_FALSE(plain.step().failed);
  CHECK(plain[1].calls >= 4);  // tried on its turns although it keeps failing
  CHECK(plain.proc->sinksInBackoff() == 0);
}

TEST_CASE("load_balance selector = random spreads within a stated tolerance") {
  Group g("load_balance", {{"selector", "random"}}, 3);
  constexpr int kCalls = 6000;
  for (int i = 0; i < kCalls; ++i) CHECK_FALSE(g.step().failed);
  // Each sink gets a third; 6000 fair draws stay within +-10% of 2000 with overwhelming odds.
  for (int k = 1; k <= 3; ++k) {
    CAPTURE(k);
    CHECK(g[k].calls > 1800);
    CHECK(g[k].calls < 2200);
  }
  // And it is not round robin in disguise: some sink gets two batches in a row.
  Group h("load_balance", {{"selector", "random"}}, 2);
  int repeats = 0, last = 0;
  for (int i = 0; i < 100; ++i) {
    const int before1 = h[1].calls;
    h.step();
    const int now = h[1].calls > before1 ? 1 : 2;
    if (now == last) ++repeats;
    last = now;
  }
  CHECK(repeats > 0);
}

namespace {

// Interceptors that keep, drop or (against the contract) add events.
class CountingInterceptor final : public sdk::Interceptor {
 public:
  explicit CountingInterceptor(int addPerBatch) : add_(addPerBatch) {}
  bool intercept(sdk::Event&) override { return true; }
  void intercept(sdk::EventBatch& events) override {
    for (int i = 0; i < add_; ++i) events.emplace_back("extra");
  }

 private:
  int add_;
};

// A selector with no channels, so a batch that gets past the interceptors is dropped quietly.
class NoChannelSelector final : public sdk::ChannelSelector {
 public:
  const std::vector<sdk::Channel*>& getRequiredChannels(const sdk::Event&) noexcept override {
    return none_;
  }
  const std::vector<sdk::Channel*>& getOptionalChannels(const sdk::Event&) noexcept override {
    return none_;
  }

 private:
  std::vector<sdk::Channel*> none_;
};

}  // namespace

TEST_CASE("an interceptor that adds events to a batch is refused and counted") {
  std::vector<std::unique_ptr<sdk::Interceptor>> chain;
  chain.push_back(std::make_unique<CountingInterceptor>(0));
  chain.push_back(std::make_unique<CountingInterceptor>(1));
  PluginPtr<sdk::ChannelSelector> selector(new NoChannelSelector(), {});
  ChannelProcessorImpl proc("a1.sources.r1", std::move(selector), std::move(chain), {}, quietLog());
  REQUIRE(proc.initialize().ok());
  sdk::EventBatch batch;
  for (int i = 0; i < 5; ++i) batch.emplace_back("e" + std::to_string(i));
  sdk::Result r = proc.processEventBatch(batch);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("interceptor 2 of the chain returned 6 events for a batch of 5") !=
        std::string::npos);
  CHECK(batch.empty());
  CHECK(proc.interceptorCounters(0).get("InterceptFailCount") == 0);
  CHECK(proc.interceptorCounters(1).get("InterceptFailCount") == 1);
  CHECK(proc.interceptorCounters(1).get("EventAcceptedCount") == 0);
  proc.close();
}
