// Unit tests with real sockets on 127.0.0.1: the sink talks to a scriptable Avro RPC server
// (plugins/testing/avro_test_peer.hpp) that answers OK, FAILED, an error, nothing, or closes;
// the channel is the in-test transactional TestChannel; the last cases send to the real avro
// source (TLS with client certificates, a source that restarts). The interop test against
// Apache Avro's own encoder is tests/e2e/test_avro.py.
#include "avro_sink.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "avro_source.hpp"
#include "avro_test_peer.hpp"
#include "host_context.hpp"
#include "readme_schema_check.hpp"
#include "recording_processor.hpp"
#include "sink_test_support.hpp"
#include "sluice/sdk/host_access.hpp"
#include "source_test_support.hpp"

namespace sdk = sluice::sdk;
namespace rpc = sluice::plugins::avro;
using sluice::plugins::avro_sink::AvroSink;
using sluice::plugins::avro_sink::avroSinkSchema;
using sluice::plugins::testing::AvroTestServer;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::testing::counterOf;
using sluice::plugins::testing::RecordingProcessor;
using sluice::plugins::testing::TestCertificates;
using sluice::plugins::testing::TestChannel;
using sluice::plugins::testing::waitFor;
using namespace std::chrono_literals;

namespace {

using KV = std::initializer_list<std::pair<const char*, std::string>>;
using Mode = AvroTestServer::Mode;

sdk::Context contextOf(KV kv) {
  sdk::Context ctx("a1.sinks.k1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, avroSinkSchema(), ctx, "avro");
}

struct Fixture {
  CaptureLogger log;
  TestChannel channel;
  AvroSink sink;

  explicit Fixture(uint16_t port, KV extra = {}) {
    sdk::Context ctx = contextOf({{"hostname", "127.0.0.1"},
                                  {"port", std::to_string(port)},
                                  {"batch-size", "10"},
                                  {"connect-timeout", "1000"},
                                  {"request-timeout", "1000"}});
    for (const auto& [k, v] : extra) ctx.put(k, v);
    sdk::HostAccess::attach(sink, "k1", &log);
    sdk::HostAccess::setChannel(sink, &channel);
    sdk::Result r = configure(sink, ctx);
    REQUIRE_MESSAGE(r.ok(), r.error());
    r = sdk::HostAccess::start(sink);
    REQUIRE_MESSAGE(r.ok(), r.error());
  }
  ~Fixture() { (void)sdk::HostAccess::stop(sink); }
  int64_t counter(const char* name) { return counterOf(sink, name); }
  // process() until the channel is empty or the deadline passes; true when emptied.
  bool drain(std::chrono::milliseconds timeout = 15s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      (void)sdk::HostAccess::process(sink);
      if (channel.size() == 0) return true;
    }
    return false;
  }
};

std::vector<std::string> expectedBodies(int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i) v.push_back("event-" + std::to_string(i));
  return v;
}

// A port nothing listens on (bound, then closed).
uint16_t deadPort() {
  AvroTestServer s;
  const uint16_t p = s.port();
  s.stop();
  return p;
}

// The error of configuring as the host does (its schema check first, then configure()).
std::string errorOf(KV kv) {
  AvroSink sink;
  sdk::Result r = configure(sink, contextOf(kv));
  REQUIRE_FALSE(r.ok());
  return r.error();
}

// The error of configure() itself, handed a Context without the host's check.
std::string pluginErrorOf(KV kv) {
  AvroSink sink;
  sdk::Result r = sdk::HostAccess::configure(sink, contextOf(kv));
  REQUIRE_FALSE(r.ok());
  return r.error();
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(avroSinkSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config: every schema key is accepted") {
  AvroSink sink;
  sdk::Result r = configure(sink, contextOf({{"hostname", "collector.example.com"},
                                             {"port", "4141"},
                                             {"batch-size", "500"},
                                             {"connect-timeout", "5000"},
                                             {"request-timeout", "7000"},
                                             {"reset-connection-interval", "60"},
                                             {"compression-type", "deflate"},
                                             {"compression-level", "9"},
                                             {"ssl", "false"},
                                             {"trust-all-certs", "true"},
                                             {"truststore", "/etc/ts.jks"},
                                             {"truststore-password", "pw"},
                                             {"truststore-type", "JKS"},
                                             {"exclude-protocols", "SSLv3"},
                                             {"maxIoWorkers", "4"}}));
  REQUIRE_MESSAGE(r.ok(), r.error());
  const auto& s = sink.settings();
  CHECK(s.hostname == "collector.example.com");
  CHECK(s.port == 4141);
  CHECK(s.batchSize == 500);
  CHECK(s.connectTimeout == 5000ms);
  CHECK(s.requestTimeout == 7000ms);
  CHECK(s.resetConnectionInterval == 60s);
  CHECK(s.deflate);
  CHECK(s.compressionLevel == 9);
  // The host rejects keys the schema does not list (tests/e2e/test_avro.py checks the message).
  CHECK_FALSE(avroSinkSchema().allowUnknownKeys);
  AvroSink dflt;
  REQUIRE(configure(dflt, contextOf({{"hostname", "h"}, {"port", "1"}})).ok());
  CHECK(dflt.settings().batchSize == 100);
  CHECK(dflt.settings().connectTimeout == 20000ms);
  CHECK(dflt.settings().requestTimeout == 20000ms);
  CHECK_FALSE(dflt.settings().deflate);
}

TEST_CASE("configure errors name the key") {
  CHECK(pluginErrorOf({{"port", "1"}}) == "a1.sinks.k1.hostname: is required but missing");
  CHECK(pluginErrorOf({{"hostname", "h"}}) == "a1.sinks.k1.port: is required but missing");
  CHECK(errorOf({{"port", "1"}}).find("a1.sinks.k1: missing required key 'hostname'") == 0);
  CHECK(errorOf({{"hostname", "h"}}).find("a1.sinks.k1: missing required key 'port'") == 0);
  CHECK(errorOf({{"hostname", "h"}, {"port", "0"}}).find("a1.sinks.k1.port:") == 0);
  CHECK(errorOf({{"hostname", "h"}, {"port", "1"}, {"batch-size", "0"}})
            .find("a1.sinks.k1.batch-size:") == 0);
  CHECK(errorOf({{"hostname", "h"}, {"port", "1"}, {"request-timeout", "10"}})
            .find("a1.sinks.k1.request-timeout:") == 0);
  CHECK(errorOf({{"hostname", "h"}, {"port", "1"}, {"compression-type", "lz4"}})
            .find("a1.sinks.k1.compression-type:") == 0);
  CHECK(errorOf({{"hostname", "h"}, {"port", "1"}, {"compression-level", "10"}})
            .find("a1.sinks.k1.compression-level:") == 0);
  // ssl = true: the trust store must be readable; no trust store means the system's CAs.
  CHECK(errorOf({{"hostname", "h"},
                 {"port", "1"},
                 {"ssl", "true"},
                 {"truststore", "/nope.p12"},
                 {"truststore-type", "PKCS12"}})
            .find("a1.sinks.k1.truststore: cannot open '/nope.p12'") == 0);
  CHECK(errorOf({{"hostname", "h"},
                 {"port", "1"},
                 {"ssl", "true"},
                 {"truststore", "/x"},
                 {"truststore-type", "BKS"}})
            .find("a1.sinks.k1.truststore-type:") == 0);
  CHECK(errorOf({{"hostname", "h"},
                 {"port", "1"},
                 {"ssl", "true"},
                 {"exclude-protocols", "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"}})
            .find("a1.sinks.k1.exclude-protocols: no TLS protocol") == 0);
  AvroSink tlsSink;
  CHECK(configure(tlsSink, contextOf({{"hostname", "h"}, {"port", "1"}, {"ssl", "true"}})).ok());
  CHECK(configure(
            tlsSink,
            contextOf(
                {{"hostname", "h"}, {"port", "1"}, {"ssl", "true"}, {"trust-all-certs", "true"}}))
            .ok());
}

TEST_CASE("delivers batches of batch-size; commits after OK; counters as Flume's") {
  AvroTestServer server;
  server.knowSluiceHash = true;  // a Java peer with the same protocol text
  Fixture f(server.port());
  sdk::EventBatch b;
  for (int i = 0; i < 25; ++i)
    b.emplace_back(sdk::Headers{{"seq", std::to_string(i)}}, "event-" + std::to_string(i));
  b.emplace_back(std::string("\0bin\xff", 5));
  f.channel.put(std::move(b));
  CHECK(sdk::HostAccess::process(f.sink).error.empty());
  CHECK(f.channel.size() == 16);
  REQUIRE(f.drain());
  auto want = expectedBodies(0, 25);
  want.push_back(std::string("\0bin\xff", 5));
  CHECK(server.bodies() == want);
  CHECK(server.headers()[7].get("seq") == "7");
  CHECK(server.handshakes == 1);
  CHECK(server.noneAnswers == 0);
  CHECK(server.connections == 1);
  CHECK(f.counter("ConnectionCreatedCount") == 1);
  CHECK(f.counter("EventDrainAttemptCount") == 26);
  CHECK(f.counter("EventDrainSuccessCount") == 26);
  CHECK(f.counter("BatchCompleteCount") == 2);
  CHECK(f.counter("BatchUnderflowCount") == 1);
  // An empty channel: nothing sent.
  const int before = server.requests;
  sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
  CHECK(o.status == sdk::Status::BACKOFF);
  CHECK_FALSE(o.failed);
  CHECK(server.requests == before);
  CHECK(f.counter("BatchEmptyCount") >= 1);
}

TEST_CASE("handshake NONE: the sink sends its protocol text and the batch again, once") {
  AvroTestServer server;  // does not know sluice's hash
  Fixture f(server.port());
  f.channel.putBodies(0, 20);
  REQUIRE(f.drain());
  CHECK(server.bodies() == expectedBodies(0, 20));
  CHECK(server.noneAnswers == 1);
  CHECK(server.handshakes == 2);  // NONE, then the resend with the text
  CHECK(f.counter("HandshakeNoneCount") == 1);
  CHECK(f.counter("EventDrainSuccessCount") == 20);
}

TEST_CASE("FAILED from the server: rollback, the batch comes again; nothing lost or doubled") {
  AvroTestServer server;
  Fixture f(server.port());
  f.channel.putBodies(0, 10);
  server.mode = Mode::Failed;
  sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
  CHECK(o.failed);
  CHECK(o.error.find("answered FAILED") != std::string::npos);
  CHECK(f.channel.size() == 10);
  CHECK(f.counter("BatchRefusedCount") == 1);
  CHECK(f.counter("EventDrainSuccessCount") == 0);
  CHECK(f.sink.connected());  // the hop is up: the connection stays
  server.mode = Mode::Ok;
  REQUIRE(f.drain());
  CHECK(server.bodies() == expectedBodies(0, 10));
}

TEST_CASE("an error response, no answer, or a dropped connection: rollback and redelivery") {
  AvroTestServer server;
  Fixture f(server.port());
  f.channel.putBodies(0, 10);
  for (Mode m : {Mode::Error, Mode::NoAnswer, Mode::Close}) {
    server.mode = m;
    sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
    CHECK(o.failed);
    CHECK(f.channel.size() == 10);
    CHECK_FALSE(f.sink.connected());
  }
  CHECK(f.counter("EventWriteFail") == 3);
  server.mode = Mode::Ok;
  REQUIRE(f.drain());
  CHECK(server.bodies() == expectedBodies(0, 10));
  CHECK(f.counter("ConnectionCreatedCount") == 4);
  CHECK(f.counter("ConnectionClosedCount") == 3);
}

TEST_CASE("the server is down: nothing is taken; delivery resumes when it is back") {
  const uint16_t port = deadPort();
  Fixture f(port);
  f.channel.putBodies(0, 15);
  for (int i = 0; i < 3; ++i) {
    sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
    CHECK(o.failed);
    CHECK(o.error.find("cannot connect to 127.0.0.1:" + std::to_string(port)) == 0);
  }
  CHECK(f.channel.size() == 15);
  CHECK(f.counter("ConnectionFailedCount") == 3);
  AvroTestServer server(false, port);
  REQUIRE(f.drain());
  CHECK(server.bodies() == expectedBodies(0, 15));
}

TEST_CASE(
    "the server restarts between batches: the sink notices and reconnects without losing "
    "a batch") {
  const uint16_t port = deadPort();
  Fixture f(port);
  auto server = std::make_unique<AvroTestServer>(false, port);
  f.channel.putBodies(0, 10);
  REQUIRE(f.drain());
  server.reset();  // closes its side of the connection
  server = std::make_unique<AvroTestServer>(false, port);
  f.channel.putBodies(10, 20);
  sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
  CHECK_FALSE(o.failed);  // the dead connection was found before the batch was taken
  CHECK(f.channel.size() == 0);
  CHECK(server->bodies() == expectedBodies(10, 20));
}

TEST_CASE("a failed commit after OK: the events are sent again (at least once)") {
  AvroTestServer server;
  Fixture f(server.port());
  f.channel.putBodies(0, 5);
  f.channel.failCommit = true;
  sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
  CHECK(o.failed);
  CHECK(f.counter("ChannelReadFail") == 1);
  f.channel.failCommit = false;
  REQUIRE(f.drain());
  auto want = expectedBodies(0, 5);
  auto twice = want;
  twice.insert(twice.end(), want.begin(), want.end());
  CHECK(server.bodies() == twice);
}

TEST_CASE("compression-type deflate talks to a deflate server") {
  AvroTestServer server(true);
  Fixture f(server.port(), {{"compression-type", "deflate"}, {"compression-level", "1"}});
  f.channel.putBodies(0, 100);
  REQUIRE(f.drain());
  CHECK(server.bodies() == expectedBodies(0, 100));
}

TEST_CASE("reset-connection-interval makes a new connection") {
  AvroTestServer server;
  Fixture f(server.port(), {{"reset-connection-interval", "1"}});
  f.channel.putBodies(0, 10);
  REQUIRE(f.drain());
  CHECK(waitFor(
      [&] {
        f.channel.putBodies(0, 1);
        (void)sdk::HostAccess::process(f.sink);
        return server.connections >= 2;
      },
      10s));
  CHECK(f.counter("ConnectionClosedCount") >= 1);
}

TEST_CASE("start and stop are repeatable") {
  AvroTestServer server;
  Fixture f(server.port());
  for (int i = 0; i < 3; ++i) {
    f.channel.putBodies(i * 10, i * 10 + 10);
    REQUIRE(f.drain());
    REQUIRE(sdk::HostAccess::stop(f.sink).ok());
    REQUIRE(sdk::HostAccess::stop(f.sink).ok());
    CHECK_FALSE(f.sink.connected());
    REQUIRE(sdk::HostAccess::start(f.sink).ok());
  }
  CHECK(server.bodies() == expectedBodies(0, 30));
}

// ---- Against the real avro source ----

namespace {

// A running avro source of this test on a fixed port, restartable.
struct Collector {
  CaptureLogger log;
  RecordingProcessor processor;
  sluice::plugins::avro_source::AvroSource source;

  Collector(uint16_t port, KV extra = {}) {
    sdk::Context ctx("a1.sources.r1");
    ctx.put("bind", "127.0.0.1");
    ctx.put("port", std::to_string(port));
    for (const auto& [k, v] : extra) ctx.put(k, v);
    sdk::HostAccess::attach(source, "r1", &log);
    sdk::HostAccess::setChannelProcessor(source, &processor);
    sdk::Result r = sluice::plugins::testing::configureAsHost(
        source, sluice::plugins::avro_source::avroSourceSchema(), ctx, "avro");
    REQUIRE_MESSAGE(r.ok(), r.error());
    start();
  }
  ~Collector() { source.stop(); }
  void start() {
    sdk::Result r = sdk::HostAccess::start(source);
    REQUIRE_MESSAGE(r.ok(), r.error());
  }
};

}  // namespace

TEST_CASE("TLS with deflate to the avro source, which requires a client certificate") {
  TestCertificates certs;  // self-signed: the source's certificate, and the CA of its clients
  const uint16_t port = deadPort();
  Collector collector(port, {{"ssl", "true"},
                             {"keystore", certs.p12},
                             {"keystore-type", "PKCS12"},
                             {"keystore-password", certs.password},
                             {"ssl.ca", certs.certPem},
                             {"ssl.client-auth", "required"},
                             {"compression-type", "deflate"}});
  const std::string trust = certs.certPem;
  {
    Fixture f(port, {{"ssl", "true"},
                     {"truststore", trust},
                     {"truststore-type", "PEM"},
                     {"ssl.certificate", certs.certPem},
                     {"ssl.key", certs.keyPem},
                     {"compression-type", "deflate"}});
    f.channel.putBodies(0, 35);
    REQUIRE(f.drain());
    CHECK(collector.processor.snapshot() == expectedBodies(0, 35));
    CHECK(f.counter("ConnectionCreatedCount") == 1);
  }
  {
    // No client certificate: the source refuses the connection; nothing is lost, nothing sent.
    Fixture f(port, {{"ssl", "true"},
                     {"truststore", trust},
                     {"truststore-type", "PEM"},
                     {"compression-type", "deflate"}});
    f.channel.putBodies(35, 40);
    for (int i = 0; i < 3; ++i) CHECK(sdk::HostAccess::process(f.sink).failed);
    CHECK(f.channel.size() == 5);
    CHECK(f.counter("EventDrainSuccessCount") == 0);
  }
  CHECK(collector.processor.count() == 35);
}

TEST_CASE("the avro source restarts: the sink reconnects and nothing is lost or doubled") {
  const uint16_t port = deadPort();
  Collector collector(port);
  Fixture f(port);
  f.channel.putBodies(0, 30);
  REQUIRE(f.drain());
  collector.source.stop();  // closes the sink's connection
  f.channel.putBodies(30, 50);
  // The source is down: every attempt fails before anything is taken.
  for (int i = 0; i < 2; ++i) {
    sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
    CHECK(o.failed);
    CHECK(o.error.find("cannot connect to 127.0.0.1:" + std::to_string(port)) == 0);
  }
  CHECK(f.channel.size() == 20);
  collector.start();
  REQUIRE(f.drain());
  CHECK(collector.processor.snapshot() == expectedBodies(0, 50));
  CHECK(f.counter("EventDrainSuccessCount") == 50);
  CHECK(f.counter("ConnectionCreatedCount") == 2);
}
