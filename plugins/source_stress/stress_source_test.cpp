#include "stress_source.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <vector>
#include "host_context.hpp"
#include "readme_schema_check.hpp"
#include "recording_processor.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::stress::StressSource;
using sluice::plugins::stress::stressSourceSchema;

namespace {

using FakeProcessor = sluice::plugins::testing::RecordingProcessor;

// Whether every accepted event has no headers and this body (the stress source's filler).
bool allEventsAre(const FakeProcessor& p, const std::string& body) {
  const auto bodies = p.snapshot();
  for (std::size_t i = 0; i < bodies.size(); ++i)
    if (bodies[i] != body || !p.headersOf(i).empty()) return false;
  return true;
}

sdk::Context contextOf(std::initializer_list<std::pair<const char*, const char*>> kv) {
  sdk::Context ctx("a1.sources.r1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, stressSourceSchema(), ctx,
                                                   "org.apache.flume.source.StressSource");
}

struct Fixture {
  FakeProcessor processor;
  StressSource source;

  explicit Fixture(std::initializer_list<std::pair<const char*, const char*>> kv) {
    sdk::HostAccess::attach(source, "r1", nullptr);
    sdk::HostAccess::setChannelProcessor(source, &processor);
    sdk::Result r = configure(source, contextOf(kv));
    REQUIRE_MESSAGE(r.ok(), r.error());
    REQUIRE(sdk::HostAccess::start(source).ok());
  }
};

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}


}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(stressSourceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("defaults: one 500-byte event per call, no limit") {
  Fixture f({});
  for (int i = 0; i < 5; ++i) CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::READY);
  CHECK(f.processor.count() == 5);
  CHECK(allEventsAre(f.processor, std::string(500, '\x7f')));
  CHECK(f.processor.batchSizes() == std::vector<std::size_t>(5, 1));
}

TEST_CASE("size and batchSize shape the events") {
  Fixture f({{"size", "3"}, {"batchSize", "50"}});
  CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::READY);
  CHECK(f.processor.batchSizes() == std::vector<std::size_t>{50});
  CHECK(allEventsAre(f.processor, "\x7f\x7f\x7f"));
  Fixture empty({{"size", "0"}});
  CHECK(sdk::HostAccess::process(empty.source).status == sdk::Status::READY);
  CHECK(allEventsAre(empty.processor, ""));
}

TEST_CASE("maxTotalEvents: exact count, short last batch, then BACKOFF") {
  Fixture f({{"batchSize", "4"}, {"maxTotalEvents", "10"}});
  while (sdk::HostAccess::process(f.source).status == sdk::Status::READY) {
  }
  CHECK(f.processor.batchSizes() == std::vector<std::size_t>{4, 4, 2});
  CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::BACKOFF);
  CHECK(f.source.totalEvents() == 10);
  CHECK(f.source.successfulEvents() == 10);
  auto& c = f.source.sourceCounter();
  CHECK(c.getEventReceivedCount() == 10);
  CHECK(c.getEventAcceptedCount() == 10);
  CHECK(c.get(sdk::SourceCounter::AppendBatchAcceptedCount) == 3);
}

TEST_CASE("failed batches count toward maxTotalEvents, not maxSuccessfulEvents") {
  Fixture f({{"batchSize", "5"}, {"maxTotalEvents", "20"}});
  f.processor.failNext = 1;
  auto out = sdk::HostAccess::process(f.source);
  CHECK(out.status == sdk::Status::BACKOFF);
  CHECK(out.failed);
  while (sdk::HostAccess::process(f.source).status == sdk::Status::READY) {
  }
  CHECK(f.processor.count() == 15);  // Flume's maxTotalEvents bounds attempts
  CHECK(f.source.failedEvents() == 5);
  CHECK(f.source.sourceCounter().get(sdk::SourceCounter::ChannelWriteFail) == 1);

  Fixture g({{"batchSize", "5"}, {"maxSuccessfulEvents", "20"}});
  g.processor.failNext = 2;
  for (int i = 0; i < 10; ++i) (void)sdk::HostAccess::process(g.source);
  CHECK(g.processor.count() == 20);
  CHECK(g.source.totalEvents() == 30);
  CHECK(sdk::HostAccess::process(g.source).status == sdk::Status::BACKOFF);
}

TEST_CASE("maxEventsPerSecond limits the rate without long calls") {
  Fixture f({{"batchSize", "10"}, {"maxEventsPerSecond", "200"}});
  auto t0 = std::chrono::steady_clock::now();
  double longestCall = 0;
  while (f.processor.count() < 100 && secondsSince(t0) < 10) {
    auto c0 = std::chrono::steady_clock::now();
    CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::READY);
    longestCall = std::max(longestCall, secondsSince(c0));
  }
  const double elapsed = secondsSince(t0);
  CHECK(f.processor.count() == 100);
  // The first batch goes at once, the other nine at 200/s: 0.45 s.
  CHECK(elapsed >= 0.35);
  CHECK(elapsed < 3.0);
  CHECK(longestCall < 0.5);
}

TEST_CASE("a low rate returns to the runner instead of sleeping for seconds") {
  Fixture f({{"maxEventsPerSecond", "1"}});
  CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::READY);
  CHECK(f.processor.count() == 1);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::READY);
  CHECK(secondsSince(t0) < 0.5);
  CHECK(f.processor.count() == 1);  // nothing sent yet
}

TEST_CASE("configure errors name the key") {
  auto errorOf = [](std::initializer_list<std::pair<const char*, const char*>> kv) {
    StressSource s;
    sdk::Result r = configure(s, contextOf(kv));
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  CHECK(errorOf({{"size", "-1"}}).find("a1.sources.r1.size:") == 0);
  CHECK(errorOf({{"batchSize", "0"}}).find("a1.sources.r1.batchSize:") == 0);
  CHECK(errorOf({{"maxTotalEvents", "-2"}}).find("a1.sources.r1.maxTotalEvents:") == 0);
  CHECK(errorOf({{"maxSuccessfulEvents", "abc"}}).find("a1.sources.r1.maxSuccessfulEvents:") == 0);
  CHECK(errorOf({{"maxEventsPerSecond", "-1"}}).find("a1.sources.r1.maxEventsPerSecond:") == 0);
}

TEST_CASE("start and stop are repeatable") {
  Fixture f({{"batchSize", "2"}, {"maxTotalEvents", "6"}});
  CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::READY);
  for (int i = 0; i < 2; ++i) {
    CHECK(sdk::HostAccess::stop(f.source).ok());
    CHECK(sdk::HostAccess::stop(f.source).ok());
    CHECK(sdk::HostAccess::start(f.source).ok());
    CHECK(sdk::HostAccess::start(f.source).ok());
  }
  while (sdk::HostAccess::process(f.source).status == sdk::Status::READY) {
  }
  CHECK(f.processor.count() == 6);
}
