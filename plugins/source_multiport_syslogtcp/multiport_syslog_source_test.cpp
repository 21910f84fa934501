// Unit tests of the multiport_syslogtcp source with real sockets on 127.0.0.1: several ports on
// one source, portHeader, per-port charsets, Flume's headers, back-pressure and the lifecycle.
// Parsing itself is tested in plugins/common/syslog; this checks the wiring.
#include "multiport_syslog_source.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "readme_schema_check.hpp"
#include "syslog/source_test_support.hpp"

namespace sdk = sluice::sdk;
using sluice::plugins::multiport_syslog::MultiportSyslogSource;
using sluice::plugins::multiport_syslog::multiportSyslogSourceSchema;
using sluice::plugins::net::testing::OpenSslClient;
using sluice::plugins::net::testing::RawClient;
using sluice::plugins::net::testing::TestPki;
using sluice::plugins::syslog::testing::configureError;
using sluice::plugins::syslog::testing::header;
using sluice::plugins::syslog::testing::KV;
using sluice::plugins::syslog::testing::Started;
using sluice::plugins::syslog::testing::waitFor;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using namespace std::chrono_literals;

namespace {

using Source = Started<MultiportSyslogSource, multiportSyslogSourceSchema>;

std::string err(KV kv) {
  return configureError<MultiportSyslogSource, multiportSyslogSourceSchema>(kv);
}

// The index of the first event whose body is `body`, or -1.
int indexOf(const std::vector<std::string>& bodies, const std::string& body) {
  const auto it = std::find(bodies.begin(), bodies.end(), body);
  return it == bodies.end() ? -1 : static_cast<int>(it - bodies.begin());
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(multiportSyslogSourceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config: ports, portHeader, charsets and Flume's defaults") {
  MultiportSyslogSource src;
  const sdk::Result r =
      sluice::plugins::syslog::testing::configureAsHost<multiportSyslogSourceSchema>(
          src, {{"host", "127.0.0.1"},
                {"ports", "5140 5141"},
                {"portHeader", "port"},
                {"charset.default", "UTF-8"},
                {"charset.port.5141", "ISO-8859-1"},
                {"batchSize", "50"},
                {"numProcessors", "2"},
                {"readBufferBytes", "2048"},
                {"keepFields", "true"}});
  REQUIRE_MESSAGE(r.ok(), r.error());
  const auto& s = src.settings();
  CHECK(s.ports == std::vector<int>{5140, 5141});
  CHECK(s.protocol.names.port == "port");
  CHECK(s.charsets.charsetFor(5141) == "ISO-8859-1");
  CHECK(s.charsets.charsetFor(5140) == "UTF-8");
  CHECK(s.protocol.batchSize == 50);
  CHECK(s.threads == 2);
  CHECK(s.keep.all);  // Flume's deprecated "true" keeps every field
  MultiportSyslogSource d;
  REQUIRE(sluice::plugins::syslog::testing::configureAsHost<multiportSyslogSourceSchema>(
              d, {{"ports", "1"}})
              .ok());
  CHECK(d.settings().host == "0.0.0.0");
  CHECK(d.settings().protocol.batchSize == 100);  // Flume's DEFAULT_BATCHSIZE
  CHECK(d.settings().protocol.framing.eventSize == 2500);
  CHECK(d.settings().charsets.defaultCharset == "UTF-8");
}

TEST_CASE("configure errors name the key") {
  const std::string missing = err({{"host", "127.0.0.1"}});
  CHECK(missing.find("a1.sources.r1") == 0);
  CHECK(missing.find("'ports'") != std::string::npos);
  CHECK(err({{"ports", "5140 x"}}).find("a1.sources.r1.ports:") == 0);
  CHECK(err({{"ports", "70000"}}).find("a1.sources.r1.ports:") == 0);
  CHECK(err({{"ports", "5140 5140"}}).find("a1.sources.r1.ports: port 5140 is listed twice") == 0);
  CHECK(err({{"ports", "5140"}, {"charset.port.abc", "UTF-8"}})
            .find("a1.sources.r1.charset.port.abc:") == 0);
  CHECK(err({{"ports", "5140"}, {"charset.port.5140", "NO-SUCH-CHARSET"}})
            .find("a1.sources.r1.charset.port.5140") == 0);
  CHECK(err({{"ports", "5140"}, {"format.regex", "x"}}).find("a1.sources.r1.format.regex:") == 0);
}

TEST_CASE("messages on every port arrive once with Flume's headers and the port header") {
  Source f({{"host", "127.0.0.1"},
            {"ports", "0 0 0"},
            {"portHeader", "port"},
            {"clientIPHeader", "ip"}});
  const std::vector<uint16_t> ports = f.source.boundPorts();
  REQUIRE(ports.size() == 3);
  std::vector<std::unique_ptr<RawClient>> clients;
  clients.reserve(ports.size());
  for (uint16_t p : ports) clients.push_back(std::make_unique<RawClient>(p));
  for (std::size_t i = 0; i < ports.size(); ++i) {
    std::string all;
    for (int m = 0; m < 50; ++m)
      all += "<165>1 2026-12-06T10:11:12Z web" + std::to_string(i) + " app - - - p" +
             std::to_string(i) + " m" + std::to_string(m) + "\n";
    // An octet-counted frame, as rsyslog and syslog-ng send in their RFC 5424 modes.
    const std::string framed = "<13>Dec  6 10:11:14 bsd" + std::to_string(i) + " tag: framed";
    all += std::to_string(framed.size()) + " " + framed;
    REQUIRE(clients[i]->send(all));
  }
  // 50 newline-framed messages and 1 octet-counted one per port.
  constexpr std::size_t kTotal = std::size_t{3} * 51;
  REQUIRE(f.received(kTotal));
  const auto bodies = f.processor.snapshot();
  CHECK(bodies.size() == kTotal);
  for (std::size_t i = 0; i < ports.size(); ++i) {
    for (int m = 0; m < 50; ++m) {
      const int at = indexOf(bodies, "app - - - p" + std::to_string(i) + " m" + std::to_string(m));
      REQUIRE(at >= 0);
      const sdk::Headers h = f.processor.headersOf(static_cast<std::size_t>(at));
      CHECK(header(h, "port") == std::to_string(ports[i]));
      CHECK(header(h, "host") == "web" + std::to_string(i));
      CHECK(header(h, "Facility") == "20");
      CHECK(header(h, "Severity") == "5");
      CHECK(header(h, "ip") == "127.0.0.1");
    }
    const int at = indexOf(bodies, "tag: framed");
    REQUIRE(at >= 0);
  }
  CHECK(waitFor([&] { return f.counter("EventAcceptedCount") == static_cast<int64_t>(kTotal); }));
  CHECK(f.counter("OpenConnectionCount") == 3);
}

TEST_CASE("charset.port.<port>: bytes the port's charset cannot decode are Invalid, as in Flume") {
  // Port order follows `ports`; both are 0, so the charset applies to the port the system picks:
  // configure with the real port numbers of a first run.
  std::vector<uint16_t> ports;
  {
    Source probe({{"host", "127.0.0.1"}, {"ports", "0 0"}});
    ports = probe.source.boundPorts();
  }
  REQUIRE(ports.size() == 2);
  const std::string latin = std::to_string(ports[1]);
  const std::string charsetKey = "charset.port." + latin;
  Source f({{"host", "127.0.0.1"},
            {"ports", std::to_string(ports[0]) + " " + latin},
            {"portHeader", "port"},
            {charsetKey.c_str(), "ISO-8859-1"}});
  const std::string msg = "<13>1 2026-12-06T10:11:12Z h\xE9te app - - - caf\xE9\n";
  RawClient utf8(ports[0]), iso(ports[1]);
  REQUIRE(utf8.send(msg));
  REQUIRE(f.received(1));
  REQUIRE(iso.send(msg));
  REQUIRE(f.received(2));
  const auto headersOnPort = [&](uint16_t p) {
    for (std::size_t i = 0; i < 2; ++i) {
      sdk::Headers h = f.processor.headersOf(i);
      if (header(h, "port") == std::to_string(p)) return h;
    }
    FAIL("no event from port " << p);
    return sdk::Headers{};
  };
  CHECK(header(headersOnPort(ports[0]), "flume.syslog.status") == "Invalid");
  CHECK(header(headersOnPort(ports[1]), "flume.syslog.status") == "<absent>");
  CHECK(f.counter("InvalidMessageCount") == 1);
}

TEST_CASE("a full channel holds the connection; nothing is lost or duplicated") {
  Source f({{"host", "127.0.0.1"}, {"ports", "0"}, {"batchSize", "9"}});
  f.processor.refuse = true;
  RawClient c(f.source.boundPorts().at(0));
  std::string all;
  for (int i = 0; i < 300; ++i) all += "<13>1 - - - - - - message " + std::to_string(i) + "\n";
  REQUIRE(c.send(all));
  REQUIRE(waitFor([&] { return f.processor.refusedCalls.load() >= 2; }));
  CHECK(f.processor.count() == 0);
  CHECK(f.counter("ChannelWriteFail") >= 2);
  f.processor.refuse = false;
  REQUIRE(f.received(300));
  std::vector<std::string> want;
  want.reserve(300);
  for (int i = 0; i < 300; ++i) want.push_back("- - - - message " + std::to_string(i));
  CHECK(f.processor.snapshot() == want);
  CHECK(waitFor([&] { return f.counter("EventReceivedCount") == 300; }));
}

TEST_CASE("start and stop are safe to repeat; a port in use fails start naming the address") {
  Source f({{"host", "127.0.0.1"}, {"ports", "0 0"}});
  for (int round = 0; round < 2; ++round) {
    const auto ports = f.source.boundPorts();
    REQUIRE(ports.size() == 2);
    CHECK(sdk::HostAccess::start(f.source).ok());
    CHECK(f.source.boundPorts() == ports);
    RawClient c(ports[1]);
    REQUIRE(c.send("<13>1 - - - - - - round " + std::to_string(round) + "\n"));
    REQUIRE(f.received(static_cast<std::size_t>(round) + 1));
    CHECK(sdk::HostAccess::stop(f.source).ok());
    CHECK(sdk::HostAccess::stop(f.source).ok());
    CHECK(f.source.boundPorts().empty());
    REQUIRE(sdk::HostAccess::start(f.source).ok());
  }
  const uint16_t taken = f.source.boundPorts().at(0);
  MultiportSyslogSource other;
  // The host gives every source its channel processor before start(), even one that fails.
  sluice::plugins::testing::RecordingProcessor otherProcessor;
  sdk::HostAccess::setChannelProcessor(other, &otherProcessor);
  REQUIRE(sluice::plugins::syslog::testing::configureAsHost<multiportSyslogSourceSchema>(
              other, {{"host", "127.0.0.1"}, {"ports", "0 " + std::to_string(taken)}})
              .ok());
  const sdk::Result r = sdk::HostAccess::start(other);
  CHECK_FALSE(r.ok());
  CHECK(r.error().find(std::to_string(taken)) != std::string::npos);
  CHECK(other.boundPorts().empty());
}

TEST_CASE("TLS with Flume's keystore keys on every port") {
  TestPki pki;
  Source f({{"host", "127.0.0.1"},
            {"ports", "0 0"},
            {"portHeader", "port"},
            {"ssl", "true"},
            {"keystore", pki.serverP12},
            {"keystore-type", "PKCS12"},
            {"keystore-password", pki.password}});
  const auto ports = f.source.boundPorts();
  REQUIRE(ports.size() == 2);
  for (std::size_t i = 0; i < ports.size(); ++i) {
    OpenSslClient c(ports[i], pki.caPem);
    REQUIRE_MESSAGE(c.handshakeOk(), c.error());
    REQUIRE(c.write("<13>1 - - - - - - over tls " + std::to_string(i) + "\n"));
    REQUIRE(f.received(i + 1));
  }
  for (std::size_t i = 0; i < ports.size(); ++i) {
    CHECK(f.processor.snapshot()[i] == "- - - - over tls " + std::to_string(i));
    CHECK(header(f.processor.headersOf(i), "port") == std::to_string(ports[i]));
  }
  // A plain-text client does not get through.
  RawClient plain(ports[1]);
  plain.send("<13>1 - - - - - - plain\n");
  CHECK(plain.waitClosed(15s));
  CHECK(waitFor([&] { return f.counter("TlsHandshakeFailCount") >= 1; }));
  CHECK(f.processor.count() == 2);
}
