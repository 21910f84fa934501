// Unit tests of the syslogtcp source with real sockets on 127.0.0.1: what arrives in the
// channels (bodies, Flume's headers), framing, limits, back-pressure, TLS, the IP filter and the
// lifecycle. Parsing itself is tested in plugins/common/syslog; this checks the wiring.
#include "syslog_tcp_source.hpp"

#include <doctest/doctest.h>

#include <stdlib.h>
#include <time.h>

#include <string>
#include <vector>

#include "readme_schema_check.hpp"
#include "syslog/source_test_support.hpp"

namespace sdk = sluice::sdk;
using sluice::plugins::net::testing::OpenSslClient;
using sluice::plugins::net::testing::RawClient;
using sluice::plugins::net::testing::TestPki;
using sluice::plugins::syslog::testing::configureError;
using sluice::plugins::syslog::testing::header;
using sluice::plugins::syslog::testing::Started;
using sluice::plugins::syslog::testing::waitFor;
using sluice::plugins::syslogtcp::SyslogTcpSource;
using sluice::plugins::syslogtcp::syslogTcpSourceSchema;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using namespace std::chrono_literals;

namespace {

using Source = Started<SyslogTcpSource, syslogTcpSourceSchema>;

sdk::Result configure(SyslogTcpSource& src, sluice::plugins::syslog::testing::KV kv) {
  return sluice::plugins::syslog::testing::configureAsHost<syslogTcpSourceSchema>(src, kv);
}

int64_t utcMillis(int y, int mo, int d, int h, int mi, int s) {
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(::timegm(&tm)) * 1000;
}

const std::string k5424 =
    "<165>1 2026-12-06T10:11:12Z web01 app 42 ID7 [ex@32473 k=\"v\"] héllo wörld";

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(syslogTcpSourceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config: every key is read") {
  SyslogTcpSource src;
  const sdk::Result r = configure(src, {{"host", "127.0.0.1"},
                                        {"port", "5140"},
                                        {"eventSize", "4096"},
                                        {"keepFields", "timestamp hostname"},
                                        {"clientIPHeader", "ip"},
                                        {"clientHostnameHeader", "client"},
                                        {"batchSize", "500"},
                                        {"framing", "newline"},
                                        {"max-connections", "10"},
                                        {"idleTimeout", "30"},
                                        {"messageTimeout", "5"},
                                        {"ipFilter", "true"},
                                        {"ipFilterRules", "allow:ip:127.*"}});
  REQUIRE_MESSAGE(r.ok(), r.error());
  const auto& s = src.settings();
  CHECK(s.host == "127.0.0.1");
  CHECK(s.port == 5140);
  CHECK(s.protocol.framing.eventSize == 4096);
  CHECK(s.protocol.framing.framing == sluice::plugins::syslog::Framing::NewlineOnly);
  CHECK(s.keep.timestamp);
  CHECK(s.keep.hostname);
  CHECK_FALSE(s.keep.priority);
  CHECK(s.protocol.names.clientIp == "ip");
  CHECK(s.protocol.names.clientHostname == "client");
  CHECK(s.protocol.batchSize == 500);
  CHECK(s.listener.maxConnections == 10);
  CHECK(s.listener.idleTimeout == 30s);
  CHECK(s.listener.requestTimeout == 5s);
  CHECK(s.listener.ipFilter != nullptr);
  CHECK(s.listener.tls == nullptr);
  // Flume's defaults: every interface, eventSize 2500, keepFields none.
  SyslogTcpSource d;
  REQUIRE(configure(d, {{"port", "1"}}).ok());
  CHECK(d.settings().host == "0.0.0.0");
  CHECK(d.settings().protocol.framing.eventSize == 2500);
  CHECK_FALSE(d.settings().keep.any());
  CHECK(d.settings().listener.requestTimeout == 60s);
}

TEST_CASE("configure errors name the key") {
  auto err = [](sluice::plugins::syslog::testing::KV kv) {
    return configureError<SyslogTcpSource, syslogTcpSourceSchema>(kv);
  };
  // The host's schema check reports a missing required key by name.
  const std::string missing = err({{"host", "127.0.0.1"}});
  CHECK(missing.find("a1.sources.r1") == 0);
  CHECK(missing.find("missing required key 'port'") != std::string::npos);
  CHECK(err({{"port", "65536"}}).find("a1.sources.r1.port:") == 0);
  CHECK(err({{"port", "syslog"}}).find("a1.sources.r1.port:") == 0);
  CHECK(err({{"port", "1"}, {"eventSize", "0"}}).find("a1.sources.r1.eventSize:") == 0);
  const std::string fmt = err({{"port", "1"}, {"format.regex", "(.*)"}});
  CHECK(fmt.find("a1.sources.r1.format.regex:") == 0);
  CHECK(fmt.find("not supported") != std::string::npos);
  CHECK(err({{"port", "1"}, {"ssl", "true"}}).find("a1.sources.r1.") == 0);
  CHECK(err({{"port", "1"}, {"ipFilter", "true"}}).find("a1.sources.r1.ipFilterRules:") == 0);
  CHECK(
      err({{"port", "1"}, {"ipFilterRules", "maybe:ip:*"}}).find("a1.sources.r1.ipFilterRules:") ==
      0);
  CHECK(err({{"port", "1"}, {"keystore", "/nonexistent"}, {"ssl", "true"}})
            .find("a1.sources.r1.keystore") == 0);
}

TEST_CASE("start and stop are safe to repeat, and a restarted source serves again") {
  Source f({{"host", "127.0.0.1"}, {"port", "0"}});
  for (int round = 0; round < 3; ++round) {
    const uint16_t port = f.source.boundPort();
    REQUIRE(port != 0);
    CHECK(sdk::HostAccess::start(f.source).ok());  // a second start does nothing
    CHECK(f.source.boundPort() == port);
    RawClient c(port);
    REQUIRE(c.connected());
    REQUIRE(c.send("<13>1 - - - - - - round " + std::to_string(round) + "\n"));
    REQUIRE(f.received(static_cast<std::size_t>(round) + 1));
    CHECK(sdk::HostAccess::stop(f.source).ok());
    CHECK(sdk::HostAccess::stop(f.source).ok());
    CHECK(f.source.boundPort() == 0);
    REQUIRE(sdk::HostAccess::start(f.source).ok());
  }
  CHECK(f.processor.snapshot() ==
        std::vector<std::string>{"- - - - round 0", "- - - - round 1", "- - - - round 2"});
  CHECK(f.log.has("listening on 127.0.0.1:"));
}

TEST_CASE("RFC 5424 and RFC 3164, newline and octet-counted, arrive with Flume's headers") {
  Source f({{"host", "127.0.0.1"},
            {"port", "0"},
            {"clientIPHeader", "clientIp"},
            {"clientHostnameHeader", "clientHost"}});
  RawClient c(f.source.boundPort());
  REQUIRE(c.connected());
  const std::string framed = "<34>1 2026-12-06T10:11:13.5Z host2 su - ID47 - line one\nline two";
  REQUIRE(c.send(k5424 + "\n" + std::to_string(framed.size()) + " " + framed +
                 "<13>Dec  6 10:11:14 host3 cron[7]: bsd message\n"));
  REQUIRE(f.received(3));
  const auto bodies = f.processor.snapshot();
  CHECK(bodies[0] == "app 42 ID7 [ex@32473 k=\"v\"] héllo wörld");
  CHECK(bodies[1] == "su - ID47 - line one\nline two");  // one frame: its newline is data
  CHECK(bodies[2] == "cron[7]: bsd message");
  const sdk::Headers h = f.processor.headersOf(0);
  CHECK(header(h, "Facility") == "20");
  CHECK(header(h, "Severity") == "5");
  CHECK(header(h, "priority") == "165");
  CHECK(header(h, "version") == "1");
  CHECK(header(h, "host") == "web01");
  CHECK(header(h, "timestamp") == std::to_string(utcMillis(2026, 12, 6, 10, 11, 12)));
  CHECK(header(h, "clientIp") == "127.0.0.1");
  CHECK(header(h, "clientHost") == "localhost");
  CHECK(header(h, "flume.syslog.status") == "<absent>");
  CHECK(header(f.processor.headersOf(2), "host") == "host3");
  CHECK(header(f.processor.headersOf(2), "priority") == "13");
  // The counters move after the channel took the batch: wait for them, then compare.
  CHECK(waitFor([&] { return f.counter("EventAcceptedCount") == 3; }));
  CHECK(f.counter("EventReceivedCount") == 3);
  CHECK(f.counter("OpenConnectionCount") == 1);
}

TEST_CASE("keepFields all keeps the message as sent") {
  Source f({{"host", "127.0.0.1"}, {"port", "0"}, {"keepFields", "all"}});
  RawClient c(f.source.boundPort());
  REQUIRE(c.send(k5424 + "\n"));
  REQUIRE(f.received(1));
  CHECK(f.processor.snapshot()[0] == k5424);
}

TEST_CASE("garbage and over-long messages are delivered with flume.syslog.status, as Flume does") {
  Source f({{"host", "127.0.0.1"}, {"port", "0"}, {"eventSize", "100"}});
  RawClient c(f.source.boundPort());
  const std::string longBody(250, 'x');
  REQUIRE(c.send("no priority here\n<13>1 - - - - - - " + longBody + "\n<13>1 - - - - - - ok\n"));
  REQUIRE(waitFor([&] {
    const auto b = f.processor.snapshot();
    return !b.empty() && b.back() == "- - - - ok";
  }));
  const auto bodies = f.processor.snapshot();
  REQUIRE(bodies.size() >= 3);
  CHECK(header(f.processor.headersOf(0), "flume.syslog.status") == "Invalid");
  CHECK(bodies[0] == "no priority here");
  CHECK(header(f.processor.headersOf(1), "flume.syslog.status") == "Incomplete");
  CHECK(bodies[1].size() <= 100);
  CHECK(f.counter("InvalidMessageCount") >= 2);  // the garbage line and the cut-off rest
  CHECK(f.counter("IncompleteMessageCount") == 1);
  CHECK(f.counter("OpenConnectionCount") == 1);  // the connection stays, as in Flume
}

TEST_CASE("a full channel holds the connection; nothing is lost or duplicated") {
  Source f({{"host", "127.0.0.1"}, {"port", "0"}, {"batchSize", "7"}});
  f.processor.refuse = true;
  RawClient c(f.source.boundPort());
  std::string all;
  for (int i = 0; i < 500; ++i) all += "<13>1 - - - - - - message " + std::to_string(i) + "\n";
  REQUIRE(c.send(all));
  REQUIRE(waitFor([&] { return f.processor.refusedCalls.load() >= 3; }));
  CHECK(f.processor.count() == 0);
  CHECK(f.counter("ChannelWriteFail") >= 3);
  f.processor.refuse = false;
  REQUIRE(f.received(500));
  std::vector<std::string> want;
  want.reserve(500);
  for (int i = 0; i < 500; ++i) want.push_back("- - - - message " + std::to_string(i));
  CHECK(f.processor.snapshot() == want);
  CHECK(waitFor([&] { return f.counter("EventAcceptedCount") == 500; }));
  CHECK(f.counter("EventReceivedCount") == 500);  // a retried batch is counted once
}

TEST_CASE("a bad octet count closes only its connection; others keep flowing") {
  Source f({{"host", "127.0.0.1"}, {"port", "0"}});
  RawClient good(f.source.boundPort());
  RawClient bad(f.source.boundPort());
  REQUIRE(good.send("<13>1 - - - - - - before\n"));
  REQUIRE(f.received(1));
  REQUIRE(bad.send("<13>1 - - - - - - delivered first\n9999999999 <13>1 - - - - - - never\n"));
  CHECK(bad.waitClosed(10s));
  CHECK(f.counter("FramingErrorCount") == 1);
  CHECK(f.counter("EventReadFail") == 1);
  REQUIRE(good.send("<13>1 - - - - - - after\n"));
  REQUIRE(f.received(3));
  CHECK(f.processor.snapshot() ==
        std::vector<std::string>{"- - - - before", "- - - - delivered first", "- - - - after"});
}

TEST_CASE("a connection closed inside a message drops it and counts it") {
  Source f({{"host", "127.0.0.1"}, {"port", "0"}});
  {
    RawClient c(f.source.boundPort());
    REQUIRE(c.send("<13>1 - - - - - - whole\n30 <13>1 - - - - - - trunc"));
    REQUIRE(f.received(1));
  }
  CHECK(waitFor([&] { return f.counter("PartialMessageDroppedCount") == 1; }));
  CHECK(f.processor.count() == 1);
}

TEST_CASE("a stalled sender is closed after messageTimeout; an idle one after idleTimeout") {
  Source f({{"host", "127.0.0.1"}, {"port", "0"}, {"messageTimeout", "1"}, {"idleTimeout", "2"}});
  RawClient stalled(f.source.boundPort());
  RawClient idle(f.source.boundPort());
  REQUIRE(stalled.send("<13>1 - - - - - - half a mess"));
  CHECK(stalled.waitClosed(10s));
  CHECK(f.counter("ConnectionTimedOutCount") == 1);
  CHECK(idle.waitClosed(10s));
  CHECK(f.counter("ConnectionIdleClosedCount") == 1);
  CHECK(f.processor.count() == 0);
}

TEST_CASE("max-connections refuses extra clients, counted") {
  Source f({{"host", "127.0.0.1"}, {"port", "0"}, {"max-connections", "2"}});
  RawClient a(f.source.boundPort()), b(f.source.boundPort());
  REQUIRE(a.send("<13>1 - - - - - - a\n"));
  REQUIRE(b.send("<13>1 - - - - - - b\n"));
  REQUIRE(f.received(2));
  RawClient c(f.source.boundPort());
  CHECK(c.waitClosed(10s));
  CHECK(waitFor([&] { return f.counter("ConnectionRejectedCount") == 1; }));
}

TEST_CASE("ipFilterRules deny a sender; it is closed and counted") {
  Source f({{"host", "127.0.0.1"},
            {"port", "0"},
            {"ipFilter", "true"},
            {"ipFilterRules", "deny:ip:127.0.0.*,allow:ip:*"}});
  RawClient c(f.source.boundPort());
  c.send("<13>1 - - - - - - denied\n");
  CHECK(c.waitClosed(10s));
  CHECK(waitFor([&] { return f.counter("ConnectionDeniedCount") == 1; }));
  CHECK(f.processor.count() == 0);
}

TEST_CASE("TLS with Flume's keystore keys") {
  TestPki pki;
  Source f({{"host", "127.0.0.1"},
            {"port", "0"},
            {"ssl", "true"},
            {"keystore", pki.serverP12},
            {"keystore-type", "PKCS12"},
            {"keystore-password", pki.password}});
  OpenSslClient c(f.source.boundPort(), pki.caPem);
  REQUIRE_MESSAGE(c.handshakeOk(), c.error());
  REQUIRE(c.write("<13>1 - - - - - - over tls\n"));
  REQUIRE(f.received(1));
  CHECK(f.processor.snapshot()[0] == "- - - - over tls");
  // A plain-text client does not get through.
  RawClient plain(f.source.boundPort());
  plain.send("<13>1 - - - - - - plain\n");
  CHECK(plain.waitClosed(15s));
  CHECK(waitFor([&] { return f.counter("TlsHandshakeFailCount") >= 1; }));
  CHECK(f.processor.count() == 1);
}

TEST_CASE("stopping while held drops the refused messages and counts them") {
  auto f = std::make_unique<Source>(sluice::plugins::syslog::testing::KV{
      {"host", "127.0.0.1"}, {"port", "0"}, {"batchSize", "1000"}});
  f->processor.refuse = true;
  RawClient c(f->source.boundPort());
  std::string all;
  for (int i = 0; i < 10; ++i) all += "<13>1 - - - - - - held " + std::to_string(i) + "\n";
  REQUIRE(c.send(all));
  REQUIRE(waitFor([&] { return f->processor.refusedCalls.load() >= 1; }));
  REQUIRE(sdk::HostAccess::stop(f->source).ok());
  CHECK(f->counter("PendingMessageDroppedCount") == 10);
  CHECK(f->processor.count() == 0);
}
