#include "uuid_interceptor.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include "interceptor_test_support.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using namespace sluice::plugins::testing;
using sluice::plugins::uuid::randomUuid;
using sluice::plugins::uuid::UuidInterceptorBuilder;
using sluice::plugins::uuid::uuidSchema;

// The host checks the keys against this schema before configure() (interceptor_test_support).
template <>
const sdk::Schema& sluice::plugins::testing::schemaOf<UuidInterceptorBuilder>() {
  return uuidSchema();
}

namespace {

// 8-4-4-4-12 lowercase hex, version 4, IETF variant.
bool isV4Uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return s[14] == '4' && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(uuidSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("the schema declares every key configure() reads, and no others") {
  const sdk::Schema& s = uuidSchema();
  CHECK_FALSE(s.allowUnknownKeys);
  for (const char* k : {"headerName", "preserveExisting", "prefix"})
    CHECK_MESSAGE(schemaDeclares(s, k), k);
  CHECK_FALSE(schemaDeclares(s, "header"));
}

TEST_CASE("randomUuid gives well-formed, distinct version 4 UUIDs") {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    char buf[36];
    randomUuid(buf);
    std::string s(buf, 36);
    REQUIRE_MESSAGE(isV4Uuid(s), s);
    seen.insert(s);
  }
  CHECK(seen.size() == 10000);
}

TEST_CASE("defaults: header 'id', an existing id is kept") {
  auto icpt = built<UuidInterceptorBuilder>({});
  sdk::Event fresh("body");
  CHECK(icpt->intercept(fresh));
  CHECK(isV4Uuid(fresh.headers.get("id")));
  CHECK(fresh.body == "body");
  sdk::Event has(sdk::Headers{{"id", "mine"}}, "");
  icpt->intercept(has);
  CHECK(has.headers.get("id") == "mine");
}

TEST_CASE("a valid config: headerName, prefix and preserveExisting = false") {
  auto icpt = built<UuidInterceptorBuilder>(
      {{"headerName", "eventId"}, {"prefix", "agent7-"}, {"preserveExisting", "false"}});
  sdk::Event e(sdk::Headers{{"eventId", "old"}}, "");
  icpt->intercept(e);
  const std::string v = e.headers.get("eventId");
  REQUIRE(v.size() == 7 + 36);
  CHECK(v.substr(0, 7) == "agent7-");
  CHECK(isV4Uuid(v.substr(7)));
  CHECK_FALSE(e.headers.contains("id"));
}

TEST_CASE("each event gets its own id") {
  auto icpt = built<UuidInterceptorBuilder>({});
  sdk::EventBatch batch(100);
  icpt->intercept(batch);
  std::set<std::string> ids;
  for (const auto& e : batch) ids.insert(e.headers.get("id"));
  CHECK(ids.size() == 100);
}

TEST_CASE("configure errors name the key") {
  CHECK(startsWith(configureError<UuidInterceptorBuilder>({{"preserveExisting", "nope"}}),
                   std::string(kInterceptorPath) + ".preserveExisting: expected true or false"));
  CHECK(startsWith(configureError<UuidInterceptorBuilder>({{"headerName", ""}}),
                   std::string(kInterceptorPath) + ".headerName: must not be empty"));
}

TEST_CASE("the batch form never grows the batch and keeps order and capacity") {
  auto icpt = built<UuidInterceptorBuilder>({});
  sdk::EventBatch batch;
  batch.reserve(8);
  for (int i = 0; i < 5; ++i) batch.emplace_back(std::to_string(i));
  const auto* data = batch.data();
  REQUIRE(sdk::HostAccess::intercept(*icpt, batch).ok());
  CHECK(bodiesOf(batch) == std::vector<std::string>{"0", "1", "2", "3", "4"});
  CHECK(batch.data() == data);
}

TEST_CASE("build, initialize and close are safe to repeat") {
  UuidInterceptorBuilder b;
  REQUIRE(configureAsHost(b, uuidSchema(), contextOf({{"prefix", "p"}})).ok());
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
  c->intercept(e);
  CHECK(e.headers.get("id").substr(0, 1) == "p");
}

TEST_CASE("ids are unique across threads running intercept at once") {
  auto icpt = built<UuidInterceptorBuilder>({});
  constexpr int kThreads = 4, kRounds = 100, kBatch = 64;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        sdk::EventBatch batch(kBatch);
        icpt->intercept(batch);
        for (const auto& e : batch) ids[t].push_back(e.headers.get("id"));
      }
    });
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& v : ids)
    for (const auto& id : v) {
      CHECK(isV4Uuid(id));
      all.insert(id);
    }
  CHECK(all.size() == static_cast<std::size_t>(kThreads * kRounds * kBatch));
}
