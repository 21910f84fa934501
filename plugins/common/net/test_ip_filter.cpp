// The IP filter: Flume's rule syntax and matching, its config keys, and a listener using it.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <map>

#include "example_line_source.hpp"
#include "net/io_pool.hpp"
#include "net/ip_filter.hpp"
#include "net/tcp_listener.hpp"
#include "net_test_support.hpp"

using namespace sluice::plugins::net;
using namespace sluice::plugins::net::testing;
namespace sdk = sluice::sdk;
using std::chrono::milliseconds;

namespace {

sockaddr_storage v4(const char* ip) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  REQUIRE(::inet_pton(AF_INET, ip, &a->sin_addr) == 1);
  return ss;
}

sockaddr_storage v6(const char* ip) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
  a->sin6_family = AF_INET6;
  REQUIRE(::inet_pton(AF_INET6, ip, &a->sin6_addr) == 1);
  return ss;
}

std::string configError(const std::map<std::string, std::string>& keys) {
  try {
    configureIpFilter(contextOf(keys));
  } catch (const sdk::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_SUITE("net-filter") {
  TEST_CASE("rules: first match decides, no match allows, globs, Java's address text") {
    const IpFilter f = IpFilter::parse("allow:ip:127.*, deny:ip:10.0.?.1 ,deny:name:*.example.com");
    CHECK(f.rules().size() == 3);
    CHECK(f.allows(v4("127.0.0.1")));
    CHECK_FALSE(f.allows(v4("10.0.3.1")));
    CHECK(f.allows(v4("10.0.33.1")));  // '?' is one character
    int lookups = 0;
    auto named = [&](const sockaddr_storage&) {
      ++lookups;
      return std::string("host.example.com");
    };
    CHECK_FALSE(f.allows(v4("192.168.1.1"), named));
    CHECK(lookups == 1);
    CHECK(f.allows(v4("127.0.0.1"), named));
    CHECK(lookups == 1);  // decided by an ip rule: no lookup

    CHECK(javaHostAddress(v6("::1")) == "0:0:0:0:0:0:0:1");
    CHECK(javaHostAddress(v6("::ffff:10.1.2.3")) == "10.1.2.3");
    CHECK(IpFilter::parse("deny:ip:0:0:0:0:0:0:0:1").allows(v6("::1")) == false);
    // "localhost" as a name pattern matches loopback without a lookup.
    const IpFilter local = IpFilter::parse("allow:name:localhost,deny:ip:*");
    CHECK(local.allows(v4("127.0.0.9"), named));
    CHECK(local.allows(v6("::1"), named));
    CHECK_FALSE(local.allows(v4("8.8.8.8"), named));
    CHECK(globMatch("a*b*c", "aXXbYc"));
    CHECK_FALSE(globMatch("a*b", "aXXc"));
  }

  TEST_CASE("config: bad rules and a missing rule list name ipFilterRules") {
    CHECK(configError({{"ipFilter", "true"}}) ==
          "a1.sources.r1.ipFilterRules: is required when ipFilter = true");
    CHECK(configError({{"ipFilterRules", "permit:ip:*"}}) ==
          "a1.sources.r1.ipFilterRules: invalid rule 'permit:ip:*': expected "
          "<allow|deny>:<ip|name>:<pattern>");
    CHECK(configError({{"ipFilter", "true"}, {"ipFilterRules", "allow:ip:*"}}).empty());
    sdk::Context off("a1.sources.r1");
    off.put("ipFilterRules", "deny:ip:*");
    CHECK(configureIpFilter(off) == nullptr);  // checked, but off
    CHECK(ipFilterKeys().size() == 2);
  }

  TEST_CASE("a listener with a filter: denied peers are closed at once and counted") {
    CaptureLogger log;
    RecordingProcessor processor;
    sdk::SourceCounter counter;
    IoPool pool("filtertest", 1);
    REQUIRE(pool.start(log).ok());
    example::LineSourceOptions lo;
    lo.ack = true;
    example::LineSource source(processor, counter, pool.size(), lo);
    for (const char* rules : {"deny:ip:127.*", "allow:ip:127.0.0.1,deny:ip:*"}) {
      CAPTURE(rules);
      const bool allowed = std::string(rules).rfind("allow", 0) == 0;
      TcpListener listener;
      ListenerOptions o;
      o.bind = "127.0.0.1";
      o.ipFilter = std::make_shared<const IpFilter>(IpFilter::parse(rules));
      REQUIRE(listener.start(pool, source, o, log).ok());
      RawClient c(listener.port());
      REQUIRE(c.connected());
      c.send("hello\n");
      if (allowed) {
        CHECK(c.readLines(1) == "OK\n");
        CHECK(listener.stats().get(Stat::Denied) == 0);
      } else {
        CHECK(c.waitClosed(milliseconds(10000)));
        CHECK(waitFor([&] { return listener.stats().get(Stat::Denied) == 1; }));
        CHECK(listener.stats().get(Stat::Accepted) == 0);
      }
      listener.stop();
    }
    CHECK(processor.snapshot() == std::vector<std::string>{"hello"});
    pool.stop();
  }

}  // TEST_SUITE
