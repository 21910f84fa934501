#include "load_balancing_selector.hpp"

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fake_channels.hpp"
#include "host_context.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using sluice::plugins::loadbalancing::LoadBalancingSelector;
using sluice::plugins::loadbalancing::loadBalancingSelectorSchema;
using sluice::plugins::testing::checkReadmeMatchesSchema;

namespace {

using sluice::plugins::testing::NamedChannel;  // selectors look only at names

struct Fixture {
  NamedChannel c1{"c1"}, c2{"c2"}, c3{"c3"};
  LoadBalancingSelector selector;
  sdk::Result configure(const char* policy) {
    sdk::HostAccess::setChannels(selector, {&c1, &c2, &c3});
    sdk::Context ctx("a1.sources.r1.selector");
    if (policy) ctx.put("policy", policy);
    return sluice::plugins::testing::configureAsHost(selector, loadBalancingSelectorSchema(), ctx,
                                                     "load_balance");
  }
};

}  // namespace

TEST_CASE("round_robin sends each event to exactly one channel, in turn") {
  Fixture f;
  REQUIRE(f.configure(nullptr).ok());
  sdk::Event e("x");
  std::vector<std::string> seen;
  for (int i = 0; i < 6; ++i) {
    const auto& req = f.selector.getRequiredChannels(e);
    REQUIRE(req.size() == 1);
    seen.push_back(req.front()->getName());
    CHECK(f.selector.getOptionalChannels(e).empty());
  }
  CHECK(seen == std::vector<std::string>{"c1", "c2", "c3", "c1", "c2", "c3"});
}

TEST_CASE("random spreads events over every channel") {
  Fixture f;
  REQUIRE(f.configure("RANDOM").ok());
  sdk::Event e("x");
  std::map<std::string, int> count;
  for (int i = 0; i < 30000; ++i) count[f.selector.getRequiredChannels(e).front()->getName()]++;
  REQUIRE(count.size() == 3);
  for (const auto& [name, n] : count) {
    CHECK(n > 8000);
    CHECK(n < 12000);
  }
}

TEST_CASE("concurrent callers share the rotation without losing turns") {
  Fixture f;
  REQUIRE(f.configure("round_robin").ok());
  std::vector<std::map<std::string, int>> counts(4);
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      sdk::Event e("x");
      for (int i = 0; i < 30000; ++i)
        counts[static_cast<std::size_t>(t)][f.selector.getRequiredChannels(e).front()->getName()]++;
    });
  for (auto& th : threads) th.join();
  std::map<std::string, int> total;
  for (const auto& m : counts)
    for (const auto& [k, v] : m) total[k] += v;
  CHECK(total == std::map<std::string, int>{{"c1", 40000}, {"c2", 40000}, {"c3", 40000}});
}

TEST_CASE("a bad policy names the key") {
  Fixture f;
  sdk::Result r = f.configure("weighted");
  REQUIRE_FALSE(r.ok());
  // An enum value the schema lacks is refused by the host, which names every accepted value.
  CHECK(r.error() ==
        "a1.sources.r1.selector.policy: expected one of round_robin, random, got "
        "'weighted'");
}

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(loadBalancingSelectorSchema(), SLUICE_PLUGIN_README);
}
