#include "multiplexing_selector.hpp"

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
using sluice::plugins::multiplexing::MultiplexingSelector;
using sluice::plugins::multiplexing::multiplexingSelectorSchema;

namespace {

using sluice::plugins::testing::NamedChannel;  // selectors look only at names

sdk::Context contextOf(std::initializer_list<std::pair<const char*, const char*>> kv) {
  sdk::Context ctx("a1.sources.r1.selector");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

using Channels = std::vector<sdk::Channel*>;

struct Fixture {
  NamedChannel c1{"c1"}, c2{"c2"}, c3{"c3"}, c4{"c4"};
  MultiplexingSelector selector;

  sdk::Result configure(std::initializer_list<std::pair<const char*, const char*>> kv) {
    sdk::HostAccess::setChannels(selector, {&c1, &c2, &c3, &c4});
    return sluice::plugins::testing::configureAsHost(selector, multiplexingSelectorSchema(),
                                                     contextOf(kv), "multiplexing");
  }
  const Channels& required(const char* header, const char* value) {
    event = sdk::Event("body");
    if (value) event.headers.set(header, value);
    return selector.getRequiredChannels(event);
  }
  const Channels& optional(const char* header, const char* value) {
    event = sdk::Event("body");
    if (value) event.headers.set(header, value);
    return selector.getOptionalChannels(event);
  }
  sdk::Event event;
};


}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(multiplexingSelectorSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("Flume's user-guide example") {
  Fixture f;
  REQUIRE(f.configure({{"type", "multiplexing"},
                       {"header", "state"},
                       {"mapping.CZ", "c1"},
                       {"mapping.US", "c2 c3"},
                       {"optional.CZ", "c4"},
                       {"default", "c4"}})
              .ok());
  CHECK(f.required("state", "CZ") == Channels{&f.c1});
  CHECK(f.optional("state", "CZ") == Channels{&f.c4});
  CHECK(f.required("state", "US") == Channels{&f.c2, &f.c3});
  CHECK(f.optional("state", "US").empty());
  CHECK(f.required("state", "FR") == Channels{&f.c4});     // unmapped -> default
  CHECK(f.required("state", nullptr) == Channels{&f.c4});  // missing -> default
  CHECK(f.required("state", "  ") == Channels{&f.c4});     // blank -> default
  CHECK(f.optional("state", nullptr).empty());
  CHECK(f.required("other", "CZ") == Channels{&f.c4});  // only `header` counts
}

TEST_CASE("the default header is flume.selector.header") {
  Fixture f;
  REQUIRE(f.configure({{"mapping.a", "c2"}, {"default", "c1"}}).ok());
  CHECK(f.required("flume.selector.header", "a") == Channels{&f.c2});
  CHECK(f.required("flume.selector.header", "b") == Channels{&f.c1});
}

TEST_CASE("optional channels drop those already required for the value") {
  Fixture f;
  REQUIRE(f.configure({{"header", "h"},
                       {"mapping.a", "c1 c2"},
                       {"optional.a", "c2 c3"},
                       {"default", "c4"},
                       {"optional.zz", "c4 c1"}})
              .ok());
  CHECK(f.optional("h", "a") == Channels{&f.c3});
  // "zz" has no mapping, so its required channels are the default ones.
  CHECK(f.required("h", "zz") == Channels{&f.c4});
  CHECK(f.optional("h", "zz") == Channels{&f.c1});
}

TEST_CASE("without a mapping or default only the optional channels are used") {
  Fixture f;
  REQUIRE(f.configure({{"header", "h"}, {"optional.x", "c3"}}).ok());
  CHECK(f.required("h", "x").empty());
  CHECK(f.optional("h", "x") == Channels{&f.c3});
  CHECK(f.required("h", "y").empty());
}

TEST_CASE("lookups return stable references") {
  Fixture f;
  REQUIRE(f.configure({{"header", "h"}, {"mapping.a", "c1"}, {"default", "c2"}}).ok());
  const Channels* first = &f.required("h", "a");
  CHECK(first == &f.required("h", "a"));
  CHECK(&f.required("h", "b") == &f.required("h", nullptr));
}

TEST_CASE("configure errors name the key") {
  auto errorOf = [](std::initializer_list<std::pair<const char*, const char*>> kv) {
    Fixture f;
    sdk::Result r = f.configure(kv);
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  CHECK(errorOf({{"mapping.CZ", "c1 c9"}}) ==
        "a1.sources.r1.selector.mapping.CZ: channel 'c9' is not one of this source's channels");
  CHECK(errorOf({{"default", "nope"}}).find("a1.sources.r1.selector.default: channel 'nope'") == 0);
  CHECK(errorOf({{"optional.US", "c1 zz"}})
            .find("a1.sources.r1.selector.optional.US: channel 'zz'") == 0);
  CHECK(errorOf({{"mapping.CZ", " "}}) ==
        "a1.sources.r1.selector.mapping.CZ: no channel configured for header value 'CZ'");
  CHECK(errorOf({{"header", ""}}).find("a1.sources.r1.selector.header:") == 0);
}

TEST_CASE("reconfiguring replaces the routing") {
  Fixture f;
  REQUIRE(f.configure({{"header", "h"}, {"mapping.a", "c1"}}).ok());
  REQUIRE(f.configure({{"header", "h"}, {"mapping.b", "c2"}}).ok());
  CHECK(f.required("h", "a").empty());
  CHECK(f.required("h", "b") == Channels{&f.c2});
  // A failed reconfiguration leaves the previous routing in place.
  REQUIRE_FALSE(f.configure({{"header", "h"}, {"mapping.b", "c9"}}).ok());
  CHECK(f.required("h", "b") == Channels{&f.c2});
}
