#include "remove_header_interceptor.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include "allocation_counter.hpp"
#include "interceptor_test_support.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using namespace sluice::plugins::testing;
using sluice::plugins::removeheader::RemoveHeaderInterceptor;
using sluice::plugins::removeheader::RemoveHeaderInterceptorBuilder;
using sluice::plugins::removeheader::removeHeaderSchema;

// The host checks the keys against this schema before configure() (interceptor_test_support).
template <>
const sdk::Schema& sluice::plugins::testing::schemaOf<RemoveHeaderInterceptorBuilder>() {
  return removeHeaderSchema();
}

namespace {

sdk::Event sample() {
  return sdk::Event(sdk::Headers{{"host", "h1"},
                                 {"timestamp", "1"},
                                 {"id", "x"},
                                 {"app.name", "web"},
                                 {"app.version", "2"},
                                 {"Grüße", "u"},
                                 {"", "empty name"}},
                    "body");
}

// The names left after an interceptor with these keys ran on sample().
std::set<std::string> leftAfter(KeyValues kv) {
  auto icpt = built<RemoveHeaderInterceptorBuilder>(kv);
  sdk::Event e = sample();
  CHECK(icpt->intercept(e));
  CHECK(e.body == "body");
  std::set<std::string> names;
  for (const auto& [k, v] : e.headers) names.insert(k);
  return names;
}

using Names = std::set<std::string>;
const Names kAll{"host", "timestamp", "id", "app.name", "app.version", "Grüße", ""};

Names allBut(std::initializer_list<const char*> removed) {
  Names out = kAll;
  for (const char* r : removed) out.erase(r);
  return out;
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(removeHeaderSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("the schema declares every key configure() reads, and no others") {
  const sdk::Schema& s = removeHeaderSchema();
  CHECK_FALSE(s.allowUnknownKeys);
  for (const char* k : {"withName", "fromList", "fromListSeparator", "matching"})
    CHECK_MESSAGE(schemaDeclares(s, k), k);
  CHECK_FALSE(schemaDeclares(s, "from.list"));
  CHECK_FALSE(schemaDeclares(s, "with.name"));
}

TEST_CASE("no keys: nothing is removed") { CHECK(leftAfter({}) == kAll); }

TEST_CASE("withName removes one header, exactly named") {
  CHECK(leftAfter({{"withName", "id"}}) == allBut({"id"}));
  CHECK(leftAfter({{"withName", "ID"}}) == kAll);  // names are case-sensitive
  CHECK(leftAfter({{"withName", "nosuch"}}) == kAll);
  CHECK(leftAfter({{"withName", "Grüße"}}) == allBut({"Grüße"}));
}

TEST_CASE("fromList, with the default and a custom separator") {
  CHECK(leftAfter({{"fromList", "host ,timestamp,  id"}}) == allBut({"host", "timestamp", "id"}));
  CHECK(leftAfter({{"fromList", "host"}}) == allBut({"host"}));
  CHECK(leftAfter({{"fromList", ",host,,"}}) == allBut({"host"}));  // empty pieces are no names
  CHECK(leftAfter({{"fromList", "host;id|timestamp"}, {"fromListSeparator", "[;|]"}}) ==
        allBut({"host", "id", "timestamp"}));
  // With the default separator a ; is part of a name.
  CHECK(leftAfter({{"fromList", "host;id"}}) == kAll);
}

TEST_CASE("matching removes the headers whose whole name matches") {
  CHECK(leftAfter({{"matching", "app\\..*"}}) == allBut({"app.name", "app.version"}));
  CHECK(leftAfter({{"matching", "app"}}) == kAll);  // not a substring search: matches()
  CHECK(leftAfter({{"matching", "(?i)HOST|ID"}}) == allBut({"host", "id"}));
  CHECK(leftAfter({{"matching", "^$"}}) == allBut({""}));
  CHECK(leftAfter({{"matching", "Gr..e"}}) == allBut({"Grüße"}));  // ü and ß are one character
  CHECK(leftAfter({{"matching", ".*"}}).empty());
}

TEST_CASE("all three combine") {
  CHECK(leftAfter({{"withName", "id"}, {"fromList", "host"}, {"matching", "app\\.v.*"}}) ==
        allBut({"id", "host", "app.version"}));
}

TEST_CASE("events without headers, and empty batches") {
  auto icpt = built<RemoveHeaderInterceptorBuilder>({{"withName", "a"}, {"matching", ".*"}});
  sdk::EventBatch batch(3);
  REQUIRE(sdk::HostAccess::intercept(*icpt, batch).ok());
  CHECK(batch.size() == 3);
  sdk::EventBatch none;
  REQUIRE(sdk::HostAccess::intercept(*icpt, none).ok());
  CHECK(none.empty());
}

TEST_CASE("configure errors name the key") {
  CHECK(configureError<RemoveHeaderInterceptorBuilder>({{"matching", "app["}}) ==
        std::string(kInterceptorPath) +
            ".matching: cannot compile 'app[': missing terminating ] for character class at "
            "offset 4");
  CHECK(startsWith(configureError<RemoveHeaderInterceptorBuilder>(
                       {{"fromList", "a"}, {"fromListSeparator", "("}}),
                   std::string(kInterceptorPath) + ".fromListSeparator: cannot compile '(': "));
  CHECK(configureError<RemoveHeaderInterceptorBuilder>({{"withName", "x"}}).empty());
}

TEST_CASE("a header-name match that fails keeps the header and is counted") {
  RemoveHeaderInterceptorBuilder b;
  REQUIRE(configureAsHost(b, removeHeaderSchema(), contextOf({{"matching", "(a+)+b"}})).ok());
  sdk::Result r;
  auto icpt = sdk::HostAccess::build(b, r);
  REQUIRE(r.ok());
  const std::string bad = std::string(40, 'a') + "cb";
  sdk::Event e(sdk::Headers{{bad, "1"}, {"aab", "2"}}, "");
  icpt->intercept(e);
  CHECK(e.headers.contains(bad));
  CHECK_FALSE(e.headers.contains("aab"));
  CHECK(static_cast<RemoveHeaderInterceptor&>(*icpt).matchErrors() == 1);
}

TEST_CASE("the batch form never grows the batch and keeps order and capacity") {
  auto icpt = built<RemoveHeaderInterceptorBuilder>({{"withName", "x"}});
  sdk::EventBatch batch;
  batch.reserve(8);
  for (int i = 0; i < 5; ++i)
    batch.emplace_back(sdk::Headers{{"x", "1"}, {"y", "2"}}, std::to_string(i));
  const auto* data = batch.data();
  REQUIRE(sdk::HostAccess::intercept(*icpt, batch).ok());
  CHECK(bodiesOf(batch) == std::vector<std::string>{"0", "1", "2", "3", "4"});
  CHECK(batch.data() == data);
  for (const auto& e : batch) {
    CHECK_FALSE(e.headers.contains("x"));
    CHECK(e.headers.get("y") == "2");
  }
}

TEST_CASE("build, initialize and close are safe to repeat") {
  RemoveHeaderInterceptorBuilder b;
  REQUIRE(configureAsHost(b, removeHeaderSchema(), contextOf({{"fromList", "a,b"}})).ok());
  sdk::Result r;
  auto a = sdk::HostAccess::build(b, r);
  auto c = sdk::HostAccess::build(b, r);
  REQUIRE(r.ok());
  for (int i = 0; i < 2; ++i) {
    CHECK(sdk::HostAccess::initialize(*a).ok());
    sdk::HostAccess::close(*a);
    sdk::HostAccess::close(*c);
  }
  sdk::Event e(sdk::Headers{{"a", "1"}, {"c", "3"}}, "");
  c->intercept(e);
  CHECK(e.headers.size() == 1);
  // Reconfiguring replaces every setting.
  REQUIRE(configureAsHost(b, removeHeaderSchema(), contextOf({{"withName", "c"}})).ok());
  auto d = sdk::HostAccess::build(b, r);
  sdk::Event f(sdk::Headers{{"a", "1"}, {"c", "3"}}, "");
  d->intercept(f);
  CHECK(f.headers.contains("a"));
  CHECK_FALSE(f.headers.contains("c"));
}

TEST_CASE("intercept runs on several threads at once") {
  auto icpt =
      built<RemoveHeaderInterceptorBuilder>({{"fromList", "a, b"}, {"matching", "tmp\\d+"}});
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        sdk::EventBatch batch;
        for (int i = 0; i < 16; ++i)
          batch.emplace_back(
              sdk::Headers{{"a", "1"}, {"keep", "k"}, {"tmp" + std::to_string(i), "t"}, {"b", "2"}},
              "");
        if (!sdk::HostAccess::intercept(*icpt, batch).ok()) return;
        for (const auto& e : batch)
          if (e.headers.size() != 1 || !e.headers.contains("keep")) return;
      }
      ok[t] = 1;
    });
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>{1, 1, 1, 1});
}

// ---- Allocation count: the hot path must not allocate beyond the change itself. ----

TEST_CASE("removing headers allocates nothing") {
  auto icpt = built<RemoveHeaderInterceptorBuilder>(
      {{"withName", "a"}, {"fromList", "b, c"}, {"matching", "tmp\\d+"}});
  sdk::EventBatch batch;
  for (int i = 0; i < 64; ++i)
    batch.emplace_back(sdk::Headers{{"a", "1"}, {"b", "2"}, {"keep", "k"}, {"tmp12", "t"}}, "");
  sdk::Event warm(sdk::Headers{{"tmp1", "x"}}, "");
  icpt->intercept(warm);
  CHECK(allocationsDuring([&] { icpt->intercept(batch); }) == 0);
  CHECK(batch[7].headers.size() == 1);
}
