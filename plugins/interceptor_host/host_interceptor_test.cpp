#include "host_interceptor.hpp"

#include <arpa/inet.h>
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
using sluice::plugins::host::HostInterceptor;
using sluice::plugins::host::HostInterceptorBuilder;
using sluice::plugins::host::hostSchema;
using sluice::plugins::host::localHost;

// The host checks the keys against this schema before configure() (interceptor_test_support).
template <>
const sdk::Schema& sluice::plugins::testing::schemaOf<HostInterceptorBuilder>() {
  return hostSchema();
}

namespace {

bool isIpAddress(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(hostSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("the schema declares every key configure() reads, and no others") {
  const sdk::Schema& s = hostSchema();
  CHECK_FALSE(s.allowUnknownKeys);
  for (const char* k : {"hostHeader", "useIP", "preserveExisting"})
    CHECK_MESSAGE(schemaDeclares(s, k), k);
  CHECK_FALSE(schemaDeclares(s, "headerName"));
  CHECK_FALSE(schemaDeclares(s, "useIp"));
}

TEST_CASE("the local host resolves to an address and a name") {
  std::string error;
  auto ip = localHost(true, &error);
  REQUIRE_MESSAGE(ip.has_value(), error);
  CHECK(isIpAddress(*ip));
  auto name = localHost(false, &error);
  REQUIRE_MESSAGE(name.has_value(), error);
  CHECK_FALSE(name->empty());
}

TEST_CASE("defaults: header 'host' holds the IP address") {
  auto icpt = built<HostInterceptorBuilder>({});
  sdk::Event e("body");
  CHECK(icpt->intercept(e));
  REQUIRE(e.headers.contains("host"));
  CHECK(isIpAddress(e.headers.get("host")));
  CHECK(e.headers.get("host") == *localHost(true, nullptr));
  CHECK(e.body == "body");
}

TEST_CASE("a valid config: useIP = false puts the host name under hostHeader") {
  auto icpt = built<HostInterceptorBuilder>(
      {{"hostHeader", "agentHost"}, {"useIP", "false"}, {"preserveExisting", "false"}});
  sdk::Event e;
  icpt->intercept(e);
  CHECK(e.headers.get("agentHost") == *localHost(false, nullptr));
  CHECK_FALSE(e.headers.contains("host"));
}

TEST_CASE("preserveExisting") {
  HostInterceptor replace("host", false, std::string("10.1.2.3"));
  HostInterceptor keep("host", true, std::string("10.1.2.3"));
  sdk::Event a(sdk::Headers{{"host", "old"}}, "");
  sdk::Event b(sdk::Headers{{"host", "old"}}, "");
  sdk::Event c;
  replace.intercept(a);
  keep.intercept(b);
  keep.intercept(c);
  CHECK(a.headers.get("host") == "10.1.2.3");
  CHECK(b.headers.get("host") == "old");
  CHECK(c.headers.get("host") == "10.1.2.3");
}

TEST_CASE("a host that could not be resolved leaves events alone, as Flume") {
  HostInterceptor none("host", false, std::nullopt);
  sdk::EventBatch batch(3);
  none.intercept(batch);
  CHECK(batch.size() == 3);
  for (const auto& e : batch) CHECK(e.headers.empty());
}

TEST_CASE("configure errors name the key") {
  CHECK(startsWith(configureError<HostInterceptorBuilder>({{"useIP", "1"}}),
                   std::string(kInterceptorPath) + ".useIP: expected true or false, got '1'"));
  CHECK(startsWith(configureError<HostInterceptorBuilder>({{"preserveExisting", "no"}}),
                   std::string(kInterceptorPath) + ".preserveExisting: expected true or false"));
  CHECK(startsWith(configureError<HostInterceptorBuilder>({{"hostHeader", ""}}),
                   std::string(kInterceptorPath) + ".hostHeader: must not be empty"));
}

TEST_CASE("the batch form never grows the batch and keeps order and capacity") {
  HostInterceptor icpt("host", false, std::string("h"));
  sdk::EventBatch batch;
  batch.reserve(8);
  for (int i = 0; i < 5; ++i) batch.emplace_back(std::to_string(i));
  const auto* data = batch.data();
  REQUIRE(sdk::HostAccess::intercept(icpt, batch).ok());
  CHECK(bodiesOf(batch) == std::vector<std::string>{"0", "1", "2", "3", "4"});
  CHECK(batch.data() == data);
  for (const auto& e : batch) CHECK(e.headers.get("host") == "h");
}

TEST_CASE("build, initialize and close are safe to repeat") {
  HostInterceptorBuilder b;
  REQUIRE(configureAsHost(b, hostSchema(), contextOf({{"hostHeader", "h"}})).ok());
  sdk::Result r;
  auto a = sdk::HostAccess::build(b, r);
  REQUIRE(r.ok());
  auto c = sdk::HostAccess::build(b, r);
  REQUIRE(r.ok());
  for (int i = 0; i < 2; ++i) {
    CHECK(sdk::HostAccess::initialize(*a).ok());
    sdk::HostAccess::close(*a);
    sdk::HostAccess::close(*c);
  }
  sdk::Event e;
  c->intercept(e);
  CHECK(e.headers.contains("h"));
}

TEST_CASE("intercept runs on several threads at once") {
  HostInterceptor icpt("host", true, std::string("10.0.0.7"));
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        sdk::EventBatch batch(16);
        icpt.intercept(batch);
        for (const auto& e : batch)
          if (e.headers.get("host") != "10.0.0.7") return;
      }
      ok[t] = 1;
    });
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>{1, 1, 1, 1});
}
