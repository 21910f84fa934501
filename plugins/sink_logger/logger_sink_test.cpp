#include "logger_sink.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "capture_logger.hpp"
#include "fake_channels.hpp"
#include "host_context.hpp"
#include "memory_channel.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::logger::appendEventDump;
using sluice::plugins::logger::LoggerSink;
using sluice::plugins::logger::loggerSinkSchema;
using sluice::plugins::memory::MemoryChannel;

namespace {

using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::FlakyChannel;

sdk::Context contextOf(const char* path,
                       std::initializer_list<std::pair<const char*, const char*>> kv) {
  sdk::Context ctx(path);
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configure as the host does: schema check, defaults filled in.
sdk::Result configure(LoggerSink& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, loggerSinkSchema(), ctx, "logger");
}
sdk::Result configure(MemoryChannel& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(
      object, sluice::plugins::memory::memoryChannelSchema(), ctx, "memory");
}

void put(sdk::Channel& ch, std::initializer_list<const char*> bodies) {
  sdk::EventBatch batch;
  for (const char* b : bodies) batch.emplace_back(b);
  sdk::TransactionGuard tx(ch);
  REQUIRE(tx->putBatch(batch).ok());
  REQUIRE(tx.commit().ok());
}

struct Fixture {
  MemoryChannel channel;
  CaptureLogger log;
  LoggerSink sink;

  explicit Fixture(std::initializer_list<std::pair<const char*, const char*>> kv) {
    log.min = sdk::LogLevel::info;  // as the host's default level
    REQUIRE(configure(channel, contextOf("a1.channels.c1", {{"keep-alive", "0"}})).ok());
    sdk::HostAccess::attach(sink, "k1", &log);
    sdk::HostAccess::setChannel(sink, &channel);
    sdk::Result r = configure(sink, contextOf("a1.sinks.k1", kv));
    REQUIRE_MESSAGE(r.ok(), r.error());
    REQUIRE(sdk::HostAccess::start(channel).ok());
    REQUIRE(sdk::HostAccess::start(sink).ok());
  }
  // What the sink logged at info level (the event dumps), in order.
  std::vector<std::string> lines() const { return log.messagesAt(sdk::LogLevel::info); }
};

std::string dump(const sdk::Event& e, std::size_t maxBytes = 16) {
  std::string out;
  appendEventDump(out, e, maxBytes);
  return out;
}


}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(loggerSinkSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("events are rendered as Flume's EventHelper.dumpEvent renders them") {
  // The line Flume's quick start shows for "hello world\r".
  CHECK(dump(sdk::Event("hello world\r")) ==
        "{ headers:{} body: 68 65 6C 6C 6F 20 77 6F 72 6C 64 0D             hello world. }");
  CHECK(dump(sdk::Event("123")) == "{ headers:{} body: 31 32 33" + std::string(40, ' ') + "123 }");
  CHECK(dump(sdk::Event("")) == "{ headers:{} body: }");

  sdk::Event withHeaders("x");
  withHeaders.headers.set("host", "web1");
  withHeaders.headers.set("timestamp", "1700000000000");
  CHECK(dump(withHeaders) ==
        "{ headers:{host=web1, timestamp=1700000000000} body: 78" + std::string(46, ' ') + "x }");

  // Cut to maxBytes; bytes outside 0x20..0x7E print as '.'.
  CHECK(dump(sdk::Event(std::string("\x00\xff"
                                    "abcdefghijklmnopqrstuvwxyz",
                                    28))) ==
        "{ headers:{} body: 00 FF 61 62 63 64 65 66 67 68 69 6A 6B 6C 6D 6E ..abcdefghijklmn }");
  CHECK(dump(sdk::Event("abcdef"), 2) ==
        "{ headers:{} body: 61 62" + std::string(43, ' ') + "ab }");
  CHECK(dump(sdk::Event("abcdef"), 0) == "{ headers:{} body: }");

  // More than 16 bytes: later lines keep their offsets, as commons-io HexDump prints them.
  CHECK(dump(sdk::Event("0123456789abcdefXY"), 32) ==
        "{ headers:{} body: 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 0123456789abcdef\n"
        "00000010 58 59" +
            std::string(43, ' ') + "XY }");
}

TEST_CASE("logs each event at INFO, in batches, and drains the channel") {
  Fixture f({{"batchSize", "2"}});
  put(f.channel, {"a", "b", "c"});
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::READY);
  CHECK(f.lines().size() == 2);
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::READY);  // a short batch is still work
  REQUIRE(f.lines().size() == 3);
  CHECK(f.lines()[0] == "Event: " + dump(sdk::Event("a")));
  CHECK(f.lines()[2] == "Event: " + dump(sdk::Event("c")));
  auto idle = sdk::HostAccess::process(f.sink);
  CHECK(idle.status == sdk::Status::BACKOFF);
  CHECK_FALSE(idle.failed);
  CHECK(f.channel.size() == 0);

  const auto& c = f.sink.sinkCounter();
  CHECK(c.get(sdk::SinkCounter::BatchCompleteCount) == 1);
  CHECK(c.get(sdk::SinkCounter::BatchUnderflowCount) == 1);
  CHECK(c.get(sdk::SinkCounter::BatchEmptyCount) == 1);
  CHECK(c.get(sdk::SinkCounter::EventDrainAttemptCount) == 3);
  CHECK(c.getEventDrainSuccessCount() == 3);
}

TEST_CASE("maxBytesToLog applies and the default batch is 100") {
  Fixture f({{"maxBytesToLog", "4"}});
  sdk::EventBatch batch;
  for (int i = 0; i < 150; ++i) batch.emplace_back("0123456789");
  {
    REQUIRE(configure(f.channel, contextOf("a1.channels.c1",
                                           {{"capacity", "1000"}, {"transactionCapacity", "200"}}))
                .ok());
    sdk::TransactionGuard tx(f.channel);
    REQUIRE(tx->putBatch(batch).ok());
    REQUIRE(tx.commit().ok());
  }
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::READY);
  CHECK(f.lines().size() == 100);
  CHECK(f.lines()[0] == "Event: { headers:{} body: 30 31 32 33" + std::string(37, ' ') + "0123 }");
}

TEST_CASE("with INFO disabled the sink still drains") {
  Fixture f({});
  f.log.min = sdk::LogLevel::warn;
  put(f.channel, {"a", "b"});
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::READY);
  CHECK(f.lines().empty());
  CHECK(f.channel.size() == 0);
}

TEST_CASE("a failed commit rolls back and the events are delivered again") {
  Fixture f({});
  FlakyChannel flaky(f.channel);
  sdk::HostAccess::setChannel(f.sink, &flaky);
  put(f.channel, {"a", "b"});
  flaky.failCommits = 1;
  auto out = sdk::HostAccess::process(f.sink);
  CHECK(out.status == sdk::Status::BACKOFF);
  CHECK(out.failed);
  CHECK(out.error.find("commit refused") != std::string::npos);
  CHECK(f.channel.size() == 2);  // rolled back
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::READY);
  CHECK(f.channel.size() == 0);
  REQUIRE(f.lines().size() == 4);  // logged, then logged again on redelivery
  CHECK(f.lines()[2] == f.lines()[0]);
  CHECK(f.sink.sinkCounter().getEventDrainSuccessCount() == 2);
  CHECK(f.sink.sinkCounter().get(sdk::SinkCounter::ChannelReadFail) == 1);

  flaky.failTakes = true;
  auto bad = sdk::HostAccess::process(f.sink);
  CHECK(bad.failed);
  CHECK(bad.error.find("disk on fire") != std::string::npos);
}

TEST_CASE("configure errors name the key") {
  auto errorOf = [](std::initializer_list<std::pair<const char*, const char*>> kv) {
    LoggerSink s;
    sdk::Result r = configure(s, contextOf("a1.sinks.k1", kv));
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  CHECK(errorOf({{"maxBytesToLog", "-1"}}).find("a1.sinks.k1.maxBytesToLog:") == 0);
  CHECK(
      errorOf({{"maxBytesToLog", "many"}}).find("a1.sinks.k1.maxBytesToLog: expected an integer") ==
      0);
  CHECK(errorOf({{"batchSize", "0"}}).find("a1.sinks.k1.batchSize:") == 0);
}

TEST_CASE("start and stop are repeatable") {
  Fixture f({});
  for (int i = 0; i < 2; ++i) {
    CHECK(sdk::HostAccess::stop(f.sink).ok());
    CHECK(sdk::HostAccess::stop(f.sink).ok());
    CHECK(sdk::HostAccess::start(f.sink).ok());
    CHECK(sdk::HostAccess::start(f.sink).ok());
  }
  put(f.channel, {"a"});
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::READY);
  CHECK(f.lines().size() == 1);
}
