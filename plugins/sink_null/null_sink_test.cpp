#include "null_sink.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "fake_channels.hpp"
#include "host_context.hpp"
#include "memory_channel.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::memory::MemoryChannel;
using sluice::plugins::null::NullSink;
using sluice::plugins::null::nullSinkSchema;

namespace {

using sluice::plugins::testing::FlakyChannel;

sdk::Context contextOf(const char* path,
                       std::initializer_list<std::pair<const char*, const char*>> kv) {
  sdk::Context ctx(path);
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configure as the host does: schema check, defaults filled in.
sdk::Result configure(NullSink& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, nullSinkSchema(), ctx, "null");
}
sdk::Result configure(MemoryChannel& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(
      object, sluice::plugins::memory::memoryChannelSchema(), ctx, "memory");
}

void putN(sdk::Channel& ch, int n) {  // in transactions of at most 1000 events
  for (int from = 0; from < n; from += 1000) {
    sdk::EventBatch batch;
    for (int i = from; i < std::min(n, from + 1000); ++i) batch.emplace_back(std::to_string(i));
    sdk::TransactionGuard tx(ch);
    REQUIRE(tx->putBatch(batch).ok());
    REQUIRE(tx.commit().ok());
  }
}

struct Fixture {
  MemoryChannel channel;
  NullSink sink;

  explicit Fixture(std::initializer_list<std::pair<const char*, const char*>> kv) {
    REQUIRE(configure(channel, contextOf("a1.channels.c1", {{"capacity", "10000"},
                                                            {"transactionCapacity", "1000"},
                                                            {"keep-alive", "0"}}))
                .ok());
    sdk::HostAccess::setChannel(sink, &channel);
    sdk::Result r = configure(sink, contextOf("a1.sinks.k1", kv));
    REQUIRE_MESSAGE(r.ok(), r.error());
    REQUIRE(sdk::HostAccess::start(channel).ok());
    REQUIRE(sdk::HostAccess::start(sink).ok());
  }
};


}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(nullSinkSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("drains in batches of batchSize, BACKOFF only when empty") {
  Fixture f({});
  putN(f.channel, 250);
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::READY);
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::READY);
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::READY);  // 50: short but not empty
  auto idle = sdk::HostAccess::process(f.sink);
  CHECK(idle.status == sdk::Status::BACKOFF);
  CHECK_FALSE(idle.failed);
  CHECK(f.channel.size() == 0);
  const auto& c = f.sink.sinkCounter();
  CHECK(c.get(sdk::SinkCounter::BatchCompleteCount) == 2);
  CHECK(c.get(sdk::SinkCounter::BatchUnderflowCount) == 1);
  CHECK(c.get(sdk::SinkCounter::BatchEmptyCount) == 1);
  CHECK(c.get(sdk::SinkCounter::EventDrainAttemptCount) == 250);
  CHECK(c.getEventDrainSuccessCount() == 250);
  CHECK(f.channel.channelCounter().get(sdk::ChannelCounter::EventTakeSuccessCount) == 250);
}

TEST_CASE("batchSize is honoured") {
  Fixture f({{"batchSize", "1000"}});
  putN(f.channel, 2500);
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::READY);
  CHECK(f.channel.size() == 1500);
}

TEST_CASE("a failed commit rolls back; the events are drained again later") {
  Fixture f({{"batchSize", "10"}});
  FlakyChannel flaky(f.channel);
  sdk::HostAccess::setChannel(f.sink, &flaky);
  putN(f.channel, 10);
  flaky.failCommits = 1;
  auto out = sdk::HostAccess::process(f.sink);
  CHECK(out.status == sdk::Status::BACKOFF);
  CHECK(out.failed);
  CHECK(out.error.find("commit refused") != std::string::npos);
  CHECK(f.channel.size() == 10);
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::READY);
  CHECK(f.channel.size() == 0);
  CHECK(f.sink.sinkCounter().getEventDrainSuccessCount() == 10);
  CHECK(f.sink.sinkCounter().get(sdk::SinkCounter::EventDrainAttemptCount) == 20);
  CHECK(f.sink.sinkCounter().get(sdk::SinkCounter::ChannelReadFail) == 1);

  flaky.failTakes = true;
  auto bad = sdk::HostAccess::process(f.sink);
  CHECK(bad.failed);
  CHECK(bad.error.find("disk on fire") != std::string::npos);
  CHECK(f.sink.sinkCounter().get(sdk::SinkCounter::ChannelReadFail) == 2);
}

TEST_CASE("configure errors name the key") {
  auto errorOf = [](std::initializer_list<std::pair<const char*, const char*>> kv) {
    NullSink s;
    sdk::Result r = configure(s, contextOf("a1.sinks.k1", kv));
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  CHECK(errorOf({{"batchSize", "0"}}).find("a1.sinks.k1.batchSize:") == 0);
  CHECK(errorOf({{"batchSize", "lots"}}).find("a1.sinks.k1.batchSize: expected an integer") == 0);
  CHECK(errorOf({{"batchSize", "99999999999"}}).find("a1.sinks.k1.batchSize:") == 0);
}

TEST_CASE("start and stop are repeatable") {
  Fixture f({});
  for (int i = 0; i < 2; ++i) {
    CHECK(sdk::HostAccess::stop(f.sink).ok());
    CHECK(sdk::HostAccess::stop(f.sink).ok());
    CHECK(sdk::HostAccess::start(f.sink).ok());
    CHECK(sdk::HostAccess::start(f.sink).ok());
  }
  putN(f.channel, 3);
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::READY);
  CHECK(f.channel.size() == 0);
}
