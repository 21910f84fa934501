#include "static_interceptor.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>
#include "interceptor_test_support.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using namespace sluice::plugins::testing;
using sluice::plugins::staticheader::StaticInterceptorBuilder;
using sluice::plugins::staticheader::staticSchema;

// The host checks the keys against this schema before configure() (interceptor_test_support).
template <>
const sdk::Schema& sluice::plugins::testing::schemaOf<StaticInterceptorBuilder>() {
  return staticSchema();
}

namespace {

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(staticSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("the schema declares every key configure() reads, and no others") {
  const sdk::Schema& s = staticSchema();
  CHECK_FALSE(s.allowUnknownKeys);
  for (const char* k : {"key", "value", "preserveExisting"}) CHECK_MESSAGE(schemaDeclares(s, k), k);
  CHECK_FALSE(schemaDeclares(s, "keys"));
  CHECK_FALSE(schemaDeclares(s, "headerName"));
}

TEST_CASE("defaults: key=value, keeping an existing value") {
  auto icpt = built<StaticInterceptorBuilder>({});
  sdk::Event fresh("b");
  CHECK(icpt->intercept(fresh));
  CHECK(fresh.headers.get("key") == "value");
  CHECK(fresh.body == "b");
  sdk::Event has(sdk::Headers{{"key", "mine"}}, "");
  icpt->intercept(has);
  CHECK(has.headers.get("key") == "mine");
}

TEST_CASE("a valid config: key, value and preserveExisting = false") {
  auto icpt = built<StaticInterceptorBuilder>(
      {{"key", "datacenter"}, {"value", "NEW_YORK"}, {"preserveExisting", "false"}});
  sdk::Event e(sdk::Headers{{"datacenter", "old"}, {"x", "y"}}, "");
  icpt->intercept(e);
  CHECK(e.headers.get("datacenter") == "NEW_YORK");
  CHECK(e.headers.get("x") == "y");
  CHECK(e.headers.size() == 2);
}

TEST_CASE("an empty value and non-ASCII bytes are kept as they are") {
  auto empty = built<StaticInterceptorBuilder>({{"key", "k"}, {"value", ""}});
  sdk::Event e;
  empty->intercept(e);
  CHECK(e.headers.contains("k"));
  CHECK(e.headers.get("k", "absent").empty());
  auto unicode =
      built<StaticInterceptorBuilder>({{"key", "städte"}, {"value", "Zürich \xF0\x9F\x8C\x8D"}});
  sdk::Event f;
  unicode->intercept(f);
  CHECK(f.headers.get("städte") == "Zürich \xF0\x9F\x8C\x8D");
}

TEST_CASE("configure errors name the key") {
  CHECK(startsWith(configureError<StaticInterceptorBuilder>({{"preserveExisting", "maybe"}}),
                   std::string(kInterceptorPath) + ".preserveExisting: expected true or false"));
  CHECK(startsWith(configureError<StaticInterceptorBuilder>({{"key", ""}}),
                   std::string(kInterceptorPath) + ".key: must not be empty"));
}

TEST_CASE("the batch form never grows the batch and keeps order and capacity") {
  auto icpt = built<StaticInterceptorBuilder>({});
  sdk::EventBatch batch;
  batch.reserve(8);
  for (int i = 0; i < 5; ++i) batch.emplace_back(std::to_string(i));
  const auto* data = batch.data();
  REQUIRE(sdk::HostAccess::intercept(*icpt, batch).ok());
  CHECK(bodiesOf(batch) == std::vector<std::string>{"0", "1", "2", "3", "4"});
  CHECK(batch.data() == data);
  for (const auto& e : batch) CHECK(e.headers.get("key") == "value");
}

TEST_CASE("build, initialize and close are safe to repeat") {
  StaticInterceptorBuilder b;
  REQUIRE(configureAsHost(b, staticSchema(), contextOf({{"key", "a"}, {"value", "1"}})).ok());
  sdk::Result r;
  auto a = sdk::HostAccess::build(b, r);
  auto c = sdk::HostAccess::build(b, r);
  REQUIRE(r.ok());
  for (int i = 0; i < 2; ++i) {
    CHECK(sdk::HostAccess::initialize(*a).ok());
    sdk::HostAccess::close(*a);
    sdk::HostAccess::close(*c);
  }
  sdk::Event e;
  a->intercept(e);
  CHECK(e.headers.get("a") == "1");
  // Reconfiguring replaces every setting.
  REQUIRE(configureAsHost(b, staticSchema(), contextOf({})).ok());
  auto d = sdk::HostAccess::build(b, r);
  sdk::Event f;
  d->intercept(f);
  CHECK(f.headers.get("key") == "value");
}

TEST_CASE("intercept runs on several threads at once") {
  auto icpt = built<StaticInterceptorBuilder>({{"key", "k"}, {"value", "a-long-value-beyond-sso"}});
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        sdk::EventBatch batch(16);
        icpt->intercept(batch);
        for (const auto& e : batch)
          if (e.headers.get("k") != "a-long-value-beyond-sso") return;
      }
      ok[t] = 1;
    });
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>{1, 1, 1, 1});
}
