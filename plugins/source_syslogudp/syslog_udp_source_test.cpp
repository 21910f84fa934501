// Unit tests of the syslogudp source with real UDP sockets on 127.0.0.1: what arrives in the
// channels (bodies, Flume's headers), unparsable datagrams, a refusing channel (dropped and
// counted: UDP has no back-pressure), the IP filter and the lifecycle. Parsing itself is tested
// in plugins/common/syslog.
#include "syslog_udp_source.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "readme_schema_check.hpp"
#include "syslog/source_test_support.hpp"

namespace sdk = sluice::sdk;
using sluice::plugins::syslog::testing::checkRefusedDatagramsDropped;
using sluice::plugins::syslog::testing::checkUdpRestarts;
using sluice::plugins::syslog::testing::configureError;
using sluice::plugins::syslog::testing::header;
using sluice::plugins::syslog::testing::KV;
using sluice::plugins::syslog::testing::Started;
using sluice::plugins::syslog::testing::UdpSender;
using sluice::plugins::syslog::testing::waitFor;
using sluice::plugins::syslogudp::SyslogUdpSource;
using sluice::plugins::syslogudp::syslogUdpSourceSchema;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using namespace std::chrono_literals;

namespace {

using Source = Started<SyslogUdpSource, syslogUdpSourceSchema>;

std::string err(KV kv) { return configureError<SyslogUdpSource, syslogUdpSourceSchema>(kv); }

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(syslogUdpSourceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config and Flume's defaults") {
  SyslogUdpSource src;
  REQUIRE(sluice::plugins::syslog::testing::configureAsHost<syslogUdpSourceSchema>(
              src, {{"host", "127.0.0.1"},
                    {"port", "5140"},
                    {"keepFields", "priority hostname"},
                    {"clientIPHeader", "ip"},
                    {"clientHostnameHeader", "name"},
                    {"receiveBufferBytes", "1048576"}})
              .ok());
  CHECK(src.settings().host == "127.0.0.1");
  CHECK(src.settings().port == 5140);
  CHECK(src.settings().keep.priority);
  CHECK(src.settings().keep.hostname);
  CHECK_FALSE(src.settings().keep.version);
  CHECK(src.settings().names.clientIp == "ip");
  CHECK(src.settings().names.clientHostname == "name");
  CHECK(src.settings().receiveBufferBytes == 1048576);
  SyslogUdpSource d;
  REQUIRE(
      sluice::plugins::syslog::testing::configureAsHost<syslogUdpSourceSchema>(d, {{"port", "1"}})
          .ok());
  CHECK(d.settings().host == "0.0.0.0");
  CHECK_FALSE(d.settings().keep.any());
  CHECK(d.settings().names.clientIp.empty());
}

TEST_CASE("configure errors name the key") {
  const std::string missing = err({{"host", "127.0.0.1"}});
  CHECK(missing.find("a1.sources.r1") == 0);
  CHECK(missing.find("'port'") != std::string::npos);
  CHECK(err({{"port", "65536"}}).find("a1.sources.r1.port") == 0);
  CHECK(err({{"port", "1"}, {"format.regex", "x"}}).find("a1.sources.r1.format.regex:") == 0);
  CHECK(err({{"port", "1"}, {"ipFilter", "true"}}).find("a1.sources.r1.ipFilterRules:") == 0);
}

TEST_CASE("RFC 5424 and RFC 3164 datagrams arrive once with Flume's headers") {
  Source f({{"host", "127.0.0.1"}, {"port", "0"}, {"clientIPHeader", "clientIp"}});
  const uint16_t port = f.source.boundPort();
  REQUIRE(port != 0);
  UdpSender s;
  s.send(port, "<165>1 2026-12-06T10:11:12Z web01 app 42 ID7 [ex@32473 k=\"v\"] h\xC3\xA9llo\n");
  s.send(port, "<13>Dec  6 10:11:14 host3 cron[7]: bsd message");
  s.send(port, "not syslog at all");
  REQUIRE(f.received(3));
  const auto bodies = f.processor.snapshot();
  REQUIRE(bodies.size() == 3);
  CHECK(bodies[0] == "app 42 ID7 [ex@32473 k=\"v\"] h\xC3\xA9llo");
  CHECK(bodies[1] == "cron[7]: bsd message");
  CHECK(bodies[2] == "not syslog at all");
  const sdk::Headers h = f.processor.headersOf(0);
  CHECK(header(h, "Facility") == "20");
  CHECK(header(h, "Severity") == "5");
  CHECK(header(h, "host") == "web01");
  CHECK(header(h, "timestamp") == "1796551872000");
  CHECK(header(h, "clientIp") == "127.0.0.1");
  CHECK(header(h, "flume.syslog.status") == "<absent>");
  CHECK(header(f.processor.headersOf(1), "host") == "host3");
  CHECK(header(f.processor.headersOf(2), "flume.syslog.status") == "Invalid");
  CHECK(waitFor([&] { return f.counter("InvalidMessageCount") == 1; }));
  CHECK(waitFor([&] { return f.counter("EventAcceptedCount") == 3; }));
}

TEST_CASE("many datagrams: every one arrives once, in order") {
  Source f({{"host", "127.0.0.1"}, {"port", "0"}, {"receiveBufferBytes", "4194304"}});
  UdpSender s;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    s.send(f.source.boundPort(), "<13>1 - - - - - - m" + std::to_string(i));
    // Loopback drops nothing while the socket buffer has room; keep the burst below it.
    if (i % 200 == 199) REQUIRE(f.received(static_cast<std::size_t>(i) + 1));
  }
  REQUIRE(f.received(n));
  const auto bodies = f.processor.snapshot();
  REQUIRE(bodies.size() == static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    CHECK(bodies[static_cast<std::size_t>(i)] == "- - - - m" + std::to_string(i));
  CHECK(waitFor([&] { return f.counter("EventReceivedCount") == n; }));
}

TEST_CASE("a refusing channel drops the datagrams and counts them; later ones flow") {
  Source f({{"host", "127.0.0.1"}, {"port", "0"}});
  checkRefusedDatagramsDropped(f, 5, "<13>1 - - - - - - m", "- - - - m");
}

TEST_CASE("ipFilterRules deny a sender; its datagrams are counted, not delivered") {
  Source f({{"host", "127.0.0.1"},
            {"port", "0"},
            {"ipFilter", "true"},
            {"ipFilterRules", "deny:ip:127.0.0.*"}});
  UdpSender s;
  s.send(f.source.boundPort(), "<13>1 - - - - - - denied");
  REQUIRE(waitFor([&] { return f.counter("DatagramDeniedCount") == 1; }));
  CHECK(f.processor.count() == 0);
}

TEST_CASE("start and stop are safe to repeat, and a restarted source serves again") {
  Source f({{"host", "127.0.0.1"}, {"port", "0"}});
  checkUdpRestarts(
      f, [](int i) { return "<13>1 - - - - - - round " + std::to_string(i); },
      [](int i) { return "- - - - round " + std::to_string(i); });
}
