#include "spillable_memory_channel.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "channel_test_util.hpp"
#include "host_context.hpp"
#include "readme_schema_check.hpp"
#include "wait.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
namespace fs = std::filesystem;
using sluice::plugins::spillable::spillableChannelSchema;
using sluice::plugins::spillable::SpillableMemoryChannel;
using sluice::plugins::testing::checkReadmeMatchesSchema;

namespace {

using sluice::plugins::channeltx::testing::numbered;
using sluice::plugins::channeltx::testing::putAndTakeConcurrently;
using sluice::plugins::channeltx::testing::putCommit;
using sluice::plugins::channeltx::testing::seq;
using sluice::plugins::channeltx::testing::takeCommit;
using sluice::plugins::testing::waitFor;

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

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, spillableChannelSchema(), ctx,
                                                   "SPILLABLEMEMORY");
}

struct Chan {
  std::unique_ptr<SpillableMemoryChannel> ch = std::make_unique<SpillableMemoryChannel>();
  Chan(const TempDir& d, const KV& extra) {
    sdk::Result r = configure(*ch, contextOf(d, extra));
    REQUIRE_MESSAGE(r.ok(), r.error());
    r = sdk::HostAccess::start(*ch);
    REQUIRE_MESSAGE(r.ok(), r.error());
  }
  ~Chan() { (void)sdk::HostAccess::stop(*ch); }
  SpillableMemoryChannel* operator->() { return ch.get(); }
  SpillableMemoryChannel& operator*() { return *ch; }
};

// Small takes, so they cross the runs of memory and overflow events.
std::vector<std::string> drain(SpillableMemoryChannel& ch) {
  return sluice::plugins::channeltx::testing::drain(ch, 7);
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(spillableChannelSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("configure errors name the key") {
  TempDir d;
  auto err = [&](const KV& kv) {
    SpillableMemoryChannel ch;
    sdk::Result r = configure(ch, contextOf(d, kv));
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

TEST_CASE("overflowTimeout: a put waits for memory; memory freed in time keeps it there") {
  TempDir d;
  Chan c(d, {{"memoryCapacity", "10"}, {"overflowCapacity", "1000"}, {"overflowTimeout", "30"}});
  REQUIRE(putCommit(*c, numbered(1, 10)).ok());
  sdk::Result r;
  std::thread putter([&] { r = putCommit(*c, numbered(11, 15)); });
  REQUIRE(waitFor([&] { return c->putWaiters() == 1; }));  // memory is full: it waits
  CHECK(c->overflowSize() == 0);
  CHECK(takeCommit(*c, 5) == seq(1, 5));  // frees room: the waiting put goes to memory
  putter.join();
  CHECK_MESSAGE(r.ok(), r.error());
  CHECK(c->memorySize() == 10);
  CHECK(c->overflowSize() == 0);
  CHECK(c->overflowStore().size() == 0);
  CHECK(drain(*c) == seq(6, 15));
}

TEST_CASE("overflowTimeout: a put waits for memory, then spills to the overflow in order") {
  TempDir d;
  Chan c(d, {{"memoryCapacity", "10"}, {"overflowCapacity", "1000"}, {"overflowTimeout", "1"}});
  REQUIRE(putCommit(*c, numbered(1, 10)).ok());
  sdk::Result r;
  std::atomic<bool> done{false};
  const auto t0 = std::chrono::steady_clock::now();
  std::thread putter([&] {
    r = putCommit(*c, numbered(11, 15));
    done = true;
  });
  REQUIRE(waitFor([&] { return c->putWaiters() == 1 || done.load(); }));
  CHECK(c->overflowSize() == 0);  // still waiting for memory
  putter.join();
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK_MESSAGE(r.ok(), r.error());
  CHECK(waited >= std::chrono::milliseconds(900));
  CHECK(c->memorySize() == 10);
  CHECK(c->overflowSize() == 5);
  CHECK(c->overflowStore().size() == 5);
  CHECK(c->channelCounter().getChannelSize() == 15);
  // The next put follows it to the overflow (puts stay there until memory drains a little).
  REQUIRE(putCommit(*c, numbered(16, 17)).ok());
  CHECK(c->overflowSize() == 7);
  CHECK(drain(*c) == seq(1, 17));
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

TEST_CASE("graceful stop keeps memory in the overflow; a new instance delivers all in order") {
  for (const char* onClose : {"true", "false"}) {
    CAPTURE(onClose);
    TempDir d;
    const KV kv = {
        {"memoryCapacity", "20"}, {"overflowCapacity", "1000"}, {"checkpointOnClose", onClose}};
    Chan c(d, kv);
    REQUIRE(putCommit(*c, numbered(1, 20)).ok());   // memory
    REQUIRE(putCommit(*c, numbered(21, 25)).ok());  // memory full: overflow
    CHECK(takeCommit(*c, 10) == seq(1, 10));
    REQUIRE(putCommit(*c, numbered(26, 30)).ok());  // memory again
    REQUIRE(c->drainOrderSegments() == 3);          // memory 11-20, overflow 21-25, memory 26-30
    REQUIRE(sdk::HostAccess::stop(*c).ok());
    c.ch = std::make_unique<SpillableMemoryChannel>();  // a new process on the same directories
    REQUIRE(configure(*c, contextOf(d, kv)).ok());
    REQUIRE(sdk::HostAccess::start(*c).ok());
    CHECK(c->memorySize() == 0);
    CHECK(c->overflowSize() == 20);
    CHECK(c->channelCounter().getChannelSize() == 20);
    REQUIRE(putCommit(*c, numbered(31, 32)).ok());
    CHECK(drain(*c) == seq(11, 32));
    CHECK(c->overflowStore().size() == 0);
  }
}

TEST_CASE("graceful stop with an empty memory leaves the overflow as it was") {
  TempDir d;
  const KV kv = {{"memoryCapacity", "0"}, {"overflowCapacity", "100"}};
  Chan c(d, kv);
  REQUIRE(putCommit(*c, numbered(1, 5)).ok());
  REQUIRE(sdk::HostAccess::stop(*c).ok());
  c.ch = std::make_unique<SpillableMemoryChannel>();
  REQUIRE(configure(*c, contextOf(d, kv)).ok());
  REQUIRE(sdk::HostAccess::start(*c).ok());
  CHECK(drain(*c) == seq(1, 5));
}

TEST_CASE("start and stop are repeatable and keep memory and overflow") {
  TempDir d;
  Chan c(d, {{"memoryCapacity", "3"}, {"overflowCapacity", "100"}});
  REQUIRE(putCommit(*c, numbered(1, 3)).ok());
  REQUIRE(putCommit(*c, numbered(4, 6)).ok());
  for (int i = 0; i < 2; ++i) {
    CHECK(sdk::HostAccess::stop(*c).ok());
    CHECK(sdk::HostAccess::stop(*c).ok());
    CHECK(sdk::HostAccess::start(*c).ok());
  }
  CHECK(c->channelCounter().getChannelSize() == 6);
  CHECK(drain(*c) == seq(1, 6));
}

TEST_CASE("concurrent producers and consumers lose and duplicate nothing") {
  TempDir d;
  Chan c(d, {{"memoryCapacity", "200"}, {"overflowCapacity", "100000"}});
  constexpr int kProducers = 3, kBatches = 60, kBatch = 25;
  const std::multiset<std::string> got =
      putAndTakeConcurrently(*c, kProducers, kBatches, kBatch, 31, 4);
  CHECK(got.size() == kProducers * kBatches * kBatch);
  CHECK(std::set<std::string>(got.begin(), got.end()).size() == got.size());
}

TEST_CASE("concurrent putters: each putter's order and exact counts across memory and overflow") {
  // Small memory and a slow taker, so batches keep switching between memory and the overflow
  // while other putters commit; the taker commits every take (no rollback, which may reorder).
  TempDir d;
  Chan c(
      d,
      {{"memoryCapacity", "60"}, {"overflowCapacity", "100000"}, {"fsyncPerTransaction", "false"}});
  constexpr int kPutters = 4, kBatches = 150;
  std::atomic<int> putting{kPutters};
  std::vector<std::thread> putters;
  putters.reserve(kPutters);
  for (int p = 0; p < kPutters; ++p)
    putters.emplace_back([&, p] {
      int next = 0;
      for (int b = 0; b < kBatches; ++b) {
        sdk::EventBatch batch;
        const int size = 1 + (b * 7 + p * 3) % 23;  // uneven batches
        for (int i = 0; i < size; ++i)
          batch.emplace_back(std::to_string(p) + ":" + std::to_string(next++));
        sdk::Result r = putCommit(*c, std::move(batch));
        CHECK_MESSAGE(r.ok(), r.error());
      }
      putting.fetch_sub(1);
    });
  std::vector<int> expected(kPutters, 0), total(kPutters, 0);
  std::string firstBad;
  for (;;) {
    const bool last = putting.load() == 0;
    std::vector<std::string> got = takeCommit(*c, 1 + total[0] % 17);
    for (const std::string& body : got) {
      const int p = std::stoi(body.substr(0, body.find(':')));
      const int n = std::stoi(body.substr(body.find(':') + 1));
      if (n != expected[p] && firstBad.empty())
        firstBad = "putter " + std::to_string(p) + ": expected " + std::to_string(expected[p]) +
                   ", got " + std::to_string(n);
      expected[p] = n + 1;
      ++total[p];
    }
    if (got.empty() && last) break;
  }
  for (auto& t : putters) t.join();
  CHECK_MESSAGE(firstBad.empty(), firstBad);
  for (int p = 0; p < kPutters; ++p) {
    int want = 0;
    for (int b = 0; b < kBatches; ++b) want += 1 + (b * 7 + p * 3) % 23;
    CHECK(total[p] == want);
  }
  CHECK(c->memorySize() == 0);
  CHECK(c->overflowSize() == 0);
  CHECK(c->drainOrderSegments() == 0);
  CHECK(c->overflowStore().size() == 0);
  CHECK(c->channelCounter().getChannelSize() == 0);
}
