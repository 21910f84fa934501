// Unit tests with real sockets on 127.0.0.1: a test client built on avro_rpc.hpp drives the
// source, and a recording ChannelProcessor plays the channels (and refuses like a full one).
// The interop test against Apache Avro's own encoder is tests/e2e/test_avro.py.
#include "avro_source.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "avro_test_peer.hpp"
#include "host_context.hpp"
#include "net/ip_filter.hpp"
#include "net/tls.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"
#include "source_test_support.hpp"

namespace sdk = sluice::sdk;
namespace rpc = sluice::plugins::avro;
using sluice::plugins::avro_source::AvroSource;
using sluice::plugins::avro_source::avroSourceSchema;
using sluice::plugins::testing::AvroTestClient;
using sluice::plugins::testing::batchParams;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::testing::frameOf;
using sluice::plugins::testing::RecordingProcessor;
using sluice::plugins::testing::TestCertificates;
namespace net = sluice::plugins::net;
using sluice::plugins::testing::clientTls;
using sluice::plugins::testing::waitFor;
using namespace std::chrono_literals;

namespace {

using KV = std::initializer_list<std::pair<const char*, std::string>>;

sdk::Context contextOf(KV kv) {
  sdk::Context ctx("a1.sources.r1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, avroSourceSchema(), ctx, "avro");
}

struct Fixture {
  CaptureLogger log;
  RecordingProcessor processor;
  AvroSource source;

  explicit Fixture(KV extra = {}) {
    sdk::Context ctx = contextOf({{"bind", "127.0.0.1"}, {"port", "0"}});
    for (const auto& [k, v] : extra) ctx.put(k, v);
    sdk::HostAccess::attach(source, "r1", &log);
    sdk::HostAccess::setChannelProcessor(source, &processor);
    sdk::Result r = configure(source, ctx);
    REQUIRE_MESSAGE(r.ok(), r.error());
    r = sdk::HostAccess::start(source);
    REQUIRE_MESSAGE(r.ok(), r.error());
    REQUIRE(source.boundPort() != 0);
  }
  ~Fixture() { source.stop(); }
  int64_t counter(const char* name) {
    auto v = source.sourceCounter().get(name);
    REQUIRE_MESSAGE(v.has_value(), name);
    return *v;
  }
  uint16_t port() const { return source.boundPort(); }
};

sdk::EventBatch makeEvents(int from, int to, bool withHeaders = true) {
  sdk::EventBatch b;
  for (int i = from; i < to; ++i) {
    sdk::Event e("event-" + std::to_string(i));
    if (withHeaders) {
      e.headers.set("seq", std::to_string(i));
      e.headers.set("host", "h1");
    }
    b.push_back(std::move(e));
  }
  return b;
}

// A whole appendBatch request of these events as `c` would send it first, in one frame.
std::string batchFrame(const AvroTestClient& c, const sdk::EventBatch& events) {
  std::string payload;
  rpc::appendClientHandshake(payload, c.hs);
  rpc::appendCallHeader(payload, "appendBatch");
  payload += batchParams(events);
  return frameOf(1, {payload});
}

// The error of configuring as the host does (its schema check first, then configure()).
std::string errorOf(KV kv) {
  AvroSource src;
  sdk::Result r = configure(src, contextOf(kv));
  REQUIRE_FALSE(r.ok());
  return r.error();
}

// The error of configure() itself, handed a Context without the host's check.
std::string pluginErrorOf(KV kv) {
  AvroSource src;
  sdk::Result r = sdk::HostAccess::configure(src, contextOf(kv));
  REQUIRE_FALSE(r.ok());
  return r.error();
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(avroSourceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config: every schema key is accepted") {
  AvroSource src;
  sdk::Result r = configure(src, contextOf({{"bind", "0.0.0.0"},
                                            {"port", "41414"},
                                            {"threads", "3"},
                                            {"compression-type", "deflate"},
                                            {"ssl", "false"},
                                            {"keystore", "/etc/ks.jks"},
                                            {"keystore-password", "secret"},
                                            {"keystore-type", "PKCS12"},
                                            {"exclude-protocols", "SSLv3 TLSv1"},
                                            {"include-protocols", "TLSv1.2"},
                                            {"exclude-cipher-suites", "X"},
                                            {"include-cipher-suites", "Y"},
                                            {"ipFilter", "true"},
                                            {"ipFilterRules", "allow:ip:127.*,deny:name:*"},
                                            {"max-connections", "10"},
                                            {"max-frame-size", "1048576"},
                                            {"max-batch-size", "500"},
                                            {"max-headers", "8"},
                                            {"idleTimeout", "30"}}));
  REQUIRE_MESSAGE(r.ok(), r.error());
  const auto& s = src.settings();
  CHECK(s.listener.port == 41414);
  CHECK(s.threads == 3);
  CHECK(s.deflate);
  REQUIRE(s.listener.ipFilter);
  CHECK(s.listener.ipFilter->rules().size() == 2);
  CHECK(s.listener.maxConnections == 10);
  CHECK(s.limits.maxFrameBytes == 1048576);
  CHECK(s.limits.maxBatchEvents == 500);
  CHECK(s.limits.maxHeaders == 8);
  CHECK(s.listener.idleTimeout == 30s);
  // The host rejects keys the schema does not list (tests/e2e/test_avro.py checks the message).
  CHECK_FALSE(avroSourceSchema().allowUnknownKeys);
  for (const sdk::Key& k : avroSourceSchema().keys) {
    INFO(k.name);
    CHECK((k.required || k.ignored || !k.defaultValue.empty() || k.type == sdk::ValueType::String));
  }
  // threads = 0: one per core, at most 4.
  AvroSource dflt;
  REQUIRE(configure(dflt, contextOf({{"bind", "x"}, {"port", "1"}})).ok());
  CHECK(dflt.settings().threads >= 1);
  CHECK(dflt.settings().threads <= 4);
}

TEST_CASE("configure errors name the key") {
  CHECK(pluginErrorOf({{"port", "1"}}) == "a1.sources.r1.bind: is required but missing");
  CHECK(pluginErrorOf({{"bind", "127.0.0.1"}}) == "a1.sources.r1.port: is required but missing");
  CHECK(errorOf({{"port", "1"}}).find("a1.sources.r1: missing required key 'bind'") == 0);
  CHECK(errorOf({{"bind", "127.0.0.1"}}).find("a1.sources.r1: missing required key 'port'") == 0);
  CHECK(errorOf({{"bind", "x"}, {"port", "65536"}}).find("a1.sources.r1.port:") == 0);
  CHECK(errorOf({{"bind", "x"}, {"port", "1"}, {"compression-type", "gzip"}})
            .find("a1.sources.r1.compression-type:") == 0);
  CHECK(errorOf({{"bind", "x"}, {"port", "1"}, {"ssl", "true"}}) ==
        "a1.sources.r1.keystore: is required when ssl = true");
  CHECK(errorOf({{"bind", "x"}, {"port", "1"}, {"ipFilter", "true"}}) ==
        "a1.sources.r1.ipFilterRules: is required when ipFilter = true");
  const std::string rule = errorOf(
      {{"bind", "x"}, {"port", "1"}, {"ipFilter", "true"}, {"ipFilterRules", "permit:ip:*"}});
  CHECK(rule.find("a1.sources.r1.ipFilterRules:") == 0);
  CHECK(rule.find("permit:ip:*") != std::string::npos);
  CHECK(errorOf({{"bind", "x"}, {"port", "1"}, {"max-frame-size", "10"}})
            .find("a1.sources.r1.max-frame-size:") == 0);
  CHECK(errorOf({{"bind", "x"}, {"port", "1"}, {"threads", "-1"}}).find("a1.sources.r1.threads:") ==
        0);
}

TEST_CASE("appendBatch: events with headers and binary bodies arrive exactly; OK after commit") {
  Fixture f;
  AvroTestClient c(f.port());
  REQUIRE(c.ok());
  sdk::EventBatch events = makeEvents(0, 50);
  events.emplace_back(std::string("\0\xff\n\r binary", 11));
  events.back().headers.set("k\xc3\xa9", std::string("v\0v", 3));
  CHECK(c.appendBatch(events) == rpc::RpcStatus::Ok);
  // The processor saw the batch before the answer: OK means committed.
  REQUIRE(f.processor.count() == 51);
  const auto bodies = f.processor.snapshot();
  for (int i = 0; i < 50; ++i) {
    CHECK(bodies[i] == "event-" + std::to_string(i));
    CHECK(f.processor.headersOf(i).get("seq") == std::to_string(i));
  }
  CHECK(bodies[50] == std::string("\0\xff\n\r binary", 11));
  CHECK(f.processor.headersOf(50).get("k\xc3\xa9") == std::string("v\0v", 3));
  CHECK(f.processor.batchSizes() == std::vector<std::size_t>{51});
  CHECK(f.counter("AppendBatchReceivedCount") == 1);
  CHECK(f.counter("AppendBatchAcceptedCount") == 1);
  CHECK(f.counter("EventReceivedCount") == 51);
  CHECK(f.counter("EventAcceptedCount") == 51);
  CHECK(f.counter("HandshakeCount") == 1);
  CHECK(f.counter("OpenConnectionCount") == 1);
  // Later requests carry no handshake.
  CHECK(c.appendBatch(makeEvents(51, 60)) == rpc::RpcStatus::Ok);
  CHECK(f.counter("HandshakeCount") == 1);
  CHECK(f.processor.count() == 60);
  c.close();
  CHECK(waitFor([&] { return f.counter("OpenConnectionCount") == 0; }));
}

TEST_CASE("append: one event, counted as Flume counts it") {
  Fixture f;
  AvroTestClient c(f.port());
  sdk::Event e(sdk::Headers{{"a", "b"}}, "single");
  std::string params;
  rpc::appendEventRecord(params, e);
  rpc::RpcStatus status{};
  std::string error;
  REQUIRE(c.call("append", params, status, error) == rpc::ResponseKind::Status);
  CHECK(status == rpc::RpcStatus::Ok);
  CHECK(f.processor.snapshot() == std::vector<std::string>{"single"});
  CHECK(f.processor.headersOf(0).get("a") == "b");
  CHECK(f.counter("AppendReceivedCount") == 1);
  CHECK(f.counter("AppendAcceptedCount") == 1);
  CHECK(f.counter("EventAcceptedCount") == 1);
}

TEST_CASE(
    "handshake: an unknown hash gets NONE with the server's protocol, then the resend works") {
  Fixture f;
  AvroTestClient c(f.port());
  // A client whose protocol text differs (as a Python or other-version Java peer): its hash is
  // unknown to the server and it guesses the server's hash wrong.
  const rpc::Md5 otherHash = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  std::string payload;
  rpc::appendHandshakeRequest(payload, otherHash, nullptr, otherHash);
  rpc::appendCallHeader(payload, "appendBatch");
  payload += batchParams(makeEvents(0, 3));
  REQUIRE(c.send(frameOf(7, {payload})));
  int32_t serial = 0;
  std::string resp;
  REQUIRE(c.readFrame(serial, resp));
  CHECK(serial == 7);
  rpc::AvroReader in(resp);
  rpc::HandshakeResponseView hr;
  REQUIRE(rpc::readHandshakeResponse(in, rpc::RpcLimits{}, hr));
  CHECK(hr.match == rpc::HandshakeMatch::None);
  REQUIRE(hr.hasServerProtocol);
  CHECK(hr.serverProtocol == rpc::kSourceProtocolJson);
  REQUIRE(hr.hasServerHash);
  CHECK(hr.serverHash == rpc::kSourceProtocolMd5);
  CHECK(in.atEnd());  // the handshake alone: no call response
  CHECK(f.processor.count() == 0);
  CHECK(f.counter("HandshakeNoneCount") == 1);

  // The resend carries the client's text; the client now knows the server's hash: BOTH.
  std::string text = "{\"protocol\":\"AvroSourceProtocol\"}";
  std::string_view tv = text;
  payload.clear();
  rpc::appendHandshakeRequest(payload, otherHash, &tv, rpc::kSourceProtocolMd5);
  rpc::appendCallHeader(payload, "appendBatch");
  payload += batchParams(makeEvents(0, 3));
  REQUIRE(c.send(frameOf(8, {payload})));
  REQUIRE(c.readFrame(serial, resp));
  rpc::ClientHandshake hs;
  rpc::RpcStatus status{};
  std::string error;
  REQUIRE(rpc::readCallResponse(resp, hs, rpc::RpcLimits{}, status, error) ==
          rpc::ResponseKind::Status);
  CHECK(hs.lastMatch == rpc::HandshakeMatch::Both);
  CHECK(status == rpc::RpcStatus::Ok);
  CHECK(f.processor.count() == 3);

  // A second connection with the same (now known) hash but the wrong server guess: CLIENT.
  AvroTestClient c2(f.port());
  payload.clear();
  rpc::appendHandshakeRequest(payload, otherHash, nullptr, otherHash);
  rpc::appendCallHeader(payload, "appendBatch");
  payload += batchParams(makeEvents(3, 4));
  REQUIRE(c2.send(frameOf(1, {payload})));
  REQUIRE(c2.readFrame(serial, resp));
  rpc::ClientHandshake hs2;
  REQUIRE(rpc::readCallResponse(resp, hs2, rpc::RpcLimits{}, status, error) ==
          rpc::ResponseKind::Status);
  CHECK(hs2.lastMatch == rpc::HandshakeMatch::Client);
  CHECK(hs2.serverHash == rpc::kSourceProtocolMd5);
  CHECK(f.processor.count() == 4);
}

TEST_CASE("handshake ping: an empty message name is answered with the handshake alone") {
  Fixture f;
  AvroTestClient c(f.port());
  std::string payload;
  rpc::appendHandshakeRequest(payload, rpc::kSourceProtocolMd5, nullptr, rpc::kSourceProtocolMd5);
  rpc::appendCallHeader(payload, "");
  REQUIRE(c.send(frameOf(1, {payload})));
  int32_t serial = 0;
  std::string resp;
  REQUIRE(c.readFrame(serial, resp));
  rpc::AvroReader in(resp);
  rpc::HandshakeResponseView hr;
  REQUIRE(rpc::readHandshakeResponse(in, rpc::RpcLimits{}, hr));
  CHECK(hr.match == rpc::HandshakeMatch::Both);
  CHECK(in.atEnd());
  // The connection is handshaken now.
  c.hs.done = true;
  CHECK(c.appendBatch(makeEvents(0, 2)) == rpc::RpcStatus::Ok);
}

TEST_CASE("channels full: FAILED, nothing acknowledged is lost; OK again once they accept") {
  Fixture f;
  AvroTestClient c(f.port());
  f.processor.refuse = true;
  CHECK(c.appendBatch(makeEvents(0, 10)) == rpc::RpcStatus::Failed);
  CHECK(f.processor.count() == 0);
  CHECK(f.counter("ChannelWriteFail") == 1);
  CHECK(f.counter("AppendBatchAcceptedCount") == 0);
  CHECK(f.counter("EventAcceptedCount") == 0);
  CHECK(f.log.has("answered FAILED"));
  f.processor.refuse = false;
  CHECK(c.appendBatch(makeEvents(0, 10)) == rpc::RpcStatus::Ok);  // same connection
  CHECK(f.processor.count() == 10);
  CHECK(f.counter("EventAcceptedCount") == 10);
}

TEST_CASE("frames cut anywhere: byte-by-byte writes and many buffers decode the same") {
  Fixture f;
  AvroTestClient c(f.port());
  std::string payload;
  rpc::appendClientHandshake(payload, c.hs);
  rpc::appendCallHeader(payload, "appendBatch");
  payload += batchParams(makeEvents(0, 20));
  std::vector<std::string> buffers;
  for (std::size_t i = 0; i < payload.size(); i += 7) buffers.push_back(payload.substr(i, 7));
  buffers.emplace_back();  // an empty buffer is legal
  const std::string frame = frameOf(42, buffers);
  for (char ch : frame) REQUIRE(c.send(std::string_view(&ch, 1)));
  int32_t serial = 0;
  std::string resp;
  REQUIRE(c.readFrame(serial, resp));
  CHECK(serial == 42);
  rpc::RpcStatus status{};
  std::string error;
  REQUIRE(rpc::readCallResponse(resp, c.hs, rpc::RpcLimits{}, status, error) ==
          rpc::ResponseKind::Status);
  CHECK(status == rpc::RpcStatus::Ok);
  CHECK(f.processor.count() == 20);
}

TEST_CASE("bad frames close only their connection, counted and logged rate-limited") {
  Fixture f({{"max-frame-size", "65536"}});
  AvroTestClient good(f.port());
  REQUIRE(good.appendBatch(makeEvents(0, 5)) == rpc::RpcStatus::Ok);

  auto expectClosed = [&](const std::string& bytes, bool closeAfter = false) {
    AvroTestClient bad(f.port());
    REQUIRE(bad.ok());
    REQUIRE(bad.send(bytes));
    if (closeAfter) {
      bad.close();
      return;
    }
    CHECK(bad.waitClosed());
  };
  std::string huge(8, '\0');
  rpc::putInt32be(huge.data() + 4, 1);
  huge += std::string("\x7f\xff\xff\xf0", 4);  // one buffer of ~2 GiB
  expectClosed(huge);
  std::string manyBuffers(8, '\0');
  rpc::putInt32be(manyBuffers.data() + 4, 0x7fffffff);
  expectClosed(manyBuffers);
  std::string negative(8, '\0');
  rpc::putInt32be(negative.data() + 4, 1);
  negative += std::string("\xff\xff\xff\xff", 4);
  expectClosed(negative);
  expectClosed(frameOf(1, {"\x01garbage that is not a handshake"}));
  expectClosed(std::string(1000, '\xee'));
  // A valid handshake followed by a batch count far beyond the frame.
  std::string lying;
  rpc::appendHandshakeRequest(lying, rpc::kSourceProtocolMd5, nullptr, rpc::kSourceProtocolMd5);
  rpc::appendCallHeader(lying, "appendBatch");
  rpc::appendAvroLong(lying, 1000000000);
  expectClosed(frameOf(1, {lying}));
  // Truncated frame, then the client goes away mid-frame.
  std::string truncated = frameOf(1, {std::string(100, 'x')}).substr(0, 50);
  expectClosed(truncated, true);

  CHECK(waitFor([&] { return f.counter("EventReadFail") >= 7; }));
  CHECK(f.log.has("closing the connection from 127.0.0.1:"));
  CHECK(f.log.has("similar since the last report") == false);  // first one logged; rest held
  // The good client never noticed.
  CHECK(good.appendBatch(makeEvents(5, 10)) == rpc::RpcStatus::Ok);
  CHECK(f.processor.count() == 10);
  CHECK(waitFor([&] { return f.counter("OpenConnectionCount") == 1; }));
}

TEST_CASE(
    "limits: too many events or headers, or an unknown message, get an error; the "
    "connection stays") {
  Fixture f({{"max-batch-size", "10"}, {"max-headers", "2"}});
  AvroTestClient c(f.port());
  rpc::RpcStatus status{};
  std::string error;
  CHECK(c.call("appendBatch", batchParams(makeEvents(0, 11, false)), status, error) ==
        rpc::ResponseKind::Error);
  CHECK(error.find("max-batch-size") != std::string::npos);
  sdk::EventBatch many = makeEvents(0, 1);
  many[0].headers.set("third", "x");
  CHECK(c.call("appendBatch", batchParams(many), status, error) == rpc::ResponseKind::Error);
  CHECK(error.find("max-headers") != std::string::npos);
  CHECK(c.call("flush", "", status, error) == rpc::ResponseKind::Error);
  CHECK(error.find("No such message: flush") != std::string::npos);
  CHECK(f.processor.count() == 0);
  CHECK(f.counter("ErrorResponseCount") == 3);
  CHECK(c.appendBatch(makeEvents(0, 10)) == rpc::RpcStatus::Ok);
  CHECK(f.processor.count() == 10);
}

TEST_CASE("a stalled client does not stall the others") {
  Fixture f({{"threads", "1"}});
  AvroTestClient stalled(f.port());
  const std::string frame = batchFrame(stalled, makeEvents(0, 100));
  REQUIRE(stalled.send(frame.substr(0, frame.size() / 2)));  // and then nothing
  AvroTestClient other(f.port());
  for (int i = 0; i < 20; ++i)
    REQUIRE(other.appendBatch(makeEvents(i * 5, i * 5 + 5)) == rpc::RpcStatus::Ok);
  CHECK(f.processor.count() == 100);
  REQUIRE(stalled.send(frame.substr(frame.size() / 2)));
  int32_t serial = 0;
  std::string resp;
  CHECK(stalled.readFrame(serial, resp));
  CHECK(f.processor.count() == 200);
}

TEST_CASE("many clients on several threads: every event exactly once") {
  Fixture f({{"threads", "3"}});
  constexpr int kClients = 8, kBatches = 25, kPer = 40;
  std::vector<std::thread> ts;
  ts.reserve(kClients);
  std::atomic<int> failures{0};
  for (int t = 0; t < kClients; ++t)
    ts.emplace_back([&, t] {
      AvroTestClient c(f.port());
      for (int b = 0; b < kBatches; ++b) {
        const int base = (t * kBatches + b) * kPer;
        if (c.appendBatch(makeEvents(base, base + kPer, false)) != rpc::RpcStatus::Ok) ++failures;
      }
    });
  for (auto& t : ts) t.join();
  CHECK(failures == 0);
  auto bodies = f.processor.snapshot();
  REQUIRE(bodies.size() == kClients * kBatches * kPer);
  std::set<std::string> unique(bodies.begin(), bodies.end());
  CHECK(unique.size() == bodies.size());
}

TEST_CASE("compression-type deflate: a zlib stream each way") {
  Fixture f({{"compression-type", "deflate"}});
  AvroTestClient c(f.port(), true);
  for (int i = 0; i < 5; ++i)
    REQUIRE(c.appendBatch(makeEvents(i * 100, i * 100 + 100)) == rpc::RpcStatus::Ok);
  CHECK(f.processor.count() == 500);
  CHECK(f.processor.headersOf(499).get("seq") == "499");
  // Plain bytes to a deflate source are a corrupt stream: that connection closes.
  AvroTestClient plain(f.port());
  REQUIRE(plain.send(frameOf(1, {"not compressed"})));
  CHECK(plain.waitClosed());
}

TEST_CASE("max-connections: further clients are accepted and closed at once") {
  Fixture f({{"max-connections", "2"}});
  AvroTestClient a(f.port()), b(f.port());
  REQUIRE(a.appendBatch(makeEvents(0, 1)) == rpc::RpcStatus::Ok);
  REQUIRE(b.appendBatch(makeEvents(1, 2)) == rpc::RpcStatus::Ok);
  AvroTestClient c(f.port());
  CHECK(c.waitClosed());
  CHECK(waitFor([&] { return f.counter("ConnectionRejectedCount") == 1; }));
  a.close();
  CHECK(waitFor([&] { return f.counter("OpenConnectionCount") == 1; }));
  AvroTestClient d(f.port());
  CHECK(d.appendBatch(makeEvents(2, 3)) == rpc::RpcStatus::Ok);
}

TEST_CASE("idleTimeout closes a silent connection") {
  Fixture f({{"idleTimeout", "1"}});
  AvroTestClient c(f.port());
  REQUIRE(c.appendBatch(makeEvents(0, 1)) == rpc::RpcStatus::Ok);
  CHECK(c.waitClosed(10s));
  CHECK(f.counter("ConnectionIdleClosedCount") == 1);
}

TEST_CASE("ipFilter: the first matching rule decides; no match allows") {
  {
    Fixture f({{"ipFilter", "true"}, {"ipFilterRules", "deny:ip:127.0.0.*,allow:ip:*"}});
    AvroTestClient c(f.port());
    CHECK(c.waitClosed());
    CHECK(waitFor([&] { return f.counter("ConnectionDeniedCount") == 1; }));
  }
  {
    Fixture f({{"ipFilter", "true"}, {"ipFilterRules", "allow:name:localhost,deny:ip:*"}});
    AvroTestClient c(f.port());
    CHECK(c.appendBatch(makeEvents(0, 1)) == rpc::RpcStatus::Ok);
  }
  {
    Fixture f({{"ipFilter", "true"}, {"ipFilterRules", "deny:ip:10.*"}});
    AvroTestClient c(f.port());
    CHECK(c.appendBatch(makeEvents(0, 1)) == rpc::RpcStatus::Ok);
  }
}

TEST_CASE("ip filter rules: parsing, globs and Java's address text") {
  // The source's filter is the network layer's: the same rules, through its API.
  using namespace sluice::plugins::net;
  auto parseIpFilterRules = [](std::string_view text) { return IpFilter::parse(text).rules(); };
  auto ipFilterAllows = [](std::string_view rules, const sockaddr_storage& ss,
                           const ReverseLookup& lookup) {
    return IpFilter::parse(rules).allows(ss, lookup);
  };
  auto rules = parseIpFilterRules(" allow:ip:127.*, deny:name:*.example.com ,allow:ip:10.0.?.1");
  REQUIRE(rules.size() == 3);
  CHECK(rules[0].allow);
  CHECK_FALSE(rules[1].allow);
  CHECK(rules[1].byName);
  CHECK(rules[1].pattern == "*.example.com");
  CHECK_THROWS_AS(parseIpFilterRules("allow:host:x"), std::invalid_argument);
  CHECK_THROWS_AS(parseIpFilterRules("allow"), std::invalid_argument);
  CHECK(globMatch("127.*", "127.0.0.1"));
  CHECK(globMatch("10.0.?.1", "10.0.5.1"));
  CHECK_FALSE(globMatch("10.0.?.1", "10.0.55.1"));
  CHECK(globMatch("*", ""));
  CHECK_FALSE(globMatch("a*b", "acd"));
  sockaddr_storage ss{};
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  in6->sin6_family = AF_INET6;
  ::inet_pton(AF_INET6, "::1", &in6->sin6_addr);
  CHECK(javaHostAddress(ss) == "0:0:0:0:0:0:0:1");
  CHECK(isLoopback(ss));
  ::inet_pton(AF_INET6, "::ffff:192.168.1.7", &in6->sin6_addr);
  CHECK(javaHostAddress(ss) == "192.168.1.7");
  auto noLookup = [](const sockaddr_storage&) -> std::string {
    FAIL("no lookup expected");
    return {};
  };
  CHECK_FALSE(ipFilterAllows("deny:ip:192.168.*", ss, noLookup));
  CHECK(ipFilterAllows("deny:ip:10.*", ss, noLookup));
  auto named = [](const sockaddr_storage&) -> std::string { return "web1.example.com"; };
  CHECK_FALSE(ipFilterAllows("deny:name:*.example.com,allow:ip:*", ss, named));
}

TEST_CASE("bind failure: start() fails naming bind:port and the reason") {
  Fixture f;
  AvroSource other;
  REQUIRE(configure(other, contextOf({{"bind", "127.0.0.1"}, {"port", std::to_string(f.port())}}))
              .ok());
  RecordingProcessor p;
  sdk::HostAccess::setChannelProcessor(other, &p);
  sdk::Result r = sdk::HostAccess::start(other);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() ==
        "cannot bind to 127.0.0.1:" + std::to_string(f.port()) + ": Address already in use");
}

TEST_CASE("start and stop are repeatable") {
  RecordingProcessor p;
  AvroSource src;
  sdk::HostAccess::setChannelProcessor(src, &p);
  REQUIRE(configure(src, contextOf({{"bind", "127.0.0.1"}, {"port", "0"}})).ok());
  for (int i = 0; i < 3; ++i) {
    REQUIRE(sdk::HostAccess::start(src).ok());
    REQUIRE(sdk::HostAccess::start(src).ok());  // a second start while running does nothing
    AvroTestClient c(src.boundPort());
    CHECK(c.appendBatch(makeEvents(i, i + 1)) == rpc::RpcStatus::Ok);
    REQUIRE(sdk::HostAccess::stop(src).ok());
    REQUIRE(sdk::HostAccess::stop(src).ok());
    CHECK(src.boundPort() == 0);
  }
  CHECK(p.count() == 3);
}

TEST_CASE("ssl = true: TLS clients are answered; plain or untrusting clients are not") {
  TestCertificates certs;
  Fixture f({{"ssl", "true"},
             {"keystore", certs.p12},
             {"keystore-type", "PKCS12"},
             {"keystore-password", certs.password}});
  net::TlsOptions trust;
  trust.truststore = certs.certPem;
  trust.truststoreType = "PEM";
  const auto client = clientTls(trust);
  AvroTestClient c(f.port(), false, client.get());
  REQUIRE_MESSAGE(c.ok(), c.tlsError);
  for (int i = 0; i < 5; ++i)
    REQUIRE(c.appendBatch(makeEvents(i * 20, i * 20 + 20)) == rpc::RpcStatus::Ok);
  CHECK(f.processor.count() == 100);
  CHECK(f.processor.headersOf(99).get("seq") == "99");
  // Plain Avro on a TLS port is not a TLS record: closed and counted.
  AvroTestClient plain(f.port());
  REQUIRE(plain.send(frameOf(1, {"plain"})));
  CHECK(plain.waitClosed());
  CHECK(waitFor([&] { return f.counter("EventReadFail") == 1; }));
  // A client that does not trust the certificate gives up in the handshake.
  const auto systemCas = clientTls(net::TlsOptions{});
  AvroTestClient untrusting(f.port(), false, systemCas.get());
  CHECK_FALSE(untrusting.ok());
  CHECK(untrusting.tlsError.find("certificate") != std::string::npos);
  CHECK(f.processor.count() == 100);
}

TEST_CASE("ssl with deflate; a PEM key store; a 'JKS' store that is really PKCS12") {
  TestCertificates certs;
  const std::string pem = certs.dir + "/both.pem";
  REQUIRE(std::system(("cat " + certs.certPem + " " + certs.keyPem + " > " + pem).c_str()) == 0);
  net::TlsOptions trust;
  trust.truststore = certs.p12;  // PKCS12 trust store with the certificate
  trust.truststoreType = "PKCS12";
  trust.truststorePassword = certs.password;
  const auto client = clientTls(trust);
  {
    Fixture f({{"ssl", "true"},
               {"keystore", pem},
               {"keystore-type", "PEM"},
               {"compression-type", "deflate"}});
    AvroTestClient c(f.port(), true, client.get());
    REQUIRE_MESSAGE(c.ok(), c.tlsError);
    CHECK(c.appendBatch(makeEvents(0, 300)) == rpc::RpcStatus::Ok);
    CHECK(f.processor.count() == 300);
  }
  {
    // keystore-type defaults to JKS, as in Flume; keytool since Java 9 writes PKCS12.
    Fixture f({{"ssl", "true"}, {"keystore", certs.p12}, {"keystore-password", certs.password}});
    AvroTestClient c(f.port(), false, client.get());
    REQUIRE_MESSAGE(c.ok(), c.tlsError);
    CHECK(c.appendBatch(makeEvents(0, 3)) == rpc::RpcStatus::Ok);
  }
}

TEST_CASE("ssl configuration errors name the key") {
  TestCertificates certs;
  const std::string jks = certs.dir + "/real.jks";
  {
    std::FILE* fp = std::fopen(jks.c_str(), "wb");
    REQUIRE(fp);
    std::fputs("\xfe\xed\xfe\xed not really a key store", fp);
    std::fclose(fp);
  }
  auto err = [&](KV extra) {
    sdk::Context ctx = contextOf({{"bind", "x"}, {"port", "1"}, {"ssl", "true"}});
    for (const auto& [k, v] : extra) ctx.put(k, v);
    AvroSource src;
    sdk::Result r = configure(src, ctx);
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  const std::string wrong =
      err({{"keystore", certs.p12}, {"keystore-type", "PKCS12"}, {"keystore-password", "nope"}});
  CHECK(wrong.find("a1.sources.r1.keystore:") == 0);
  CHECK(wrong.find("wrong password") != std::string::npos);
  CHECK(wrong.find("nope") == std::string::npos);  // the secret is not echoed
  const std::string real = err({{"keystore", jks}});
  CHECK(real.find("a1.sources.r1.keystore-type:") == 0);
  CHECK(real.find("keytool -importkeystore") != std::string::npos);
  CHECK(err({{"keystore", certs.p12}, {"keystore-type", "BKS"}})
            .find("a1.sources.r1.keystore-type:") == 0);
  CHECK(err({{"keystore", "/nonexistent.p12"}, {"keystore-type", "PKCS12"}})
            .find("a1.sources.r1.keystore: cannot open '/nonexistent.p12'") == 0);
  const std::string proto = err({{"keystore", certs.p12},
                                 {"keystore-password", certs.password},
                                 {"exclude-protocols", "SSLv3 TLSv9"}});
  CHECK(proto.find("a1.sources.r1.exclude-protocols:") == 0);
  CHECK(proto.find("TLSv9") != std::string::npos);
  CHECK(err({{"keystore", certs.p12},
             {"keystore-password", certs.password},
             {"include-protocols", "TLSv1.2"},
             {"exclude-protocols", "TLSv1.2"}})
            .find("a1.sources.r1.include-protocols: no TLS protocol") == 0);
  CHECK(err({{"keystore", certs.p12},
             {"keystore-password", certs.password},
             {"include-cipher-suites", "TLS_NO_SUCH_SUITE"}})
            .find("a1.sources.r1.include-cipher-suites:") == 0);
  // Valid restrictions are accepted.
  AvroSource ok;
  REQUIRE(
      configure(ok, contextOf({{"bind", "x"},
                               {"port", "1"},
                               {"ssl", "true"},
                               {"keystore", certs.p12},
                               {"keystore-password", certs.password},
                               {"include-protocols", "TLSv1.2 TLSv1.3"},
                               {"exclude-cipher-suites", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}}))
          .ok());
}

// ---- What the network layer adds ----

TEST_CASE("ssl.client-auth = required: only clients with a certificate signed by ssl.ca") {
  TestCertificates certs, rogue;  // self-signed: the source's certificate is also the client CA
  Fixture f({{"ssl", "true"},
             {"keystore", certs.p12},
             {"keystore-type", "PKCS12"},
             {"keystore-password", certs.password},
             {"ssl.ca", certs.certPem},
             {"ssl.client-auth", "required"}});
  net::TlsOptions o;
  o.truststore = certs.certPem;
  o.truststoreType = "PEM";
  {
    net::TlsOptions signedBy = o;
    signedBy.certificate = certs.certPem;
    signedBy.key = certs.keyPem;
    const auto ctx = clientTls(signedBy);
    AvroTestClient c(f.port(), false, ctx.get());
    REQUIRE_MESSAGE(c.ok(), c.tlsError);
    CHECK(c.appendBatch(makeEvents(0, 5)) == rpc::RpcStatus::Ok);
  }
  const std::vector<const TestCertificates*> others{nullptr, &rogue};  // none, a stranger's
  for (const TestCertificates* who : others) {
    net::TlsOptions other = o;
    if (who) {
      other.certificate = who->certPem;
      other.key = who->keyPem;
    }
    const auto ctx = clientTls(other);
    AvroTestClient c(f.port(), false, ctx.get());
    // With TLS 1.3 the client's handshake may end before the server refused it: either way, no
    // request of it is answered and none of its events arrive.
    if (c.ok()) CHECK(c.appendBatch(makeEvents(100, 105)) != rpc::RpcStatus::Ok);
  }
  CHECK(f.processor.count() == 5);
  CHECK(waitFor([&] { return f.counter("EventReadFail") == 2; }));
}

TEST_CASE("max-connections + 50 clients: every extra one closed and counted; the first served") {
  Fixture f({{"max-connections", "2"}});
  AvroTestClient a(f.port()), b(f.port());
  REQUIRE(a.appendBatch(makeEvents(0, 1)) == rpc::RpcStatus::Ok);
  REQUIRE(b.appendBatch(makeEvents(1, 2)) == rpc::RpcStatus::Ok);
  std::vector<std::unique_ptr<AvroTestClient>> extra;
  extra.reserve(50);
  for (int i = 0; i < 50; ++i) extra.push_back(std::make_unique<AvroTestClient>(f.port()));
  for (auto& c : extra) CHECK(c->waitClosed());
  CHECK(waitFor([&] { return f.counter("ConnectionRejectedCount") == 50; }));
  CHECK(f.counter("OpenConnectionCount") == 2);
  CHECK(a.appendBatch(makeEvents(2, 3)) == rpc::RpcStatus::Ok);
  CHECK(f.processor.count() == 3);
}

TEST_CASE("a peer that stalls mid-frame is closed by idleTimeout; the others go on") {
  Fixture f({{"idleTimeout", "1"}, {"ipFilter", "true"}, {"ipFilterRules", "allow:ip:127.*"}});
  AvroTestClient stalled(f.port());
  const std::string frame = batchFrame(stalled, makeEvents(0, 10));
  REQUIRE(stalled.send(frame.substr(0, frame.size() / 2)));  // and then nothing
  AvroTestClient other(f.port());
  CHECK(other.appendBatch(makeEvents(10, 12)) == rpc::RpcStatus::Ok);
  CHECK(stalled.waitClosed(10s));
  CHECK(f.counter("ConnectionIdleClosedCount") >= 1);
  CHECK(f.counter("ConnectionDeniedCount") == 0);  // allowed by the shared filter's rule
  CHECK(f.processor.count() == 2);                 // nothing of the unfinished frame was put
}

TEST_CASE("a client refused by the channels is held, then served on the same connection") {
  Fixture f;
  AvroTestClient c(f.port());
  f.processor.refuse = true;
  for (int i = 0; i < 3; ++i) CHECK(c.appendBatch(makeEvents(0, 5)) == rpc::RpcStatus::Failed);
  CHECK(f.counter("ChannelWriteFail") == 3);
  f.processor.refuse = false;
  CHECK(c.appendBatch(makeEvents(0, 5)) == rpc::RpcStatus::Ok);
  CHECK(f.processor.count() == 5);
  CHECK(f.counter("OpenConnectionCount") == 1);
}
