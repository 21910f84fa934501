// Unit tests of the netcatudp source with real UDP sockets on 127.0.0.1: one event per datagram
// (its text up to the first newline), remoteAddressHeader, a refusing channel (dropped and
// counted), truncation and the lifecycle.
#include "netcat_udp_source.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "readme_schema_check.hpp"
#include "syslog/source_test_support.hpp"

namespace sdk = sluice::sdk;
using sluice::plugins::netcatudp::NetcatUdpSource;
using sluice::plugins::netcatudp::netcatUdpSourceSchema;
using sluice::plugins::syslog::testing::checkRefusedDatagramsDropped;
using sluice::plugins::syslog::testing::checkUdpRestarts;
using sluice::plugins::syslog::testing::configureError;
using sluice::plugins::syslog::testing::header;
using sluice::plugins::syslog::testing::KV;
using sluice::plugins::syslog::testing::Started;
using sluice::plugins::syslog::testing::UdpSender;
using sluice::plugins::syslog::testing::waitFor;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using namespace std::chrono_literals;

namespace {

using Source = Started<NetcatUdpSource, netcatUdpSourceSchema>;

std::string err(KV kv) { return configureError<NetcatUdpSource, netcatUdpSourceSchema>(kv); }

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(netcatUdpSourceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config: both spellings of the remote address header, and defaults") {
  for (const char* key : {"remoteAddressHeader", "remoteAddress"}) {
    NetcatUdpSource src;
    REQUIRE(sluice::plugins::syslog::testing::configureAsHost<netcatUdpSourceSchema>(
                src, {{"bind", "127.0.0.1"}, {"port", "6666"}, {key, "remote"}})
                .ok());
    CHECK(src.settings().bind == "127.0.0.1");
    CHECK(src.settings().port == 6666);
    CHECK(src.settings().remoteAddressHeader == "remote");
  }
  NetcatUdpSource d;
  REQUIRE(
      sluice::plugins::syslog::testing::configureAsHost<netcatUdpSourceSchema>(d, {{"port", "1"}})
          .ok());
  CHECK(d.settings().bind == "0.0.0.0");
  CHECK(d.settings().remoteAddressHeader.empty());
  CHECK(d.settings().maxDatagramBytes == 65535);
}

TEST_CASE("configure errors name the key") {
  const std::string missing = err({{"bind", "127.0.0.1"}});
  CHECK(missing.find("a1.sources.r1") == 0);
  CHECK(missing.find("'port'") != std::string::npos);
  CHECK(err({{"port", "-1"}}).find("a1.sources.r1.port") == 0);
  CHECK(err({{"port", "1"}, {"remoteAddressHeader", "a"}, {"remoteAddress", "b"}})
            .find("a1.sources.r1.remoteAddress:") == 0);
  CHECK(err({{"port", "1"}, {"maxDatagramBytes", "0"}}).find("a1.sources.r1.maxDatagramBytes") ==
        0);
}

TEST_CASE("one event per datagram, up to its first newline, with the sender's address") {
  Source f({{"bind", "127.0.0.1"}, {"port", "0"}, {"remoteAddressHeader", "remote"}});
  UdpSender s;
  s.send(f.source.boundPort(), "first line\nsecond line is dropped\n");
  s.send(f.source.boundPort(), "unicode \xE2\x9C\x93 kept\r\n");
  s.send(f.source.boundPort(), "no newline");
  REQUIRE(f.received(3));
  CHECK(f.processor.snapshot() ==
        std::vector<std::string>{"first line", "unicode \xE2\x9C\x93 kept\r", "no newline"});
  const std::string want = "/127.0.0.1:" + std::to_string(s.localPort());
  for (std::size_t i = 0; i < 3; ++i) CHECK(header(f.processor.headersOf(i), "remote") == want);
  CHECK(waitFor([&] { return f.counter("EventAcceptedCount") == 3; }));
}

TEST_CASE("a datagram over maxDatagramBytes is cut and counted") {
  Source f({{"bind", "127.0.0.1"}, {"port", "0"}, {"maxDatagramBytes", "10"}});
  UdpSender s;
  s.send(f.source.boundPort(), "0123456789abcdef");
  REQUIRE(f.received(1));
  CHECK(f.processor.snapshot()[0] == "0123456789");
  CHECK(waitFor([&] { return f.counter("DatagramTruncatedCount") == 1; }));
}

TEST_CASE("a refusing channel drops the datagrams and counts them; later ones flow") {
  Source f({{"bind", "127.0.0.1"}, {"port", "0"}});
  checkRefusedDatagramsDropped(f, 4, "datagram", "datagram");
}

TEST_CASE("start and stop are safe to repeat, and a restarted source serves again") {
  Source f({{"bind", "127.0.0.1"}, {"port", "0"}});
  const auto text = [](int i) { return "round " + std::to_string(i); };
  checkUdpRestarts(f, text, text);
}
