#include "timestamp_interceptor.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>
#include "allocation_counter.hpp"
#include "interceptor_test_support.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using namespace sluice::plugins::testing;
using sluice::plugins::timestamp::TimestampInterceptorBuilder;
using sluice::plugins::timestamp::timestampSchema;

// The host checks the keys against this schema before configure() (interceptor_test_support).
template <>
const sdk::Schema& sluice::plugins::testing::schemaOf<TimestampInterceptorBuilder>() {
  return timestampSchema();
}

namespace {

int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(timestampSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("the schema declares every key configure() reads, and no others") {
  const sdk::Schema& s = timestampSchema();
  CHECK_FALSE(s.allowUnknownKeys);
  for (const char* k : {"headerName", "preserveExisting"}) CHECK_MESSAGE(schemaDeclares(s, k), k);
  CHECK_FALSE(schemaDeclares(s, "headername"));
  CHECK_FALSE(schemaDeclares(s, "header"));
}

TEST_CASE("defaults: header 'timestamp' holds the current time in milliseconds") {
  auto icpt = built<TimestampInterceptorBuilder>({});
  sdk::Event e("body");
  const int64_t before = nowMillis();
  CHECK(icpt->intercept(e));
  const int64_t after = nowMillis();
  REQUIRE(e.headers.contains("timestamp"));
  const int64_t ts = std::stoll(e.headers.get("timestamp"));
  CHECK(ts >= before);
  CHECK(ts <= after);
  CHECK(e.headers.size() == 1);
  CHECK(e.body == "body");
}

TEST_CASE("a valid config: headerName and preserveExisting") {
  auto icpt =
      built<TimestampInterceptorBuilder>({{"headerName", "ts"}, {"preserveExisting", "true"}});
  sdk::Event fresh;
  icpt->intercept(fresh);
  CHECK(fresh.headers.contains("ts"));
  CHECK_FALSE(fresh.headers.contains("timestamp"));

  sdk::Event kept(sdk::Headers{{"ts", "42"}}, "x");
  icpt->intercept(kept);
  CHECK(kept.headers.get("ts") == "42");
}

TEST_CASE("preserveExisting = false (the default) replaces an existing value") {
  auto icpt = built<TimestampInterceptorBuilder>({});
  sdk::Event e(sdk::Headers{{"timestamp", "42"}, {"other", "y"}}, "x");
  icpt->intercept(e);
  CHECK(e.headers.get("timestamp") != "42");
  CHECK(std::stoll(e.headers.get("timestamp")) > 1600000000000LL);
  CHECK(e.headers.get("other") == "y");
  CHECK(e.headers.size() == 2);
}

TEST_CASE("configure errors name the key") {
  CHECK(startsWith(configureError<TimestampInterceptorBuilder>({{"preserveExisting", "yes"}}),
                   std::string(kInterceptorPath) + ".preserveExisting: expected true or false"));
  CHECK(startsWith(configureError<TimestampInterceptorBuilder>({{"headerName", ""}}),
                   std::string(kInterceptorPath) + ".headerName: must not be empty"));
  CHECK(configureError<TimestampInterceptorBuilder>({{"preserveExisting", "TRUE"}}).empty());
}

TEST_CASE("the batch form never grows the batch and keeps order and capacity") {
  auto icpt = built<TimestampInterceptorBuilder>({});
  sdk::EventBatch batch;
  batch.reserve(8);
  for (int i = 0; i < 5; ++i) batch.emplace_back(std::to_string(i));
  const auto* data = batch.data();
  REQUIRE(sdk::HostAccess::intercept(*icpt, batch).ok());
  CHECK(bodiesOf(batch) == std::vector<std::string>{"0", "1", "2", "3", "4"});
  CHECK(batch.data() == data);
  for (const auto& e : batch) CHECK(e.headers.contains("timestamp"));
  sdk::EventBatch empty;
  REQUIRE(sdk::HostAccess::intercept(*icpt, empty).ok());
  CHECK(empty.empty());
}

TEST_CASE("build, initialize and close are safe to repeat") {
  TimestampInterceptorBuilder b;
  REQUIRE(configureAsHost(b, timestampSchema(), contextOf({{"headerName", "t"}})).ok());
  sdk::Result r;
  auto a = sdk::HostAccess::build(b, r);
  REQUIRE(r.ok());
  auto c = sdk::HostAccess::build(b, r);
  REQUIRE(r.ok());
  REQUIRE(a);
  REQUIRE(c);
  CHECK(a.get() != c.get());
  for (int i = 0; i < 2; ++i) {
    CHECK(sdk::HostAccess::initialize(*a).ok());
    sdk::HostAccess::close(*a);
    sdk::HostAccess::close(*c);
  }
  sdk::Event e;
  c->intercept(e);
  CHECK(e.headers.contains("t"));
  // Reconfiguring replaces every setting.
  REQUIRE(configureAsHost(b, timestampSchema(), contextOf({})).ok());
  auto d = sdk::HostAccess::build(b, r);
  sdk::Event f;
  d->intercept(f);
  CHECK(f.headers.contains("timestamp"));
}

TEST_CASE("intercept runs on several threads at once") {
  auto icpt = built<TimestampInterceptorBuilder>({{"preserveExisting", "true"}});
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        sdk::EventBatch batch(16);
        if (round % 2) batch[0].headers.setIfAbsent("timestamp", "1");
        if (!sdk::HostAccess::intercept(*icpt, batch).ok()) return;
        bool good = batch.size() == 16;
        for (const auto& e : batch) good = good && e.headers.contains("timestamp");
        if (round % 2) good = good && batch[0].headers.get("timestamp") == "1";
        if (!good) return;
      }
      ok[t] = 1;
    });
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>{1, 1, 1, 1});
}

// ---- Allocation count: the hot path must not allocate beyond the change itself. ----

TEST_CASE("stamping allocates nothing once an event has header room") {
  auto icpt = built<TimestampInterceptorBuilder>({});
  sdk::EventBatch batch;
  for (int i = 0; i < 64; ++i) batch.emplace_back(sdk::Headers{{"timestamp", "0"}}, "b");
  CHECK(allocationsDuring([&] { icpt->intercept(batch); }) == 0);
  CHECK(batch[0].headers.get("timestamp").size() >= 13);
}
