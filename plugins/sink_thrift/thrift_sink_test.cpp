// Unit tests on real sockets: the sink sends to libthrift's own TThreadedServer running the
// processor generated from flume.thrift (a server sluice did not write), whose handler answers
// OK, FAILED, ERROR, throws, or hangs on demand; the channel is the in-test transactional
// TestChannel. The Python server and sluice-to-sluice tests are in tests/e2e/test_thrift.py.
#include "thrift_sink.hpp"

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/server/TThreadedServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TServerSocket.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ThriftSourceProtocol.h"
#include "host_context.hpp"
#include "readme_schema_check.hpp"
#include "sink_test_support.hpp"
#include "sluice/sdk/host_access.hpp"
#include "source_test_support.hpp"

namespace sdk = sluice::sdk;
namespace rpc = sluice::plugins::thrift;
namespace gen = sluice::plugins::thrift::gen;
namespace at = ::apache::thrift;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::testing::counterOf;
using sluice::plugins::testing::TestChannel;
using sluice::plugins::testing::waitFor;
using sluice::plugins::thrift_sink::ThriftSink;
using sluice::plugins::thrift_sink::thriftSinkSchema;
using namespace std::chrono_literals;

namespace {

using KV = std::map<std::string, std::string>;

sdk::Context contextOf(const KV& kv) {
  sdk::Context ctx("a1.sinks.k1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, thriftSinkSchema(), ctx, "thrift");
}

std::string errorOf(const KV& kv) {
  ThriftSink sink;
  const sdk::Result r = configure(sink, contextOf(kv));
  REQUIRE_FALSE(r.ok());
  return r.error();
}

// What the server's handler does with the next calls.
enum class Mode { Ok, Failed, Error, Throw, Hang };

class Handler final : public gen::ThriftSourceProtocolIf, public at::server::TServerEventHandler {
 public:
  std::atomic<Mode> mode{Mode::Ok};
  std::atomic<int> calls{0};
  std::atomic<int> connections{0};

  gen::Status::type append(const gen::ThriftFlumeEvent& event) override {
    return appendBatch({event});
  }
  gen::Status::type appendBatch(const std::vector<gen::ThriftFlumeEvent>& events) override {
    ++calls;
    switch (mode.load()) {
      case Mode::Ok: {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& e : events) received_.push_back(e);
        return gen::Status::OK;
      }
      case Mode::Failed:
        return gen::Status::FAILED;
      case Mode::Error:
        return gen::Status::ERROR;
      case Mode::Throw:
        throw std::runtime_error("the handler failed");
      case Mode::Hang: {
        // As a server that stopped answering: held until released, then it never committed.
        std::unique_lock<std::mutex> lock(mu_);
        ++hanging_;
        cv_.wait(lock, [&] { return released_; });
        return gen::Status::FAILED;
      }
    }
    return gen::Status::UNKNOWN;
  }
  void* createContext(std::shared_ptr<at::protocol::TProtocol>,
                      std::shared_ptr<at::protocol::TProtocol>) override {
    ++connections;
    return nullptr;
  }
  // libthrift calls preServe() once its socket listens. Waiting for it under mu_ (not polling the
  // socket) orders the server thread's listen() before what the test thread does next, stop()
  // included: libthrift is not instrumented, so ThreadSanitizer sees only this synchronisation.
  void preServe() override {
    std::lock_guard<std::mutex> lock(mu_);
    serving_ = true;
    cv_.notify_all();
  }
  bool waitServing(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return serving_; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int hanging() {
    std::lock_guard<std::mutex> lock(mu_);
    return hanging_;
  }
  std::vector<gen::ThriftFlumeEvent> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  std::vector<std::string> bodies() {
    std::vector<std::string> v;
    for (const auto& e : received()) v.push_back(e.body);
    return v;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  bool serving_ = false;
  int hanging_ = 0;
  std::vector<gen::ThriftFlumeEvent> received_;
};

// libthrift's threaded server with the generated processor, framed, on 127.0.0.1.
class Server {
 public:
  explicit Server(rpc::Protocol p, int port = 0) : handler(std::make_shared<Handler>()) {
    socket_ = std::make_shared<at::transport::TServerSocket>("127.0.0.1", port);
    std::shared_ptr<at::protocol::TProtocolFactory> protocol;
    if (p == rpc::Protocol::Binary)
      protocol = std::make_shared<at::protocol::TBinaryProtocolFactory>();
    else
      protocol = std::make_shared<at::protocol::TCompactProtocolFactory>();
    server_ = std::make_unique<at::server::TThreadedServer>(
        std::make_shared<gen::ThriftSourceProtocolProcessor>(handler), socket_,
        std::make_shared<at::transport::TFramedTransportFactory>(), protocol);
    server_->setServerEventHandler(handler);
    thread_ = std::thread([this] { server_->serve(); });
    REQUIRE(handler->waitServing(10s));
    REQUIRE(socket_->getPort() != 0);
    port_ = socket_->getPort();
  }
  ~Server() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    handler->release();
    server_->stop();
    thread_.join();
  }
  uint16_t port() const { return static_cast<uint16_t>(port_); }

  std::shared_ptr<Handler> handler;

 private:
  std::shared_ptr<at::transport::TServerSocket> socket_;
  std::unique_ptr<at::server::TThreadedServer> server_;
  std::thread thread_;
  int port_ = 0;
};

struct Fixture {
  CaptureLogger log;
  TestChannel channel;
  ThriftSink sink;

  explicit Fixture(uint16_t port, const KV& extra = {}) {
    KV kv{{"hostname", "127.0.0.1"},
          {"port", std::to_string(port)},
          {"batch-size", "10"},
          {"connect-timeout", "1000"},
          {"request-timeout", "1000"}};
    for (const auto& [k, v] : extra) kv[k] = v;
    sdk::HostAccess::attach(sink, "k1", &log);
    sdk::HostAccess::setChannel(sink, &channel);
    sdk::Result r = configure(sink, contextOf(kv));
    REQUIRE_MESSAGE(r.ok(), r.error());
    r = sdk::HostAccess::start(sink);
    REQUIRE_MESSAGE(r.ok(), r.error());
  }
  ~Fixture() { (void)sdk::HostAccess::stop(sink); }
  int64_t counter(const char* name) { return counterOf(sink, name); }
  // process() until the channel is empty or the deadline passes; true when emptied.
  bool drain(std::chrono::milliseconds timeout = 15s) {
    return waitFor(
        [&] {
          (void)sdk::HostAccess::process(sink);
          return channel.size() == 0;
        },
        timeout);
  }
};

std::vector<std::string> expected(int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i) v.push_back("event-" + std::to_string(i));
  return v;
}

// A port nothing listens on (bound, then closed).
uint16_t deadPort() {
  Server s(rpc::Protocol::Compact);
  const uint16_t p = s.port();
  s.stop();
  return p;
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(thriftSinkSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config: every schema key is accepted; defaults are Flume's") {
  ThriftSink sink;
  const sdk::Result r = configure(sink, contextOf({{"hostname", "collector.example.com"},
                                                   {"port", "4141"},
                                                   {"batch-size", "500"},
                                                   {"connect-timeout", "5000"},
                                                   {"request-timeout", "7000"},
                                                   {"connection-reset-interval", "60"},
                                                   {"protocol", "binary"},
                                                   {"ssl", "false"},
                                                   {"trust-all-certs", "false"},
                                                   {"truststore", "/etc/ts.jks"},
                                                   {"truststore-password", "pw"},
                                                   {"truststore-type", "JKS"},
                                                   {"exclude-protocols", "SSLv3"},
                                                   {"kerberos", "false"},
                                                   {"client-principal", "flume/h@R"},
                                                   {"client-keytab", "/k"},
                                                   {"server-principal", "flume/s@R"},
                                                   {"trustmanager-type", "SunX509"},
                                                   {"maxConnections", "5"}}));
  REQUIRE_MESSAGE(r.ok(), r.error());
  const auto& s = sink.settings();
  CHECK(s.hostname == "collector.example.com");
  CHECK(s.port == 4141);
  CHECK(s.batchSize == 500);
  CHECK(s.connectTimeout == 5000ms);
  CHECK(s.requestTimeout == 7000ms);
  CHECK(s.resetConnectionInterval == 60s);
  CHECK(s.protocol == rpc::Protocol::Binary);
  CHECK_FALSE(thriftSinkSchema().allowUnknownKeys);

  ThriftSink dflt;
  REQUIRE(configure(dflt, contextOf({{"hostname", "h"}, {"port", "1"}})).ok());
  CHECK(dflt.settings().batchSize == 100);
  CHECK(dflt.settings().connectTimeout == 20000ms);
  CHECK(dflt.settings().requestTimeout == 20000ms);
  CHECK(dflt.settings().resetConnectionInterval == 0s);
  CHECK(dflt.settings().protocol == rpc::Protocol::Compact);
  // Flume's code reads reset-connection-interval: that spelling works too.
  ThriftSink other;
  REQUIRE(
      configure(other,
                contextOf({{"hostname", "h"}, {"port", "1"}, {"reset-connection-interval", "30"}}))
          .ok());
  CHECK(other.settings().resetConnectionInterval == 30s);
}

TEST_CASE("configure errors name the key") {
  CHECK(errorOf({{"port", "1"}}).find("a1.sinks.k1: missing required key 'hostname'") == 0);
  CHECK(errorOf({{"hostname", "h"}}).find("a1.sinks.k1: missing required key 'port'") == 0);
  CHECK(errorOf({{"hostname", "h"}, {"port", "0"}}).find("a1.sinks.k1.port:") == 0);
  CHECK(errorOf({{"hostname", "h"}, {"port", "1"}, {"batch-size", "0"}})
            .find("a1.sinks.k1.batch-size:") == 0);
  CHECK(errorOf({{"hostname", "h"}, {"port", "1"}, {"request-timeout", "10"}})
            .find("a1.sinks.k1.request-timeout:") == 0);
  CHECK(errorOf({{"hostname", "h"}, {"port", "1"}, {"protocol", "json"}})
            .find("a1.sinks.k1.protocol: expected one of compact, binary") == 0);
  CHECK(errorOf({{"hostname", "h"},
                 {"port", "1"},
                 {"connection-reset-interval", "10"},
                 {"reset-connection-interval", "20"}})
            .find("a1.sinks.k1.reset-connection-interval:") == 0);
  const std::string kerberos = errorOf({{"hostname", "h"}, {"port", "1"}, {"kerberos", "true"}});
  CHECK(kerberos.find("a1.sinks.k1.kerberos: Kerberos") == 0);
  CHECK(kerberos.find("not supported") != std::string::npos);
  CHECK(errorOf({{"hostname", "h"},
                 {"port", "1"},
                 {"ssl", "true"},
                 {"truststore", "/nope.p12"},
                 {"truststore-type", "PKCS12"}})
            .find("a1.sinks.k1.truststore:") == 0);
  ThriftSink tls;  // no trust store: the system's CAs
  CHECK(configure(tls, contextOf({{"hostname", "h"}, {"port", "1"}, {"ssl", "true"}})).ok());
}

TEST_CASE("delivers batches of batch-size to libthrift's server; commits after OK") {
  for (rpc::Protocol p : {rpc::Protocol::Compact, rpc::Protocol::Binary}) {
    CAPTURE(rpc::nameOf(p));
    Server server(p);
    Fixture f(server.port(), {{"protocol", rpc::nameOf(p)}});
    sdk::EventBatch b;
    for (int i = 0; i < 25; ++i)
      b.emplace_back(sdk::Headers{{"seq", std::to_string(i)}}, "event-" + std::to_string(i));
    b.emplace_back(std::string("\0bin\xff", 5));
    f.channel.put(std::move(b));
    REQUIRE(f.drain());
    auto want = expected(0, 25);
    want.push_back(std::string("\0bin\xff", 5));
    CHECK(server.handler->bodies() == want);
    const auto got = server.handler->received();
    CHECK(got[7].headers == std::map<std::string, std::string>{{"seq", "7"}});
    CHECK(got[25].headers.empty());
    CHECK(server.handler->connections == 1);
    CHECK(f.counter("ConnectionCreatedCount") == 1);
    CHECK(f.counter("EventDrainAttemptCount") == 26);
    CHECK(f.counter("EventDrainSuccessCount") == 26);
    CHECK(f.counter("BatchCompleteCount") == 2);
    CHECK(f.counter("BatchUnderflowCount") == 1);
    // An empty channel sends nothing.
    const sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
    CHECK(o.status == sdk::Status::BACKOFF);
    CHECK_FALSE(o.failed);
    CHECK(f.counter("BatchEmptyCount") == 1);
    CHECK(server.handler->calls == 3);
  }
}

TEST_CASE("FAILED and ERROR answers roll back; the batch comes again on the same connection") {
  Server server(rpc::Protocol::Compact);
  Fixture f(server.port());
  f.channel.putBodies(0, 15);
  for (Mode m : {Mode::Failed, Mode::Error}) {
    server.handler->mode = m;
    const sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
    CHECK(o.failed);
    CHECK(o.error.find(m == Mode::Failed ? "answered FAILED" : "answered ERROR") !=
          std::string::npos);
    CHECK(f.channel.size() == 15);  // rolled back, nothing lost
  }
  CHECK(f.counter("BatchRefusedCount") == 2);
  CHECK(f.counter("EventDrainSuccessCount") == 0);
  server.handler->mode = Mode::Ok;
  REQUIRE(f.drain());
  CHECK(server.handler->bodies() == expected(0, 15));  // once each, in order
  CHECK(server.handler->connections == 1);
  CHECK(f.counter("ConnectionClosedCount") == 0);
}

TEST_CASE("a Thrift exception from the server rolls back and reconnects") {
  Server server(rpc::Protocol::Compact);
  Fixture f(server.port());
  f.channel.putBodies(0, 5);
  server.handler->mode = Mode::Throw;
  const sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
  CHECK(o.failed);
  CHECK(o.error.find("exception") != std::string::npos);
  CHECK(f.channel.size() == 5);
  CHECK(f.counter("EventWriteFail") == 1);
  server.handler->mode = Mode::Ok;
  REQUIRE(f.drain());
  CHECK(server.handler->bodies() == expected(0, 5));
  CHECK(f.counter("ConnectionCreatedCount") == 2);
}

TEST_CASE("a server that hangs: request-timeout rolls back; nothing is lost") {
  Server server(rpc::Protocol::Compact);
  Fixture f(server.port());
  f.channel.putBodies(0, 8);
  server.handler->mode = Mode::Hang;
  const auto t0 = std::chrono::steady_clock::now();
  const sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(o.failed);
  CHECK(o.error.find("request-timeout (1000 ms)") != std::string::npos);
  CHECK(took >= 900ms);
  CHECK(took < 10s);
  CHECK(f.channel.size() == 8);
  CHECK(server.handler->hanging() == 1);
  server.handler->mode = Mode::Ok;
  server.handler->release();
  REQUIRE(f.drain());
  CHECK(server.handler->bodies() == expected(0, 8));
  CHECK(f.counter("ConnectionCreatedCount") == 2);
}

TEST_CASE("a server that is down: connection failures are counted; delivery once it is up") {
  const uint16_t port = deadPort();
  Fixture f(port);
  f.channel.putBodies(0, 12);
  const sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
  CHECK(o.failed);
  CHECK(o.error.find("cannot connect to 127.0.0.1:" + std::to_string(port)) == 0);
  CHECK(f.counter("ConnectionFailedCount") == 1);
  CHECK(f.channel.size() == 12);
  Server server(rpc::Protocol::Compact, port);
  REQUIRE(f.drain());
  CHECK(server.handler->bodies() == expected(0, 12));
}

TEST_CASE("a restarted server: the idle connection is noticed before a batch is taken") {
  std::unique_ptr<Server> server = std::make_unique<Server>(rpc::Protocol::Compact);
  const uint16_t port = server->port();
  Fixture f(port);
  f.channel.putBodies(0, 5);
  REQUIRE(f.drain());
  server.reset();  // closes its connections
  server = std::make_unique<Server>(rpc::Protocol::Compact, port);
  f.channel.putBodies(5, 10);
  // peerGone() sees the closed connection only once the FIN arrived: wait for a clean pass.
  REQUIRE(waitFor([&] {
    const sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
    return !o.failed && f.channel.size() == 0;
  }));
  CHECK(server->handler->bodies() == expected(5, 10));
  CHECK(f.counter("EventWriteFail") == 0);
}

TEST_CASE("connection-reset-interval opens a new connection") {
  Server server(rpc::Protocol::Compact);
  Fixture f(server.port(), {{"connection-reset-interval", "1"}});
  int next = 0;
  REQUIRE(waitFor(
      [&] {
        f.channel.putBodies(next, next + 1);
        ++next;
        (void)sdk::HostAccess::process(f.sink);
        return server.handler->connections >= 2;
      },
      10s));
  REQUIRE(f.drain());
  CHECK(server.handler->bodies() == expected(0, next));
  CHECK(f.counter("ConnectionClosedCount") >= 1);
}

TEST_CASE("start and stop are safe to repeat") {
  Server server(rpc::Protocol::Compact);
  Fixture f(server.port());
  for (int round = 0; round < 3; ++round) {
    f.channel.putBodies(round * 3, round * 3 + 3);
    REQUIRE(f.drain());
    REQUIRE(sdk::HostAccess::stop(f.sink).ok());
    REQUIRE(sdk::HostAccess::stop(f.sink).ok());
    CHECK_FALSE(f.sink.connected());
    REQUIRE(sdk::HostAccess::start(f.sink).ok());
  }
  CHECK(server.handler->bodies() == expected(0, 9));
  CHECK(f.counter("ConnectionCreatedCount") == 3);
  CHECK(f.counter("ConnectionClosedCount") == 3);
  CHECK(f.log.has("sending to 127.0.0.1:"));
}
