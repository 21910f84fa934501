// Unit tests of the sink processors' timing rules (failover penalties, load_balance backoff) with
// a stepped clock instead of sleeping through 2^n-second penalties, the random selector's spread,
// the interceptor contract the channel processor enforces, and how it carries a source's state.
// In-test sinks, channels and interceptors: the pipeline tests (tests/runtime) cover the same
// processors end to end with real plugins.

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
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

TEST_CASE(
    "load_balance: selector.maxTimeOut defaults to 30000 ms; without backoff no sink sits out") {
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

namespace {

// An in-test channel that records its committed events and, when `keeps`, source states the way
// a durable channel does: staged per transaction, kept on commit, dropped on rollback.
class StateChannel final : public sdk::Channel {
 public:
  StateChannel(std::string name, bool keeps) : keeps_(keeps) {
    sdk::HostAccess::attach(*this, std::move(name), nullptr);
  }
  std::vector<std::string> bodies;
  std::map<std::string, std::string, std::less<>> states;
  int commits = 0;
  bool failCommits = false;

  std::unique_ptr<sdk::Transaction> getTransaction() override {
    return std::make_unique<Tx>(*this);
  }
  sdk::Backlog backlog() const noexcept override { return sdk::Backlog::Unknown; }
  bool keepsSourceState() const noexcept override { return keeps_; }
  bool committedSourceState(std::string_view key, std::string& out) const noexcept override {
    auto it = states.find(key);
    if (!keeps_ || it == states.end()) return false;
    out = it->second;
    return true;
  }

 private:
  class Tx final : public sdk::Transaction {
   public:
    explicit Tx(StateChannel& ch) : ch_(ch) {}
    void begin() noexcept override {}
    sdk::Result putBatch(sdk::EventBatch& events) noexcept override {
      for (auto& e : events) puts_.push_back(e.body);
      events.clear();
      return sdk::Result::success();
    }
    sdk::Result putSourceState(std::string_view key, std::string_view value) noexcept override {
      if (!ch_.keeps_) return sdk::Transaction::putSourceState(key, value);
      state_.emplace(std::string(key), std::string(value));
      return sdk::Result::success();
    }
    sdk::Result takeBatch(std::size_t, std::span<sdk::Event>& taken) noexcept override {
      taken = {};
      return sdk::Result::success();
    }
    sdk::Result commit() noexcept override {
      if (ch_.failCommits) return sdk::Result::failure("commit refused on purpose");
      ch_.bodies.insert(ch_.bodies.end(), puts_.begin(), puts_.end());
      if (state_) ch_.states.insert_or_assign(state_->first, state_->second);
      ++ch_.commits;
      return sdk::Result::success();
    }
    void rollback() noexcept override {
      puts_.clear();
      state_.reset();
    }
    void close() noexcept override {}

   private:
    StateChannel& ch_;
    std::vector<std::string> puts_;
    std::optional<std::pair<std::string, std::string>> state_;
  };
  bool keeps_;
};

// Every event to all channels as required (the replicating selector's behaviour), or, with
// `onlyFirst`, every event to the first channel only (a multiplexing selector's mapping).
class AllRequiredSelector final : public sdk::ChannelSelector {
 public:
  AllRequiredSelector(std::vector<sdk::Channel*> channels, bool onlyFirst) {
    sdk::HostAccess::setChannels(*this, channels);
    required_ = onlyFirst ? std::vector<sdk::Channel*>{channels.front()} : channels;
  }
  const std::vector<sdk::Channel*>& getRequiredChannels(const sdk::Event&) noexcept override {
    return required_;
  }
  const std::vector<sdk::Channel*>& getOptionalChannels(const sdk::Event&) noexcept override {
    return none_;
  }

 private:
  std::vector<sdk::Channel*> required_, none_;
};

// Drops every event.
class DropAllInterceptor final : public sdk::Interceptor {
 public:
  bool intercept(sdk::Event&) override { return false; }
  void intercept(sdk::EventBatch& events) override { events.clear(); }
};

sdk::EventBatch bodies(std::initializer_list<const char*> texts) {
  sdk::EventBatch b;
  for (const char* t : texts) b.emplace_back(t);
  return b;
}

}  // namespace

TEST_CASE(
    "source state: reaches the channels that keep it, with the batch; others work as before") {
  StateChannel file("c1", true), memory("c2", false);
  PluginPtr<sdk::ChannelSelector> selector(new AllRequiredSelector({&file, &memory}, false), {});
  ChannelProcessorImpl proc("a1.sources.r1", std::move(selector), {}, {}, quietLog());
  REQUIRE(proc.initialize().ok());
  CHECK_FALSE(proc.committedState().has_value());  // nothing committed yet

  sdk::EventBatch batch = bodies({"1", "2"});
  REQUIRE(proc.processEventBatchWithState(batch, "offset=2").ok());
  CHECK(batch.empty());
  CHECK(file.bodies == std::vector<std::string>{"1", "2"});
  CHECK(memory.bodies == std::vector<std::string>{"1", "2"});
  CHECK(file.commits == 1);  // the state rode in the batch's own transaction
  CHECK(file.states.at("a1.sources.r1") == "offset=2");
  CHECK(memory.states.empty());
  CHECK(proc.committedState() == std::optional<std::string>("offset=2"));

  // The one-argument form records nothing.
  batch = bodies({"3"});
  REQUIRE(proc.processEventBatch(batch).ok());
  CHECK(file.states.at("a1.sources.r1") == "offset=2");

  // A refused commit keeps the old state: the batch is not in the channel either.
  file.failCommits = true;
  batch = bodies({"4"});
  CHECK_FALSE(proc.processEventBatchWithState(batch, "offset=4").ok());
  file.failCommits = false;
  CHECK(proc.committedState() == std::optional<std::string>("offset=2"));
  proc.close();
}

TEST_CASE("source state: a memory channel alone keeps none, and the batch still goes through") {
  StateChannel memory("c1", false);
  PluginPtr<sdk::ChannelSelector> selector(new AllRequiredSelector({&memory}, false), {});
  ChannelProcessorImpl proc("a1.sources.r1", std::move(selector), {}, {}, quietLog());
  sdk::EventBatch batch = bodies({"1"});
  REQUIRE(proc.processEventBatchWithState(batch, "offset=1").ok());
  CHECK(memory.bodies == std::vector<std::string>{"1"});
  CHECK(memory.commits == 1);
  CHECK_FALSE(proc.committedState().has_value());
}

TEST_CASE("source state: dropped batches and channels without events still get it") {
  SUBCASE("interceptors drop every event") {
    StateChannel file("c1", true);
    std::vector<std::unique_ptr<sdk::Interceptor>> chain;
    chain.push_back(std::make_unique<DropAllInterceptor>());
    PluginPtr<sdk::ChannelSelector> selector(new AllRequiredSelector({&file}, false), {});
    ChannelProcessorImpl proc("a1.sources.r1", std::move(selector), std::move(chain), {},
                              quietLog());
    REQUIRE(proc.initialize().ok());
    sdk::EventBatch batch = bodies({"1", "2"});
    REQUIRE(proc.processEventBatchWithState(batch, "offset=2").ok());
    CHECK(file.bodies.empty());
    CHECK(file.commits == 1);
    CHECK(proc.committedState() == std::optional<std::string>("offset=2"));
    proc.close();
  }
  SUBCASE("a channel the batch's events do not go to") {
    StateChannel c1("c1", true), c2("c2", true);
    PluginPtr<sdk::ChannelSelector> selector(new AllRequiredSelector({&c1, &c2}, true), {});
    ChannelProcessorImpl proc("a1.sources.r1", std::move(selector), {}, {}, quietLog());
    sdk::EventBatch batch = bodies({"1"});
    REQUIRE(proc.processEventBatchWithState(batch, "offset=1").ok());
    CHECK(c1.bodies == std::vector<std::string>{"1"});
    CHECK(c2.bodies.empty());
    CHECK(c2.states.at("a1.sources.r1") == "offset=1");
    CHECK(proc.committedState() == std::optional<std::string>("offset=1"));
  }
}

TEST_CASE("source state: channels that disagree give no state, so the source falls back") {
  StateChannel c1("c1", true), c2("c2", true);
  PluginPtr<sdk::ChannelSelector> selector(new AllRequiredSelector({&c1, &c2}, false), {});
  ChannelProcessorImpl proc("a1.sources.r1", std::move(selector), {}, {}, quietLog());
  // A crash between the two commits: c1 has the new state, c2 the old one.
  c1.states["a1.sources.r1"] = "offset=20";
  c2.states["a1.sources.r1"] = "offset=10";
  CHECK_FALSE(proc.committedState().has_value());
  // One that has none while the other has one (added later, or never reached): no state either.
  c2.states.clear();
  CHECK_FALSE(proc.committedState().has_value());
  // Agreeing: that value. Another source's key is not this source's state.
  c2.states["a1.sources.r1"] = "offset=20";
  c2.states["a1.sources.r9"] = "other";
  CHECK(proc.committedState() == std::optional<std::string>("offset=20"));
}
