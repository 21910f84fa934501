#include "spillable_memory_channel.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "readme_schema_check.hpp"

namespace sdk = sluice::sdk;
namespace fs = std::filesystem;
using sluice::plugins::spillable::spillableChannelSchema;
using sluice::plugins::spillable::SpillableMemoryChannel;
using sluice::plugins::testing::checkReadmeMatchesSchema;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/sluice-spill-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

using KV = std::vector<std::pair<std::string, std::string>>;

sdk::Context contextOf(const TempDir& d, const KV& extra) {
  sdk::Context ctx("a1.channels.c1");
  ctx.put("checkpointDir", (d.path / "checkpoint").string());
  ctx.put("dataDirs", (d.path / "data").string());
  ctx.put("minimumRequiredSpace", "0");
  ctx.put("overflowTimeout", "0");
  for (const auto& [k, v] : extra) ctx.put(k, v);
  return ctx;
}

struct Chan {
  std::unique_ptr<SpillableMemoryChannel> ch = std::make_unique<SpillableMemoryChannel>();
  Chan(const TempDir& d, const KV& extra) {
    sdk::Result r = ch->hostConfigure(contextOf(d, extra));
    REQUIRE_MESSAGE(r.ok(), r.error());
    r = ch->hostStart();
    REQUIRE_MESSAGE(r.ok(), r.error());
  }
  ~Chan() { (void)ch->hostStop(); }
  SpillableMemoryChannel* operator->() { return ch.get(); }
  SpillableMemoryChannel& operator*() { return *ch; }
};

sdk::EventBatch numbered(int from, int to, std::size_t pad = 0) {
  sdk::EventBatch b;
  for (int i = from; i <= to; ++i) {
    std::string s = std::to_string(i);
    if (pad > s.size()) s.append(pad - s.size(), ' ');
    b.emplace_back(std::move(s));
  }
  return b;
}

std::vector<std::string> seq(int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i <= to; ++i) v.push_back(std::to_string(i));
  return v;
}

sdk::Result putCommit(SpillableMemoryChannel& ch, sdk::EventBatch batch) {
  sdk::TransactionGuard tx(ch);
  sdk::Result r = tx->putBatch(batch);
  if (!r) return r;
  return tx.commit();
}

std::vector<std::string> takeCommit(SpillableMemoryChannel& ch, std::size_t max) {
  sdk::TransactionGuard tx(ch);
  std::span<sdk::Event> taken;
  sdk::Result r = tx->takeBatch(max, taken);
  CHECK_MESSAGE(r.ok(), r.error());
  std::vector<std::string> bodies;
  for (const auto& e : taken) {
    std::string b = e.body;
    while (!b.empty() && b.back() == ' ') b.pop_back();
    bodies.push_back(b);
  }
  CHECK(tx.commit().ok());
  return bodies;
}

std::vector<std::string> drain(SpillableMemoryChannel& ch) {
  std::vector<std::string> all;
  for (;;) {
    auto got = takeCommit(ch, 7);
    if (got.empty()) return all;
    all.insert(all.end(), got.begin(), got.end());
  }
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(spillableChannelSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("configure errors name the key") {
  TempDir d;
  auto err = [&](const KV& kv) {
    SpillableMemoryChannel ch;
    sdk::Result r = ch.hostConfigure(contextOf(d, kv));
    CHECK_FALSE(r.ok());
    return r.error();
  };
  CHECK(err({{"memoryCapacity", "0"}, {"overflowCapacity", "0"}})
            .find("a1.channels.c1.memoryCapacity:") == 0);
  CHECK(err({{"memoryCapacity", "10"}, {"overflowCapacity", "0"}, {"transactionCapacity", "20"}})
            .find("a1.channels.c1.transactionCapacity: transactionCapacity (20) must be <= "
                  "memoryCapacity (10)") == 0);
  CHECK(err({{"useDualCheckpoints", "true"}}).find("a1.channels.c1.backupCheckpointDir") == 0);
  CHECK(err({{"byteCapacity", "10"}}).find("a1.channels.c1.byteCapacity") == 0);
}

TEST_CASE("overflowCapacity=0: a pure memory channel that touches no directory") {
  TempDir d;
  Chan c(d, {{"memoryCapacity", "5"}, {"overflowCapacity", "0"}, {"transactionCapacity", "5"}});
  REQUIRE(putCommit(*c, numbered(1, 5)).ok());
  sdk::Result r = putCommit(*c, numbered(6, 6));
  CHECK(r.error().find("Space for commit to queue couldn't be acquired") == 0);
  CHECK_FALSE(fs::exists(d.path / "data"));
  CHECK(c->channelCounter().getChannelCapacity() == 5);
  CHECK(drain(*c) == seq(1, 5));
}

TEST_CASE("spills when memory is full and keeps the order across both sides") {
  TempDir d;
  Chan c(d, {{"memoryCapacity", "20"}, {"overflowCapacity", "1000"}});
  REQUIRE(putCommit(*c, numbered(1, 20)).ok());
  CHECK(c->memorySize() == 20);
  REQUIRE(putCommit(*c, numbered(21, 25)).ok());  // memory full: overflow
  CHECK(c->overflowSize() == 5);
  CHECK(c->channelCounter().getChannelSize() == 25);
  CHECK(takeCommit(*c, 10) == seq(1, 10));
  REQUIRE(putCommit(*c, numbered(26, 30)).ok());  // room again: back to memory
  CHECK(c->memorySize() == 15);
  CHECK(c->drainOrderSegments() == 3);
  CHECK(drain(*c) == seq(11, 30));
  CHECK(c->channelCounter().getChannelSize() == 0);
}

TEST_CASE("memoryCapacity=0 sends everything through the overflow") {
  TempDir d;
  Chan c(d, {{"memoryCapacity", "0"}, {"overflowCapacity", "100"}});
  REQUIRE(putCommit(*c, numbered(1, 30)).ok());
  CHECK(c->memorySize() == 0);
  CHECK(c->overflowSize() == 30);
  CHECK(drain(*c) == seq(1, 30));
}

TEST_CASE("byteCapacity counts bodies in avgEventSize slots") {
  TempDir d;
  Chan c(d, {{"memoryCapacity", "1000"},
             {"byteCapacity", "1000"},
             {"avgEventSize", "100"},
             {"byteCapacityBufferPercentage", "0"}});
  REQUIRE(putCommit(*c, numbered(1, 10, 100)).ok());  // 10 slots: memory is full by bytes
  CHECK(c->memorySize() == 10);
  REQUIRE(putCommit(*c, numbered(11, 11, 100)).ok());
  CHECK(c->overflowSize() == 1);
  CHECK(drain(*c) == seq(1, 11));
}

TEST_CASE("rollback of a take spanning memory and overflow restores the order") {
  TempDir d;
  Chan c(d, {{"memoryCapacity", "5"}, {"overflowCapacity", "100"}});
  REQUIRE(putCommit(*c, numbered(1, 5)).ok());
  REQUIRE(putCommit(*c, numbered(6, 10)).ok());
  {
    sdk::TransactionGuard tx(*c);
    std::span<sdk::Event> got;
    REQUIRE(tx->takeBatch(8, got).ok());
    CHECK(got.size() == 8);
    CHECK(got[7].body == "8");
  }  // rolled back
  CHECK(c->channelCounter().getChannelSize() == 10);
  CHECK(drain(*c) == seq(1, 10));
}

TEST_CASE("restart: the overflow survives and comes first, memory is lost") {
  TempDir d;
  const KV kv = {{"memoryCapacity", "5"}, {"overflowCapacity", "100"}};
  {
    Chan c(d, kv);
    REQUIRE(putCommit(*c, numbered(1, 5)).ok());
    REQUIRE(putCommit(*c, numbered(6, 9)).ok());
    CHECK(takeCommit(*c, 2) == seq(1, 2));
    (void)c->hostStop();
    c.ch = std::make_unique<SpillableMemoryChannel>();  // a new process
    REQUIRE(c->hostConfigure(contextOf(d, kv)).ok());
    REQUIRE(c->hostStart().ok());
    CHECK(c->overflowSize() == 4);
    REQUIRE(putCommit(*c, numbered(10, 11)).ok());
    CHECK(drain(*c) == seq(6, 11));
  }
}

TEST_CASE("start and stop are repeatable and keep memory and overflow") {
  TempDir d;
  Chan c(d, {{"memoryCapacity", "3"}, {"overflowCapacity", "100"}});
  REQUIRE(putCommit(*c, numbered(1, 3)).ok());
  REQUIRE(putCommit(*c, numbered(4, 6)).ok());
  for (int i = 0; i < 2; ++i) {
    CHECK(c->hostStop().ok());
    CHECK(c->hostStop().ok());
    CHECK(c->hostStart().ok());
  }
  CHECK(c->channelCounter().getChannelSize() == 6);
  std::vector<std::string> got = drain(*c);
  std::multiset<std::string> all(got.begin(), got.end());
  auto want = seq(1, 6);
  CHECK(all == std::multiset<std::string>(want.begin(), want.end()));
}

TEST_CASE("concurrent producers and consumers lose and duplicate nothing") {
  TempDir d;
  Chan c(d, {{"memoryCapacity", "200"}, {"overflowCapacity", "100000"}});
  constexpr int kProducers = 3, kBatches = 60, kBatch = 25;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::multiset<std::string> got;
  std::atomic<bool> done{false};
  for (int p = 0; p < kProducers; ++p)
    threads.emplace_back([&, p] {
      for (int b = 0; b < kBatches; ++b) {
        sdk::EventBatch batch;
        for (int i = 0; i < kBatch; ++i)
          batch.emplace_back(std::to_string(p) + ":" + std::to_string(b * kBatch + i));
        CHECK(putCommit(*c, std::move(batch)).ok());
      }
    });
  std::vector<std::thread> consumers;
  for (int k = 0; k < 2; ++k)
    consumers.emplace_back([&] {
      int round = 0;
      while (!done.load() || c->channelCounter().getChannelSize() > 0) {
        sdk::TransactionGuard tx(*c);
        std::span<sdk::Event> taken;
        if (!tx->takeBatch(31, taken)) continue;
        std::vector<std::string> bodies;
        for (auto& e : taken) bodies.push_back(e.body);
        if (++round % 4 == 0) continue;  // roll back
        if (tx.commit()) {
          std::lock_guard lock(mu);
          got.insert(bodies.begin(), bodies.end());
        }
      }
    });
  for (auto& t : threads) t.join();
  done = true;
  for (auto& t : consumers) t.join();
  CHECK(got.size() == kProducers * kBatches * kBatch);
  CHECK(std::set<std::string>(got.begin(), got.end()).size() == got.size());
}
