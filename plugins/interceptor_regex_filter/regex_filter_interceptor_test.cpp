#include "regex_filter_interceptor.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

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
using sluice::plugins::regexfilter::RegexFilteringInterceptor;
using sluice::plugins::regexfilter::RegexFilteringInterceptorBuilder;
using sluice::plugins::regexfilter::regexFilterSchema;

// The host checks the keys against this schema before configure() (interceptor_test_support).
template <>
const sdk::Schema& sluice::plugins::testing::schemaOf<RegexFilteringInterceptorBuilder>() {
  return regexFilterSchema();
}

namespace {

// The bodies that survive a filter with these keys.
std::vector<std::string> kept(KeyValues kv, const std::vector<std::string>& bodies) {
  auto icpt = built<RegexFilteringInterceptorBuilder>(kv);
  sdk::EventBatch batch;
  for (const auto& b : bodies) batch.emplace_back(b);
  REQUIRE(sdk::HostAccess::intercept(*icpt, batch).ok());
  return bodiesOf(batch);
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(regexFilterSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("the schema declares every key configure() reads, and no others") {
  const sdk::Schema& s = regexFilterSchema();
  CHECK_FALSE(s.allowUnknownKeys);
  for (const char* k : {"regex", "excludeEvents"}) CHECK_MESSAGE(schemaDeclares(s, k), k);
  CHECK_FALSE(schemaDeclares(s, "excludeEvent"));
  CHECK_FALSE(schemaDeclares(s, "pattern"));
}

TEST_CASE("defaults: '.*' keeps every event, the empty body included") {
  CHECK(kept({}, {"a", "", "\n", "\xff"}) == Strings{"a", "", "\n", "\xff"});
}

TEST_CASE("include mode keeps the events with a match anywhere in the body") {
  CHECK(kept({{"regex", "ERROR|WARN"}}, {"INFO ok", "x ERROR y", "WARN", "", "error"}) ==
        Strings{"x ERROR y", "WARN"});
}

TEST_CASE("excludeEvents = true drops the events that match") {
  CHECK(kept({{"regex", "^DEBUG"}, {"excludeEvents", "true"}},
             {"DEBUG a", "INFO DEBUG", "", "debug"}) == Strings{"INFO DEBUG", "", "debug"});
  // Excluding with the default regex drops everything.
  CHECK(kept({{"excludeEvents", "true"}}, {"a", ""}).empty());
}

TEST_CASE("anchors, empty bodies and non-matching events") {
  CHECK(kept({{"regex", "^$"}}, {"", "a", "\n"}) == Strings{"", "\n"});  // $ before a final \n
  CHECK(kept({{"regex", "\\d$"}}, {"a1", "1a", "a1\n", "a1\n\n"}) == Strings{"a1", "a1\n"});
  CHECK(kept({{"regex", "\\Aab\\z"}}, {"ab", "ab\n", "xab"}) == Strings{"ab"});
  CHECK(kept({{"regex", "x"}}, {"", "a"}).empty());
}

TEST_CASE("bodies are UTF-8 text; other bytes never break matching") {
  CHECK(kept({{"regex", "^.{4}$"}}, {"grün", "gruen"}) == Strings{"grün"});
  CHECK(kept({{"regex", "Zürich|東京"}}, {"to 東京", "Zurich"}) == Strings{"to 東京"});
  CHECK(kept({{"regex", "ERROR"}}, {"\xff\xfe ERROR", std::string("\0ERROR", 6), "\xc3"}) ==
        Strings{"\xff\xfe ERROR", std::string("\0ERROR", 6)});
}

TEST_CASE("configure errors name the key") {
  const std::string err = configureError<RegexFilteringInterceptorBuilder>({{"regex", "(ab"}});
  CHECK(err == std::string(kInterceptorPath) +
                   ".regex: cannot compile '(ab': missing closing parenthesis at offset 3");
  CHECK(startsWith(configureError<RegexFilteringInterceptorBuilder>({{"regex", "a**"}}),
                   std::string(kInterceptorPath) + ".regex: cannot compile 'a**': "));
  CHECK(startsWith(configureError<RegexFilteringInterceptorBuilder>({{"excludeEvents", "yes"}}),
                   std::string(kInterceptorPath) + ".excludeEvents: expected true or false"));
}

TEST_CASE("a match that fails (runaway backtracking) counts as no match and is counted") {
  sdk::EventBatch batch;
  batch.emplace_back(std::string(40, 'a') + "cb");
  batch.emplace_back("ab");
  {
    auto icpt = built<RegexFilteringInterceptorBuilder>({{"regex", "(a+)+b"}});
    sdk::EventBatch b2;
    for (const auto& e : batch) b2.push_back(e.clone());
    REQUIRE(sdk::HostAccess::intercept(*icpt, b2).ok());
    CHECK(bodiesOf(b2) == Strings{"ab"});
    CHECK(static_cast<RegexFilteringInterceptor&>(*icpt).matchErrors() == 1);
  }
  auto exclude =
      built<RegexFilteringInterceptorBuilder>({{"regex", "(a+)+b"}, {"excludeEvents", "true"}});
  REQUIRE(sdk::HostAccess::intercept(*exclude, batch).ok());
  CHECK(bodiesOf(batch) == Strings{std::string(40, 'a') + "cb"});
}

TEST_CASE("the batch form compacts in place: order kept, never grown or reallocated") {
  auto icpt = built<RegexFilteringInterceptorBuilder>({{"regex", "[02468]$"}});
  sdk::EventBatch batch;
  batch.reserve(16);
  for (int i = 0; i < 10; ++i) batch.emplace_back(std::to_string(i));
  batch[4].headers.setIfAbsent("h", "v");
  const auto* data = batch.data();
  const auto capacity = batch.capacity();
  REQUIRE(sdk::HostAccess::intercept(*icpt, batch).ok());
  CHECK(bodiesOf(batch) == Strings{"0", "2", "4", "6", "8"});
  CHECK(batch[2].headers.get("h") == "v");
  CHECK(batch.data() == data);
  CHECK(batch.capacity() == capacity);
  // The single-event form agrees.
  sdk::Event odd("3"), even("4");
  CHECK_FALSE(icpt->intercept(odd));
  CHECK(icpt->intercept(even));
}

TEST_CASE("build, initialize and close are safe to repeat") {
  RegexFilteringInterceptorBuilder b;
  REQUIRE(configureAsHost(b, regexFilterSchema(), contextOf({{"regex", "a"}})).ok());
  sdk::Result r;
  auto a = sdk::HostAccess::build(b, r);
  auto c = sdk::HostAccess::build(b, r);
  REQUIRE(r.ok());
  for (int i = 0; i < 2; ++i) {
    CHECK(sdk::HostAccess::initialize(*a).ok());
    sdk::HostAccess::close(*a);
    sdk::HostAccess::close(*c);
  }
  sdk::Event e("bab");
  CHECK(c->intercept(e));
  // Built without configure(): Flume's defaults.
  RegexFilteringInterceptorBuilder fresh;
  auto d = sdk::HostAccess::build(fresh, r);
  REQUIRE(r.ok());
  sdk::Event f("");
  CHECK(d->intercept(f));
}

TEST_CASE("intercept runs on several threads at once") {
  auto icpt = built<RegexFilteringInterceptorBuilder>({{"regex", "^(\\d+)-keep"}});
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        sdk::EventBatch batch;
        for (int i = 0; i < 32; ++i)
          batch.emplace_back(std::to_string(i) + (i % 3 ? "-drop" : "-keep"));
        if (!sdk::HostAccess::intercept(*icpt, batch).ok() || batch.size() != 11) return;
        for (std::size_t i = 0; i < batch.size(); ++i)
          if (batch[i].body != std::to_string(i * 3) + "-keep") return;
      }
      ok[t] = 1;
    });
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>{1, 1, 1, 1});
}

// ---- Allocation count: the hot path must not allocate beyond the change itself. ----

TEST_CASE("filtering allocates nothing once a thread has matched") {
  auto icpt = built<RegexFilteringInterceptorBuilder>({{"regex", "(ERROR|WARN) (\\w+)"}});
  sdk::EventBatch batch;
  batch.reserve(64);
  for (int i = 0; i < 64; ++i)
    batch.emplace_back(std::string(i % 2 ? "an ERROR here " : "fine ") + std::string(40, 'x'));
  sdk::Event warm("x");
  icpt->intercept(warm);  // this thread's match data
  CHECK(allocationsDuring([&] { icpt->intercept(batch); }) == 0);
  CHECK(batch.size() == 32);
}
