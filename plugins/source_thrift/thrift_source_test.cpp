// Unit tests on real sockets: the source serves libthrift's own generated client
// (ThriftSourceProtocolClient over TFramedTransport on a TSocket or TSSLSocket, which sluice did
// not write) in both protocols, and raw sockets that send what no client should. The Python and
// sluice-to-sluice interop tests are in tests/e2e/test_thrift.py.
#include "thrift_source.hpp"

#include <thrift/TApplicationException.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSSLSocket.h>
#include <thrift/transport/TSocket.h>

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ThriftSourceProtocol.h"
#include "host_context.hpp"
#include "net/net_test_support.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
namespace rpc = sluice::plugins::thrift;
namespace gen = sluice::plugins::thrift::gen;
namespace at = ::apache::thrift;
using sluice::plugins::net::testing::RawClient;
using sluice::plugins::net::testing::TestPki;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::testing::RecordingProcessor;
using sluice::plugins::testing::waitFor;
using sluice::plugins::thrift_source::ThriftSource;
using sluice::plugins::thrift_source::thriftSourceSchema;
using namespace std::chrono_literals;

namespace {

using KV = std::map<std::string, std::string>;

sdk::Context contextOf(const KV& kv) {
  sdk::Context ctx("a1.sources.r1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, thriftSourceSchema(), ctx, "thrift");
}

std::string errorOf(const KV& kv) {
  ThriftSource source;
  const sdk::Result r = configure(source, contextOf(kv));
  REQUIRE_FALSE(r.ok());
  return r.error();
}

struct Fixture {
  CaptureLogger log;
  RecordingProcessor processor;
  ThriftSource source;

  explicit Fixture(const KV& extra = {}) {
    KV kv{{"bind", "127.0.0.1"}, {"port", "0"}, {"threads", "2"}};
    for (const auto& [k, v] : extra) kv[k] = v;
    sdk::HostAccess::attach(source, "r1", &log);
    sdk::HostAccess::setChannelProcessor(source, &processor);
    sdk::Result r = configure(source, contextOf(kv));
    REQUIRE_MESSAGE(r.ok(), r.error());
    r = sdk::HostAccess::start(source);
    REQUIRE_MESSAGE(r.ok(), r.error());
    REQUIRE(source.boundPort() != 0);
  }
  ~Fixture() { (void)sdk::HostAccess::stop(source); }
  uint16_t port() const { return source.boundPort(); }
  int64_t counter(const char* name) { return source.sourceCounter().get(name).value_or(-1); }
};

// libthrift's generated client on a blocking socket (TSSLSocket when a factory is given).
struct Client {
  std::shared_ptr<at::transport::TSocket> socket;
  std::shared_ptr<at::transport::TTransport> transport;
  std::unique_ptr<gen::ThriftSourceProtocolClient> client;

  Client(uint16_t port, rpc::Protocol p,
         const std::shared_ptr<at::transport::TSSLSocketFactory>& tls = nullptr) {
    socket = tls ? tls->createSocket("127.0.0.1", port)
                 : std::make_shared<at::transport::TSocket>("127.0.0.1", port);
    socket->setRecvTimeout(10000);
    transport = std::make_shared<at::transport::TFramedTransport>(socket);
    std::shared_ptr<at::protocol::TProtocol> prot;
    if (p == rpc::Protocol::Binary)
      prot = std::make_shared<at::protocol::TBinaryProtocol>(transport);
    else
      prot = std::make_shared<at::protocol::TCompactProtocol>(transport);
    client = std::make_unique<gen::ThriftSourceProtocolClient>(prot);
    transport->open();
  }
  gen::ThriftSourceProtocolClient* operator->() { return client.get(); }
};

gen::ThriftFlumeEvent event(std::string body, std::map<std::string, std::string> headers = {}) {
  gen::ThriftFlumeEvent e;
  e.body = std::move(body);
  e.headers = std::move(headers);
  return e;
}

std::vector<gen::ThriftFlumeEvent> events(const std::string& prefix, int n) {
  std::vector<gen::ThriftFlumeEvent> v;
  v.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v.push_back(event(prefix + std::to_string(i)));
  return v;
}

std::vector<std::string> bodies(const std::string& prefix, int n) {
  std::vector<std::string> v;
  v.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

std::string frameOf(std::string_view payload) {
  const auto n = static_cast<uint32_t>(payload.size());
  std::string f{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                static_cast<char>(n)};
  return f.append(payload);
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(thriftSourceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config: every schema key is accepted; defaults are Flume's") {
  ThriftSource source;
  const sdk::Result r = configure(source, contextOf({{"bind", "0.0.0.0"},
                                                     {"port", "4141"},
                                                     {"threads", "3"},
                                                     {"protocol", "BINARY"},
                                                     {"ssl", "false"},
                                                     {"keystore", "/etc/ks.p12"},
                                                     {"keystore-password", "pw"},
                                                     {"keystore-type", "PKCS12"},
                                                     {"exclude-protocols", "SSLv3 TLSv1"},
                                                     {"include-protocols", "TLSv1.2"},
                                                     {"kerberos", "false"},
                                                     {"agent-principal", "flume/_HOST@X"},
                                                     {"agent-keytab", "/etc/flume.keytab"},
                                                     {"keymanager-type", "SunX509"},
                                                     {"ipFilter", "true"},
                                                     {"ipFilterRules", "allow:ip:127.*"},
                                                     {"max-connections", "10"},
                                                     {"max-frame-size", "2048"},
                                                     {"max-batch-size", "50"},
                                                     {"max-headers", "4"},
                                                     {"frame-timeout", "1500"},
                                                     {"idleTimeout", "60"}}));
  REQUIRE_MESSAGE(r.ok(), r.error());
  const auto& s = source.settings();
  CHECK(s.listener.bind == "0.0.0.0");
  CHECK(s.listener.port == 4141);
  CHECK(s.threads == 3);
  CHECK(s.protocol == rpc::Protocol::Binary);
  CHECK(s.listener.maxConnections == 10);
  CHECK(s.limits.maxFrameBytes == 2048);
  CHECK(s.listener.maxBufferedInputBytes == 2048 + 4);
  CHECK(s.limits.maxBatchEvents == 50);
  CHECK(s.limits.maxHeaders == 4);
  CHECK(s.listener.requestTimeout == 1500ms);
  CHECK(s.listener.idleTimeout == 60s);
  CHECK(s.listener.ipFilter != nullptr);
  CHECK(s.listener.tls == nullptr);
  CHECK_FALSE(thriftSourceSchema().allowUnknownKeys);

  ThriftSource dflt;
  REQUIRE(configure(dflt, contextOf({{"bind", "127.0.0.1"}, {"port", "0"}})).ok());
  CHECK(dflt.settings().protocol == rpc::Protocol::Compact);
  CHECK(dflt.settings().limits.maxFrameBytes == 16384000);  // libthrift's and Flume's
  CHECK(dflt.settings().threads >= 1);
  CHECK(dflt.settings().listener.requestTimeout == 30s);
  CHECK(dflt.settings().listener.idleTimeout == 0s);
}

TEST_CASE("configure errors name the key") {
  CHECK(errorOf({{"port", "1"}}).find("a1.sources.r1: missing required key 'bind'") == 0);
  CHECK(errorOf({{"bind", "h"}}).find("a1.sources.r1: missing required key 'port'") == 0);
  CHECK(errorOf({{"bind", "h"}, {"port", "70000"}}).find("a1.sources.r1.port:") == 0);
  CHECK(errorOf({{"bind", "h"}, {"port", "1"}, {"protocol", "json"}})
            .find("a1.sources.r1.protocol: expected one of compact, binary") == 0);
  CHECK(errorOf({{"bind", "h"}, {"port", "1"}, {"max-frame-size", "10"}})
            .find("a1.sources.r1.max-frame-size:") == 0);
  const std::string kerberos = errorOf({{"bind", "h"}, {"port", "1"}, {"kerberos", "true"}});
  CHECK(kerberos.find("a1.sources.r1.kerberos: Kerberos") == 0);
  CHECK(kerberos.find("not supported") != std::string::npos);
  CHECK(errorOf({{"bind", "h"}, {"port", "1"}, {"ssl", "true"}}).find("a1.sources.r1.keystore") ==
        0);
  CHECK(errorOf({{"bind", "h"}, {"port", "1"}, {"ipFilter", "true"}})
            .find("a1.sources.r1.ipFilterRules:") == 0);
}

TEST_CASE("start and stop are safe to repeat; a restart listens again") {
  CaptureLogger log;
  RecordingProcessor processor;
  ThriftSource source;
  sdk::HostAccess::attach(source, "r1", &log);
  sdk::HostAccess::setChannelProcessor(source, &processor);
  CHECK(sdk::HostAccess::stop(source).ok());  // before any start
  REQUIRE(configure(source, contextOf({{"bind", "127.0.0.1"}, {"port", "0"}})).ok());
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    REQUIRE(sdk::HostAccess::start(source).ok());
    REQUIRE(sdk::HostAccess::start(source).ok());  // a second start does nothing
    const uint16_t port = source.boundPort();
    REQUIRE(port != 0);
    Client c(port, rpc::Protocol::Compact);
    CHECK(c->append(event("round " + std::to_string(round))) == gen::Status::OK);
    REQUIRE(sdk::HostAccess::stop(source).ok());
    REQUIRE(sdk::HostAccess::stop(source).ok());
    CHECK(source.boundPort() == 0);
  }
  CHECK(processor.snapshot() == std::vector<std::string>{"round 0", "round 1", "round 2"});
  CHECK(log.has("listening on 127.0.0.1:"));
  CHECK(log.has("compact protocol"));
}

TEST_CASE("libthrift's generated client, compact and binary: append and appendBatch arrive") {
  for (rpc::Protocol p : {rpc::Protocol::Compact, rpc::Protocol::Binary}) {
    CAPTURE(rpc::nameOf(p));
    Fixture f(KV{{"protocol", rpc::nameOf(p)}});
    Client c(f.port(), p);
    CHECK(c->append(event("one", {{"host", "h\xc3\xa9"}, {"seq", "1"}})) == gen::Status::OK);
    CHECK(c->appendBatch(events("batch ", 100)) == gen::Status::OK);
    CHECK(c->appendBatch({event(std::string("\0\xff\x01", 3)), event("")}) == gen::Status::OK);
    CHECK(c->appendBatch({}) == gen::Status::OK);  // an empty batch is fine, as in Flume
    std::vector<std::string> want{"one"};
    for (auto& b : bodies("batch ", 100)) want.push_back(b);
    want.push_back(std::string("\0\xff\x01", 3));
    want.push_back("");
    CHECK(f.processor.snapshot() == want);
    CHECK(f.processor.headersOf(0) == sdk::Headers{{"host", "h\xc3\xa9"}, {"seq", "1"}});
    CHECK(f.counter("AppendReceivedCount") == 1);
    CHECK(f.counter("AppendAcceptedCount") == 1);
    CHECK(f.counter("AppendBatchReceivedCount") == 3);
    CHECK(f.counter("AppendBatchAcceptedCount") == 3);
    CHECK(f.counter("EventReceivedCount") == 103);
    CHECK(f.counter("EventAcceptedCount") == 103);
    CHECK(f.counter("OpenConnectionCount") == 1);
    // A second client at the same time, on the other I/O thread.
    Client c2(f.port(), p);
    CHECK(c2->appendBatch(events("second ", 10)) == gen::Status::OK);
    CHECK(c->appendBatch(events("first again ", 10)) == gen::Status::OK);
    CHECK(f.processor.count() == 123);
  }
}

TEST_CASE("a refused batch is answered FAILED after nothing was put; the retry succeeds") {
  Fixture f;
  Client c(f.port(), rpc::Protocol::Compact);
  f.processor.failNext = 2;
  CHECK(c->appendBatch(events("e", 5)) == gen::Status::FAILED);
  CHECK(c->append(event("single")) == gen::Status::FAILED);
  CHECK(f.processor.count() == 0);
  CHECK(f.counter("ChannelWriteFail") == 2);
  CHECK(f.counter("AppendBatchAcceptedCount") == 0);
  // The client retries, as Flume's sink does; the hold after a FAILED only delays it.
  CHECK(c->appendBatch(events("e", 5)) == gen::Status::OK);
  CHECK(c->append(event("single")) == gen::Status::OK);
  CHECK(f.processor.snapshot() == std::vector<std::string>{"e0", "e1", "e2", "e3", "e4", "single"});
  CHECK(f.log.has("answered FAILED"));
}

TEST_CASE("unknown methods and oversize batches get Thrift's exception; the connection stays") {
  Fixture f(KV{{"max-batch-size", "10"}, {"max-headers", "2"}});
  Client c(f.port(), rpc::Protocol::Compact);
  CHECK_THROWS_AS(c->appendBatch(events("x", 11)), at::TApplicationException);
  CHECK_THROWS_AS(c->append(event("h", {{"a", "1"}, {"b", "2"}, {"c", "3"}})),
                  at::TApplicationException);
  CHECK(c->appendBatch(events("ok", 10)) == gen::Status::OK);  // same connection
  CHECK(f.processor.count() == 10);
  CHECK(f.counter("ErrorResponseCount") == 2);
  CHECK(f.counter("EventReadFail") == 0);

  // A method the service does not have, written with libthrift's protocol on a raw socket.
  auto buf = std::make_shared<at::transport::TMemoryBuffer>();
  at::protocol::TCompactProtocol prot(buf);
  prot.writeMessageBegin("ping", at::protocol::T_CALL, 3);
  prot.writeStructBegin("ping_args");
  prot.writeFieldStop();
  prot.writeStructEnd();
  prot.writeMessageEnd();
  RawClient raw(f.port());
  REQUIRE(raw.send(frameOf(buf->getBufferAsString())));
  std::string got;
  REQUIRE(waitFor([&] {
    raw.waitClosed(20ms, &got);
    return got.size() >= 4;
  }));
  CHECK(got.find("Invalid method name: 'ping'") != std::string::npos);
  CHECK_FALSE(raw.peerClosed());
  CHECK(f.counter("ErrorResponseCount") == 3);
}

TEST_CASE("bad input closes only its connection, is counted, and others keep flowing") {
  Fixture f(KV{{"max-frame-size", "65536"}, {"frame-timeout", "500"}, {"threads", "1"}});
  Client good(f.port(), rpc::Protocol::Compact);
  RawClient stalled(f.port());
  // Half a frame, then silence: closed after frame-timeout.
  REQUIRE(stalled.send(std::string("\0\0\x10\0", 4) + std::string(2000, 'a')));
  const std::vector<std::string> bad{
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",          // garbage (a huge length, as it happens)
      std::string("\x7f\xff\xff\xf0", 4),           // a huge frame
      std::string("\xff\xff\xff\xfb", 4) + "xxxx",  // a negative length
      frameOf(std::string(100, '\xee')),            // a frame that is no Thrift call
      frameOf(std::string("\x82\x21\x01\x0b", 4) + "appendBatch\x19\x1c"),  // cut short
  };
  int n = 0;
  for (const std::string& b : bad) {
    CAPTURE(n);
    RawClient r(f.port());
    REQUIRE(r.send(b));
    CHECK(r.waitClosed(10s));
    CHECK(good->appendBatch(events("between " + std::to_string(n) + " ", 2)) == gen::Status::OK);
    ++n;
  }
  // Truncated frames: the client goes away in the middle.
  for (std::size_t cut : {2, 4, 40}) {
    RawClient r(f.port());
    const std::string frame = frameOf(std::string(100, 'z'));
    REQUIRE(r.send(frame.substr(0, cut)));
  }
  CHECK(stalled.waitClosed(10s));
  CHECK(good->appendBatch(events("after ", 3)) == gen::Status::OK);
  CHECK(f.processor.count() == 2 * bad.size() + 3);
  CHECK(
      waitFor([&] { return f.counter("EventReadFail") >= static_cast<int64_t>(bad.size()) + 2; }));
  CHECK(f.counter("ConnectionTimedOutCount") == 1);
  CHECK(waitFor([&] { return f.counter("OpenConnectionCount") == 1; }));  // the good one
  CHECK(f.log.has("over max-frame-size (65536)"));
  CHECK(f.log.has("frame-timeout"));
}

TEST_CASE("the wrong protocol is named in the log") {
  Fixture f;  // compact
  {
    Client c(f.port(), rpc::Protocol::Binary);
    CHECK_THROWS(c->append(event("binary speaker")));
  }
  CHECK(waitFor([&] { return f.log.has("set protocol = binary"); }));
  CHECK(f.processor.count() == 0);
}

TEST_CASE("max-connections: further clients are closed and counted") {
  Fixture f(KV{{"max-connections", "2"}});
  Client a(f.port(), rpc::Protocol::Compact);
  Client b(f.port(), rpc::Protocol::Compact);
  CHECK(a->append(event("a")) == gen::Status::OK);
  CHECK(b->append(event("b")) == gen::Status::OK);
  RawClient third(f.port());
  CHECK(third.waitClosed(10s));
  CHECK(waitFor([&] { return f.counter("ConnectionRejectedCount") == 1; }));
}

TEST_CASE("TLS with a PKCS12 key store: libthrift's TSSLSocket client") {
  TestPki pki;
  Fixture f(KV{{"ssl", "true"},
               {"keystore", pki.serverP12},
               {"keystore-type", "PKCS12"},
               {"keystore-password", pki.password}});
  auto factory = std::make_shared<at::transport::TSSLSocketFactory>();
  factory->loadTrustedCertificates(pki.caPem.c_str());
  factory->authenticate(true);
  {
    Client c(f.port(), rpc::Protocol::Compact, factory);
    CHECK(c->appendBatch(events("tls ", 20)) == gen::Status::OK);
  }
  CHECK(f.processor.count() == 20);
  // A plain client on the TLS port is dropped.
  RawClient plain(f.port());
  REQUIRE(plain.send(frameOf(std::string(50, 'p'))));
  CHECK(plain.waitClosed(10s));
  CHECK(f.log.has(", TLS"));
}
