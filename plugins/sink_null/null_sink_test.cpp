#include "null_sink.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "host_context.hpp"
#include "memory_channel.hpp"
#include "readme_schema_check.hpp"

namespace sdk = sluice::sdk;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::memory::MemoryChannel;
using sluice::plugins::null::NullSink;
using sluice::plugins::null::nullSinkSchema;

namespace {

// Wraps a channel and fails the next `failCommits` commits or every take when failTakes.
class FlakyChannel final : public sdk::Channel {
 public:
  explicit FlakyChannel(sdk::Channel& inner) : inner_(inner) {}
  std::unique_ptr<sdk::Transaction> getTransaction() override {
    return std::make_unique<Tx>(*this, inner_.getTransaction());
  }
  int failCommits = 0;
  bool failTakes = false;

 private:
  struct Tx final : sdk::Transaction {
    Tx(FlakyChannel& ch, std::unique_ptr<sdk::Transaction> in) : ch(ch), in(std::move(in)) {}
    void begin() noexcept override { in->begin(); }
    sdk::Result putBatch(sdk::EventBatch& e) noexcept override { return in->putBatch(e); }
    sdk::Result takeBatch(std::size_t max, std::span<sdk::Event>& taken) noexcept override {
      if (ch.failTakes) return sdk::Result::failure("disk on fire");
      return in->takeBatch(max, taken);
    }
    sdk::Result commit() noexcept override {
      if (ch.failCommits > 0) {
        --ch.failCommits;
        return sdk::Result::failure("commit refused");
      }
      return in->commit();
    }
    void rollback() noexcept override { in->rollback(); }
    void close() noexcept override { in->close(); }
    FlakyChannel& ch;
    std::unique_ptr<sdk::Transaction> in;
  };
  sdk::Channel& inner_;
};

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
    sink.setChannel(&channel);
    sdk::Result r = configure(sink, contextOf("a1.sinks.k1", kv));
    REQUIRE_MESSAGE(r.ok(), r.error());
    REQUIRE(channel.hostStart().ok());
    REQUIRE(sink.hostStart().ok());
  }
};


}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(nullSinkSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("drains in batches of batchSize, BACKOFF only when empty") {
  Fixture f({});
  putN(f.channel, 250);
  CHECK(f.sink.hostProcess().status == sdk::Status::READY);
  CHECK(f.sink.hostProcess().status == sdk::Status::READY);
  CHECK(f.sink.hostProcess().status == sdk::Status::READY);  // 50: short but not empty
  auto idle = f.sink.hostProcess();
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
  CHECK(f.sink.hostProcess().status == sdk::Status::READY);
  CHECK(f.channel.size() == 1500);
}

TEST_CASE("a failed commit rolls back; the events are drained again later") {
  Fixture f({{"batchSize", "10"}});
  FlakyChannel flaky(f.channel);
  f.sink.setChannel(&flaky);
  putN(f.channel, 10);
  flaky.failCommits = 1;
  auto out = f.sink.hostProcess();
  CHECK(out.status == sdk::Status::BACKOFF);
  CHECK(out.failed);
  CHECK(out.error.find("commit refused") != std::string::npos);
  CHECK(f.channel.size() == 10);
  CHECK(f.sink.hostProcess().status == sdk::Status::READY);
  CHECK(f.channel.size() == 0);
  CHECK(f.sink.sinkCounter().getEventDrainSuccessCount() == 10);
  CHECK(f.sink.sinkCounter().get(sdk::SinkCounter::EventDrainAttemptCount) == 20);
  CHECK(f.sink.sinkCounter().get(sdk::SinkCounter::ChannelReadFail) == 1);

  flaky.failTakes = true;
  auto bad = f.sink.hostProcess();
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
    CHECK(f.sink.hostStop().ok());
    CHECK(f.sink.hostStop().ok());
    CHECK(f.sink.hostStart().ok());
    CHECK(f.sink.hostStart().ok());
  }
  putN(f.channel, 3);
  CHECK(f.sink.hostProcess().status == sdk::Status::READY);
  CHECK(f.channel.size() == 0);
}
