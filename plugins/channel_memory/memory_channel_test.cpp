#include "memory_channel.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include "channel_test_util.hpp"
#include "host_context.hpp"
#include "readme_schema_check.hpp"
#include "wait.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using sluice::plugins::channeltx::testing::numbered;
using sluice::plugins::channeltx::testing::putCommit;
using sluice::plugins::channeltx::testing::seq;
using sluice::plugins::channeltx::testing::takeCommit;
using sluice::plugins::memory::MemoryChannel;
using sluice::plugins::memory::memoryChannelSchema;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::testing::waitFor;

namespace {

sdk::Context contextOf(std::initializer_list<std::pair<const char*, const char*>> kv) {
  sdk::Context ctx("a1.channels.c1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configureCtx(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, memoryChannelSchema(), ctx, "memory");
}

void configure(MemoryChannel& ch, std::initializer_list<std::pair<const char*, const char*>> kv) {
  sdk::Result r = configureCtx(ch, contextOf(kv));
  REQUIRE_MESSAGE(r.ok(), r.error());
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(memoryChannelSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config and defaults") {
  MemoryChannel ch;
  configure(ch, {});
  CHECK(ch.channelCounter().getChannelCapacity() == 100);
  configure(ch, {{"capacity", "1000"},
                 {"transactionCapacity", "1000"},
                 {"keep-alive", "1"},
                 {"byteCapacity", "800000"},
                 {"byteCapacityBufferPercentage", "20"}});
  CHECK(ch.channelCounter().getChannelCapacity() == 1000);
}

TEST_CASE("configure errors name the key") {
  auto errorOf = [](std::initializer_list<std::pair<const char*, const char*>> kv) {
    MemoryChannel ch;
    sdk::Result r = configureCtx(ch, contextOf(kv));
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  CHECK(errorOf({{"capacity", "1000"}, {"transactionCapacity", "2000"}}) ==
        "a1.channels.c1.transactionCapacity: transactionCapacity (2000) must be <= capacity "
        "(1000)");
  // transactionCapacity defaults to 100, so a smaller capacity alone is an error too.
  CHECK(errorOf({{"capacity", "10"}}).find("transactionCapacity (100) must be <= capacity (10)") !=
        std::string::npos);
  CHECK(errorOf({{"capacity", "0"}}).find("a1.channels.c1.capacity:") == 0);
  CHECK(errorOf({{"capacity", "lots"}}).find("a1.channels.c1.capacity: expected an integer") == 0);
  CHECK(errorOf({{"transactionCapacity", "-1"}}).find("a1.channels.c1.transactionCapacity:") == 0);
  CHECK(errorOf({{"keep-alive", "-1"}}).find("a1.channels.c1.keep-alive:") == 0);
  CHECK(errorOf({{"byteCapacityBufferPercentage", "100"}})
            .find("a1.channels.c1.byteCapacityBufferPercentage:") == 0);
  CHECK(errorOf({{"byteCapacity", "-5"}}).find("a1.channels.c1.byteCapacity:") == 0);
  CHECK(errorOf({{"byteCapacity", "50"}}).find("a1.channels.c1.byteCapacity:") == 0);
}

TEST_CASE("puts are invisible until commit") {
  MemoryChannel ch;
  configure(ch, {{"capacity", "100"}, {"transactionCapacity", "100"}});
  sdk::TransactionGuard put(ch);
  sdk::EventBatch batch = numbered(1, 3);
  REQUIRE(put->putBatch(batch).ok());
  CHECK(batch.empty());
  CHECK(ch.size() == 0);
  CHECK(takeCommit(ch, 10).empty());
  REQUIRE(put.commit().ok());
  CHECK(ch.size() == 3);
  CHECK(takeCommit(ch, 10) == seq(1, 3));
}

TEST_CASE("rolled-back puts are discarded") {
  MemoryChannel ch;
  configure(ch, {});
  {
    sdk::TransactionGuard put(ch);
    sdk::EventBatch batch = numbered(1, 3);
    REQUIRE(put->putBatch(batch).ok());
    put.rollback();
  }
  CHECK(ch.size() == 0);
  CHECK(ch.channelCounter().get(sdk::ChannelCounter::EventPutSuccessCount) == 0);
}

TEST_CASE("capacity bounds the queue") {
  MemoryChannel ch;
  configure(ch, {{"capacity", "10"}, {"transactionCapacity", "10"}, {"keep-alive", "0"}});
  REQUIRE(putCommit(ch, numbered(1, 10)).ok());
  sdk::Result r = putCommit(ch, numbered(11, 11));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("Space for commit to queue couldn't be acquired") == 0);
  CHECK(ch.size() == 10);
  CHECK(takeCommit(ch, 10) == seq(1, 10));
  CHECK(putCommit(ch, numbered(11, 11)).ok());
}

TEST_CASE("taken but uncommitted events keep their space") {
  MemoryChannel ch;
  configure(ch, {{"capacity", "10"}, {"transactionCapacity", "10"}, {"keep-alive", "0"}});
  REQUIRE(putCommit(ch, numbered(1, 10)).ok());
  sdk::TransactionGuard take(ch);
  std::span<sdk::Event> taken;
  REQUIRE(take->takeBatch(5, taken).ok());
  CHECK(taken.size() == 5);
  CHECK(ch.size() == 5);
  CHECK_FALSE(putCommit(ch, numbered(11, 11)).ok());  // as Flume: space frees at commit
  REQUIRE(take.commit().ok());
  CHECK(putCommit(ch, numbered(11, 15)).ok());
}

TEST_CASE("transactionCapacity bounds puts and takes per transaction") {
  MemoryChannel ch;
  configure(ch, {{"capacity", "100"}, {"transactionCapacity", "10"}});
  {
    sdk::TransactionGuard tx(ch);
    sdk::EventBatch batch = numbered(1, 6);
    REQUIRE(tx->putBatch(batch).ok());
    batch = numbered(7, 11);
    sdk::Result r = tx->putBatch(batch);
    REQUIRE_FALSE(r.ok());
    CHECK(batch.empty());  // discarded, as documented
    CHECK(r.error() ==
          "Put queue for transaction of capacity 10 full, consider committing more frequently, "
          "increasing capacity or increasing thread count");
  }
  CHECK(ch.size() == 0);  // the guard rolled the whole transaction back

  REQUIRE(putCommit(ch, numbered(1, 10)).ok());
  REQUIRE(putCommit(ch, numbered(11, 20)).ok());
  {
    // Asking for more than transactionCapacity while more is queued fails, as in Flume.
    sdk::TransactionGuard tx(ch);
    std::span<sdk::Event> taken;
    sdk::Result r = tx->takeBatch(15, taken);
    REQUIRE_FALSE(r.ok());
    CHECK(taken.empty());
    CHECK(r.error().find("Take list for transaction of capacity 10 full") == 0);
  }
  {
    sdk::TransactionGuard tx(ch);
    std::span<sdk::Event> taken;
    REQUIRE(tx->takeBatch(6, taken).ok());
    CHECK(taken.size() == 6);
    REQUIRE(tx->takeBatch(4, taken).ok());
    REQUIRE(taken.size() == 4);  // the view covers this call's events only
    CHECK(taken[0].body == "7");
    CHECK_FALSE(tx->takeBatch(1, taken).ok());  // take list full
  }
  CHECK(ch.size() == 20);  // rolled back
  // A request above transactionCapacity is fine when the channel holds no more than that.
  CHECK(takeCommit(ch, 10) == seq(1, 10));
  CHECK(takeCommit(ch, 1000) == seq(11, 20));
}

TEST_CASE("keep-alive: a commit waits for space, then fails") {
  MemoryChannel ch;
  configure(ch, {{"capacity", "5"}, {"transactionCapacity", "5"}, {"keep-alive", "1"}});
  REQUIRE(putCommit(ch, numbered(1, 5)).ok());
  auto t0 = std::chrono::steady_clock::now();
  sdk::Result r = putCommit(ch, numbered(6, 6));
  double elapsed = secondsSince(t0);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("Space for commit to queue couldn't be acquired") == 0);
  CHECK(elapsed >= 0.9);
  CHECK(elapsed < 5.0);
  CHECK(ch.size() == 5);
}

TEST_CASE("keep-alive: a waiting commit succeeds when a take frees space") {
  MemoryChannel ch;
  configure(ch, {{"capacity", "5"}, {"transactionCapacity", "5"}, {"keep-alive", "10"}});
  REQUIRE(putCommit(ch, numbered(1, 5)).ok());
  std::thread taker([&] {
    CHECK(waitFor([&] { return ch.putWaiters() == 1; }));  // the commit waits for room
    takeCommit(ch, 2);
  });
  auto t0 = std::chrono::steady_clock::now();
  sdk::Result r = putCommit(ch, numbered(6, 7));
  double elapsed = secondsSince(t0);
  taker.join();
  CHECK(r.ok());
  CHECK(elapsed < 5.0);
  CHECK(takeCommit(ch, 5) == seq(3, 7));
}

TEST_CASE("stop ends a waiting commit at once") {
  MemoryChannel ch;
  configure(ch, {{"capacity", "1"}, {"transactionCapacity", "1"}, {"keep-alive", "30"}});
  REQUIRE(putCommit(ch, numbered(1, 1)).ok());
  std::thread stopper([&] {
    CHECK(waitFor([&] { return ch.putWaiters() == 1; }));  // the commit waits for room
    ch.stop();
  });
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(putCommit(ch, numbered(2, 2)).ok());
  CHECK(secondsSince(t0) < 10.0);
  stopper.join();
}

TEST_CASE("byte capacity counts bodies in 100-byte slots") {
  MemoryChannel ch;
  // 2000 bytes, 50% kept for headers -> 1000 bytes -> 10 slots.
  configure(ch, {{"capacity", "100"},
                 {"transactionCapacity", "100"},
                 {"keep-alive", "0"},
                 {"byteCapacity", "2000"},
                 {"byteCapacityBufferPercentage", "50"}});
  sdk::EventBatch big;
  for (int i = 0; i < 4; ++i) big.emplace_back(std::string(150, 'x'));  // 2 slots each
  REQUIRE(putCommit(ch, std::move(big)).ok());
  CHECK(ch.byteSlotsUsed() == 8);
  REQUIRE(putCommit(ch, numbered(1, 2)).ok());  // 1 slot each
  CHECK(ch.byteSlotsUsed() == 10);
  sdk::Result r = putCommit(ch, numbered(3, 3));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("Cannot commit transaction. Byte capacity") == 0);
  // Taking frees bytes only at commit.
  {
    sdk::TransactionGuard tx(ch);
    std::span<sdk::Event> taken;
    REQUIRE(tx->takeBatch(1, taken).ok());
    CHECK(ch.byteSlotsUsed() == 10);
    REQUIRE(tx.commit().ok());
  }
  CHECK(ch.byteSlotsUsed() == 8);
  CHECK(putCommit(ch, numbered(3, 3)).ok());
  // A batch bigger than the whole byte capacity fails at once.
  sdk::EventBatch huge;
  huge.emplace_back(std::string(1001, 'x'));
  r = putCommit(ch, std::move(huge));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("byte capacity") != std::string::npos);
}

TEST_CASE("rollback of takes restores the head in order") {
  MemoryChannel ch;
  configure(ch, {});
  REQUIRE(putCommit(ch, numbered(1, 10)).ok());
  {
    sdk::TransactionGuard tx(ch);
    std::span<sdk::Event> taken;
    REQUIRE(tx->takeBatch(3, taken).ok());
    REQUIRE(taken.size() == 3);
    CHECK(taken[0].body == "1");
    REQUIRE(tx->takeBatch(2, taken).ok());
    REQUIRE(taken.size() == 2);
    CHECK(taken[1].body == "5");
    tx.rollback();
  }
  CHECK(ch.size() == 10);
  CHECK(takeCommit(ch, 10) == seq(1, 10));
}

TEST_CASE("rollback restores headers and wraps around the ring") {
  MemoryChannel ch;
  configure(ch, {{"capacity", "8"}, {"transactionCapacity", "8"}});
  // Walk head_ around the ring so restored events cross its end.
  for (int round = 0; round < 5; ++round) {
    REQUIRE(putCommit(ch, numbered(round * 10, round * 10 + 5)).ok());
    CHECK(takeCommit(ch, 6).size() == 6);
  }
  sdk::EventBatch batch;
  for (int i = 0; i < 8; ++i) {
    sdk::Event e(std::to_string(i) + std::string(40, 'p'));  // not a small string
    e.headers.set(std::string("n"), std::to_string(i));
    batch.push_back(std::move(e));
  }
  REQUIRE(putCommit(ch, std::move(batch)).ok());
  {
    sdk::TransactionGuard tx(ch);  // rolled back at scope exit
    std::span<sdk::Event> taken;
    REQUIRE(tx->takeBatch(8, taken).ok());
    CHECK(taken.size() == 8);
  }
  sdk::TransactionGuard tx(ch);
  std::span<sdk::Event> taken;
  REQUIRE(tx->takeBatch(8, taken).ok());
  REQUIRE(taken.size() == 8);
  for (int i = 0; i < 8; ++i) {
    CHECK(taken[i].body == std::to_string(i) + std::string(40, 'p'));
    CHECK(taken[i].headers.get("n") == std::to_string(i));
  }
  REQUIRE(tx.commit().ok());
}

TEST_CASE("a transaction destroyed while open rolls back") {
  MemoryChannel ch;
  configure(ch, {});
  REQUIRE(putCommit(ch, numbered(1, 4)).ok());
  {
    auto tx = ch.getTransaction();
    tx->begin();
    std::span<sdk::Event> taken;
    REQUIRE(tx->takeBatch(4, taken).ok());
  }
  CHECK(takeCommit(ch, 10) == seq(1, 4));
}

TEST_CASE("calls outside an open transaction fail") {
  MemoryChannel ch;
  configure(ch, {});
  auto tx = ch.getTransaction();
  sdk::EventBatch b = numbered(1, 1);
  CHECK_FALSE(tx->putBatch(b).ok());
  CHECK_FALSE(tx->commit().ok());
  tx->begin();
  b = numbered(1, 1);
  CHECK(tx->putBatch(b).ok());
  CHECK(tx->commit().ok());
  CHECK_FALSE(tx->commit().ok());
  tx->close();
  CHECK(ch.size() == 1);
}

TEST_CASE("a take on an empty channel waits briefly for a put") {
  MemoryChannel ch;
  configure(ch, {{"keep-alive", "3"}});
  auto t0 = std::chrono::steady_clock::now();
  CHECK(takeCommit(ch, 10).empty());
  double idle = secondsSince(t0);
  CHECK(idle < 2.0);  // bounded by kMaxTakeWait, not by keep-alive

  std::thread putter([&] {
    CHECK(waitFor([&] { return ch.takeWaiters() == 1; }));  // a take waits for events
    CHECK(putCommit(ch, numbered(1, 1)).ok());
  });
  // The put lands while the take waits (kMaxTakeWait is 100 ms); allow retries on a slow box.
  std::vector<std::string> got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got.empty() && std::chrono::steady_clock::now() < deadline) got = takeCommit(ch, 10);
  putter.join();
  CHECK(got == seq(1, 1));
}

TEST_CASE("the ring grows on demand, not to capacity") {
  MemoryChannel ch;
  configure(ch, {{"capacity", "1000000"}, {"transactionCapacity", "1000"}});
  CHECK(ch.slotCount() == 0);
  REQUIRE(putCommit(ch, numbered(1, 10)).ok());
  CHECK(ch.slotCount() <= MemoryChannel::kInitialSlots);
  for (int i = 0; i < 5; ++i) REQUIRE(putCommit(ch, numbered(1000 * i + 11, 1000 * i + 1010)).ok());
  CHECK(ch.size() == 5010);
  CHECK(ch.slotCount() >= 5010);
  CHECK(ch.slotCount() <= 16384);
  // Order survives the regrowths.
  auto all = takeCommit(ch, 1000);
  CHECK(all.front() == "1");
  CHECK(all[10] == "11");
}

TEST_CASE("counters follow puts and takes") {
  MemoryChannel ch;
  configure(ch, {{"capacity", "50"}, {"transactionCapacity", "20"}});
  REQUIRE(putCommit(ch, numbered(1, 20)).ok());
  REQUIRE(putCommit(ch, numbered(21, 30)).ok());
  auto& c = ch.channelCounter();
  CHECK(c.get(sdk::ChannelCounter::EventPutAttemptCount) == 30);
  CHECK(c.get(sdk::ChannelCounter::EventPutSuccessCount) == 30);
  CHECK(c.getChannelSize() == 30);
  CHECK(c.getChannelCapacity() == 50);
  CHECK(takeCommit(ch, 20).size() == 20);  // full batch: 20 attempts
  CHECK(takeCommit(ch, 20).size() == 10);  // short batch: 10 + the one that found nothing
  CHECK(c.get(sdk::ChannelCounter::EventTakeAttemptCount) == 31);
  CHECK(c.get(sdk::ChannelCounter::EventTakeSuccessCount) == 30);
  CHECK(c.getChannelSize() == 0);
  {
    sdk::TransactionGuard tx(ch);
    sdk::EventBatch b = numbered(1, 5);
    REQUIRE(tx->putBatch(b).ok());
  }  // rolled back: attempted, not successful
  CHECK(c.get(sdk::ChannelCounter::EventPutAttemptCount) == 35);
  CHECK(c.get(sdk::ChannelCounter::EventPutSuccessCount) == 30);
}

TEST_CASE("start and stop are repeatable and keep buffered events") {
  MemoryChannel ch;
  configure(ch, {});
  REQUIRE(sdk::HostAccess::start(ch).ok());
  REQUIRE(putCommit(ch, numbered(1, 5)).ok());
  REQUIRE(sdk::HostAccess::stop(ch).ok());
  REQUIRE(sdk::HostAccess::stop(ch).ok());
  REQUIRE(sdk::HostAccess::start(ch).ok());
  REQUIRE(sdk::HostAccess::start(ch).ok());
  CHECK(std::string(sdk::nameOf(ch.getLifecycleState())) == "START");
  CHECK(ch.size() == 5);
  // Reconfiguring (hot reload) keeps them too, and may not shrink below what is buffered.
  configure(ch, {{"capacity", "4"}, {"transactionCapacity", "4"}});
  CHECK(ch.channelCounter().getChannelCapacity() == 100);
  configure(ch, {{"capacity", "200"}, {"transactionCapacity", "50"}});
  CHECK(ch.channelCounter().getChannelCapacity() == 200);
  CHECK(takeCommit(ch, 50) == seq(1, 5));
  REQUIRE(sdk::HostAccess::stop(ch).ok());
}

TEST_CASE("concurrent producers and consumers lose and duplicate nothing") {
  MemoryChannel ch;
  configure(ch, {{"capacity", "500"}, {"transactionCapacity", "100"}, {"keep-alive", "5"}});
  REQUIRE(sdk::HostAccess::start(ch).ok());
  constexpr int kProducers = 2;
  constexpr int kConsumers = 2;
  constexpr int kPerProducer = 50000;
  std::atomic<int> producersDone{0};
  std::vector<std::vector<int>> seen(kConsumers);
  std::atomic<int64_t> putFailures{0};

  std::vector<std::thread> threads;
  threads.reserve(kProducers + kConsumers);
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      std::mt19937 rng(static_cast<unsigned>(p));
      int next = 0;
      sdk::EventBatch batch;
      while (next < kPerProducer) {
        const int n = std::min<int>(1 + static_cast<int>(rng() % 100), kPerProducer - next);
        for (int i = 0; i < n; ++i) batch.emplace_back(std::to_string(p * kPerProducer + next + i));
        sdk::TransactionGuard tx(ch);
        if (tx->putBatch(batch).ok() && tx.commit().ok()) {
          next += n;
        } else {
          ++putFailures;  // retried with the same numbers
        }
        batch.clear();
      }
      ++producersDone;
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937 rng(static_cast<unsigned>(100 + c));
      std::vector<int> got;
      for (;;) {
        const bool finished = producersDone.load() == kProducers;
        sdk::TransactionGuard tx(ch);
        std::span<sdk::Event> taken;
        CHECK(tx->takeBatch(1 + rng() % 100, taken).ok());  // CHECK: REQUIRE cannot throw here
        if (taken.empty()) {
          if (finished) break;
          continue;
        }
        got.clear();
        for (const auto& e : taken) got.push_back(std::stoi(e.body));
        if (rng() % 10 == 0) {  // a sink whose write failed
          tx.rollback();
        } else {
          CHECK(tx.commit().ok());
          seen[c].insert(seen[c].end(), got.begin(), got.end());
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  std::vector<int> all;
  for (auto& v : seen) all.insert(all.end(), v.begin(), v.end());
  CHECK(all.size() == static_cast<std::size_t>(kProducers * kPerProducer));
  std::sort(all.begin(), all.end());
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
  CHECK(all.front() == 0);
  CHECK(all.back() == kProducers * kPerProducer - 1);
  auto& cnt = ch.channelCounter();
  CHECK(cnt.get(sdk::ChannelCounter::EventPutSuccessCount) == kProducers * kPerProducer);
  CHECK(cnt.get(sdk::ChannelCounter::EventTakeSuccessCount) == kProducers * kPerProducer);
  CHECK(cnt.getChannelSize() == 0);
  CHECK(ch.size() == 0);
  REQUIRE(sdk::HostAccess::stop(ch).ok());
}
