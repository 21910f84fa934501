#include "seq_source.hpp"

#include <doctest/doctest.h>

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
using sluice::plugins::seq::seqSourceSchema;
using sluice::plugins::seq::SequenceSource;

namespace {

using FakeProcessor = sluice::plugins::testing::RecordingProcessor;

sdk::Context contextOf(std::initializer_list<std::pair<const char*, const char*>> kv) {
  sdk::Context ctx("a1.sources.r1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, seqSourceSchema(), ctx, "seq");
}

struct Fixture {
  FakeProcessor processor;
  SequenceSource source;

  explicit Fixture(std::initializer_list<std::pair<const char*, const char*>> kv) {
    sdk::HostAccess::attach(source, "r1", nullptr);
    sdk::HostAccess::setChannelProcessor(source, &processor);
    sdk::Result r = configure(source, contextOf(kv));
    REQUIRE_MESSAGE(r.ok(), r.error());
    REQUIRE(sdk::HostAccess::start(source).ok());
  }
};

std::vector<std::string> seq(long from, long to) {
  std::vector<std::string> v;
  for (long i = from; i <= to; ++i) v.push_back(std::to_string(i));
  return v;
}


}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(seqSourceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("defaults: one event per call, bodies count from 0") {
  Fixture f({});
  for (int i = 0; i < 3; ++i) CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::READY);
  CHECK(f.processor.snapshot() == seq(0, 2));
  CHECK(f.processor.batchSizes() == std::vector<std::size_t>{1, 1, 1});
}

TEST_CASE("batches and totalEvents: exact counts, then BACKOFF") {
  Fixture f({{"batchSize", "4"}, {"totalEvents", "10"}});
  CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::READY);
  CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::READY);
  CHECK(sdk::HostAccess::process(f.source).status ==
        sdk::Status::BACKOFF);  // the last, short batch
  auto idle = sdk::HostAccess::process(f.source);
  CHECK(idle.status == sdk::Status::BACKOFF);
  CHECK_FALSE(idle.failed);  // done is not a failure
  CHECK(f.processor.snapshot() == seq(0, 9));
  CHECK(f.processor.batchSizes() == std::vector<std::size_t>{4, 4, 2});
  CHECK(f.processor.calls() == 3);
  const auto& c = f.source.sourceCounter();
  CHECK(c.getEventReceivedCount() == 10);
  CHECK(c.getEventAcceptedCount() == 10);
  CHECK(c.get(sdk::SourceCounter::AppendBatchReceivedCount) == 3);
  CHECK(c.get(sdk::SourceCounter::AppendBatchAcceptedCount) == 3);
  CHECK(f.source.next() == 10);
}

TEST_CASE("totalEvents 0 generates nothing") {
  Fixture f({{"totalEvents", "0"}});
  CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::BACKOFF);
  CHECK(f.processor.calls() == 0);
}

TEST_CASE("a failed batch is regenerated with the same numbers") {
  Fixture f({{"batchSize", "3"}, {"totalEvents", "7"}});
  CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::READY);  // 0 1 2
  f.processor.failNext = 2;
  auto out = sdk::HostAccess::process(f.source);
  CHECK(out.status == sdk::Status::BACKOFF);
  CHECK(out.failed);
  CHECK(out.error.find("channel c1 is full") != std::string::npos);
  CHECK(sdk::HostAccess::process(f.source).failed);
  CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::READY);    // 3 4 5 again
  CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::BACKOFF);  // 6, done
  CHECK(f.processor.snapshot() == seq(0, 6));
  const auto& c = f.source.sourceCounter();
  CHECK(c.getEventReceivedCount() == 13);  // 7 + two failed attempts of 3
  CHECK(c.getEventAcceptedCount() == 7);
  CHECK(c.get(sdk::SourceCounter::ChannelWriteFail) == 2);
  CHECK(c.get(sdk::SourceCounter::AppendBatchReceivedCount) == 5);
  CHECK(c.get(sdk::SourceCounter::AppendBatchAcceptedCount) == 3);
}

TEST_CASE("digit carry across batch boundaries and widths") {
  Fixture f({{"batchSize", "7"}, {"totalEvents", "1205"}});
  while (sdk::HostAccess::process(f.source).status == sdk::Status::READY) {
  }
  CHECK(f.processor.snapshot() == seq(0, 1204));
}

TEST_CASE("one batch crossing several digit widths") {
  Fixture f({{"batchSize", "100000"}, {"totalEvents", "100000"}});
  CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::BACKOFF);
  const auto bodies = f.processor.snapshot();
  REQUIRE(bodies.size() == 100000);
  CHECK(bodies[99999] == "99999");
  CHECK(bodies[10000] == "10000");
}

TEST_CASE("configure errors name the key") {
  auto errorOf = [](std::initializer_list<std::pair<const char*, const char*>> kv) {
    SequenceSource s;
    sdk::Result r = configure(s, contextOf(kv));
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  // The range is the host's check now: its message, with the range from the schema.
  CHECK(errorOf({{"batchSize", "0"}}) ==
        "a1.sources.r1.batchSize: expected a value between 1 and 2147483647, got 0");
  CHECK(errorOf({{"batchSize", "x"}}).find("a1.sources.r1.batchSize: expected an integer") == 0);
  CHECK(errorOf({{"totalEvents", "-1"}}).find("a1.sources.r1.totalEvents:") == 0);
}

TEST_CASE("the host fills the schema defaults configure() reads") {
  FakeProcessor processor;
  SequenceSource s;
  sdk::HostAccess::setChannelProcessor(s, &processor);
  REQUIRE(configure(s, contextOf({})).ok());
  REQUIRE(sdk::HostAccess::start(s).ok());
  CHECK(sdk::HostAccess::process(s).status == sdk::Status::READY);
  CHECK(processor.batchSizes() == std::vector<std::size_t>{1});  // batchSize defaults to 1
}

// The back-off keys are the host's: tests/runtime/test_runners.cpp checks that they reach the
// runner.

TEST_CASE("start and stop are repeatable; the sequence continues") {
  Fixture f({{"batchSize", "2"}});
  CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::READY);
  for (int i = 0; i < 2; ++i) {
    CHECK(sdk::HostAccess::stop(f.source).ok());
    CHECK(sdk::HostAccess::stop(f.source).ok());
    CHECK(sdk::HostAccess::start(f.source).ok());
    CHECK(sdk::HostAccess::start(f.source).ok());
  }
  CHECK(sdk::HostAccess::process(f.source).status == sdk::Status::READY);
  CHECK(f.processor.snapshot() == seq(0, 3));
}
