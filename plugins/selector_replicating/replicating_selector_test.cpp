#include "replicating_selector.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include "fake_channels.hpp"
#include "host_context.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::replicating::ReplicatingSelector;
using sluice::plugins::replicating::replicatingSelectorSchema;

namespace {

using sluice::plugins::testing::NamedChannel;  // selectors look only at names

sdk::Context contextOf(std::initializer_list<std::pair<const char*, const char*>> kv) {
  sdk::Context ctx("a1.sources.r1.selector");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

struct Fixture {
  NamedChannel c1{"c1"}, c2{"c2"}, c3{"c3"};
  ReplicatingSelector selector;

  sdk::Result configure(std::initializer_list<std::pair<const char*, const char*>> kv) {
    sdk::HostAccess::setChannels(selector, {&c1, &c2, &c3});
    return sluice::plugins::testing::configureAsHost(selector, replicatingSelectorSchema(),
                                                     contextOf(kv), "replicating");
  }
};


}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(replicatingSelectorSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("all channels are required by default") {
  Fixture f;
  REQUIRE(f.configure({}).ok());
  sdk::Event e("x");
  CHECK(f.selector.getRequiredChannels(e) == std::vector<sdk::Channel*>{&f.c1, &f.c2, &f.c3});
  CHECK(f.selector.getOptionalChannels(e).empty());
}

TEST_CASE("optional channels are taken out of the required ones") {
  Fixture f;
  REQUIRE(f.configure({{"optional", "c3 c1"}, {"type", "replicating"}}).ok());
  sdk::Event e("x");
  CHECK(f.selector.getRequiredChannels(e) == std::vector<sdk::Channel*>{&f.c2});
  CHECK(f.selector.getOptionalChannels(e) == std::vector<sdk::Channel*>{&f.c3, &f.c1});
  // The same vectors every time: nothing is built per event.
  CHECK(&f.selector.getRequiredChannels(e) == &f.selector.getRequiredChannels(sdk::Event("y")));
}

TEST_CASE("separators and duplicates in optional") {
  Fixture f;
  REQUIRE(f.configure({{"optional", " c2,c2\tc3 "}}).ok());
  sdk::Event e;
  CHECK(f.selector.getRequiredChannels(e) == std::vector<sdk::Channel*>{&f.c1});
  CHECK(f.selector.getOptionalChannels(e) == std::vector<sdk::Channel*>{&f.c2, &f.c3});
}

TEST_CASE("an unknown optional channel is an error naming the key") {
  Fixture f;
  sdk::Result r = f.configure({{"optional", "c2 c9"}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() ==
        "a1.sources.r1.selector.optional: channel 'c9' is not one of this source's channels");
}

TEST_CASE("reconfiguring replaces the lists") {
  Fixture f;
  REQUIRE(f.configure({{"optional", "c1"}}).ok());
  REQUIRE(f.configure({}).ok());
  CHECK(f.selector.getRequiredChannels(sdk::Event()).size() == 3);
  CHECK(f.selector.getOptionalChannels(sdk::Event()).empty());
}
