// The http sink against HTTP servers run by the test on 127.0.0.1 (the HTTP layer's server with a
// scripted handler, and raw sockets that never answer), with the SDK's take contract
// (TestChannel): what is committed, what is rolled back and sent again, what is dropped.
#include "http_sink.hpp"

#include <doctest/doctest.h>

#include <mutex>
#include <string>
#include <vector>

#include "capture_logger.hpp"
#include "host_context.hpp"
#include "http_test_support.hpp"
#include "readme_schema_check.hpp"
#include "sink_test_support.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using namespace std::chrono_literals;
using sluice::plugins::http::testing::HttpServerFixture;
using sluice::plugins::http_sink::HttpSink;
using sluice::plugins::http_sink::httpSinkSchema;
using sluice::plugins::http_sink::StatusPolicy;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::testing::counterOf;
using sluice::plugins::testing::TestChannel;

namespace {

using KV = std::vector<std::pair<const char*, std::string>>;

sdk::Context contextOf(const KV& kv) {
  sdk::Context ctx("a1.sinks.k1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, httpSinkSchema(), ctx, "http");
}

// An endpoint that records the bodies it was sent and answers with `status` (changeable).
struct Endpoint {
  HttpServerFixture server;
  std::mutex mu;
  std::vector<std::string> bodies;
  std::vector<std::string> contentTypes;
  std::atomic<int> status{200};

  explicit Endpoint(const sluice::plugins::net::ListenerOptions& lo = {}) : server({}, lo) {
    server.handler.request = [this](sluice::plugins::http::Request& req,
                                    sluice::plugins::http::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      bodies.push_back(*req.body);
      contentTypes.emplace_back(req.header("content-type"));
      res.status = status.load();
      res.body = "answer";
    };
  }
  std::string url(const char* scheme = "http", const char* host = "127.0.0.1") const {
    return std::string(scheme) + "://" + host + ":" + std::to_string(server.port()) + "/events";
  }
  std::vector<std::string> received() {
    std::lock_guard<std::mutex> lock(mu);
    return bodies;
  }
};

struct Sink {
  CaptureLogger log;
  TestChannel channel;
  HttpSink sink;

  explicit Sink(const KV& kv) {
    sdk::Context ctx = contextOf(kv);
    ctx.setLogger(&log);
    sdk::HostAccess::attach(sink, "k1", &log);
    sdk::HostAccess::setChannel(sink, &channel);
    const sdk::Result r = configure(sink, ctx);
    REQUIRE_MESSAGE(r.ok(), r.error());
    REQUIRE(sdk::HostAccess::start(sink).ok());
  }
  ~Sink() { (void)sdk::HostAccess::stop(sink); }
  int64_t counter(const char* name) { return counterOf(sink, name); }
};

// Flume's user-guide example: 200 and 4XX are final, everything else rolled back.
KV delivering(const std::string& url) {
  return {{"endpoint", url},
          {"backoff.200", "false"},
          {"rollback.200", "false"},
          {"incrementMetrics.200", "true"},
          {"backoff.4XX", "false"},
          {"rollback.4XX", "false"},
          {"incrementMetrics.4XX", "true"}};
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(httpSinkSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config and errors naming the key") {
  HttpSink s;
  REQUIRE(configure(s, contextOf({{"endpoint", "http://localhost:8080/someuri"},
                                  {"connectTimeout", "2000"},
                                  {"requestTimeout", "2000"},
                                  {"acceptHeader", "application/json"},
                                  {"contentTypeHeader", "application/json"},
                                  {"defaultBackoff", "true"},
                                  {"defaultRollback", "true"},
                                  {"defaultIncrementMetrics", "false"},
                                  {"backoff.4XX", "false"},
                                  {"rollback.4XX", "false"},
                                  {"incrementMetrics.4XX", "true"},
                                  {"backoff.200", "false"},
                                  {"rollback.200", "false"},
                                  {"incrementMetrics.200", "true"}}))
              .ok());
  CHECK(s.url().port == 8080);
  CHECK(s.url().target == "/someuri");
  auto errorOf = [](const KV& kv) {
    HttpSink sink;
    const sdk::Result r = configure(sink, contextOf(kv));
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  CHECK(errorOf({}).find("a1.sinks.k1: missing required key 'endpoint'") == 0);
  CHECK(
      errorOf({{"endpoint", "localhost:8080"}}).find("a1.sinks.k1.endpoint: expected an http://") ==
      0);
  CHECK(errorOf({{"endpoint", "http://h/"}, {"connectTimeout", "0"}})
            .find("a1.sinks.k1.connectTimeout:") == 0);
  CHECK(errorOf({{"endpoint", "http://h/"}, {"requestTimeout", "-1"}})
            .find("a1.sinks.k1.requestTimeout:") == 0);
  CHECK(errorOf({{"endpoint", "http://h/"}, {"rollback.200", "maybe"}})
            .find("a1.sinks.k1.rollback.200:") == 0);
  CHECK(errorOf({{"endpoint", "https://h/"}, {"ssl.ca", "/nonexistent.pem"}})
            .find("a1.sinks.k1.ssl.ca") == 0);
}

TEST_CASE("status overrides: the code, then its class, then the default (Flume's precedence)") {
  StatusPolicy p;
  p.rollback = {{"503", true}, {"5XX", false}, {"2XX", false}};
  p.backoff = {{"500", false}};
  CHECK(p.decide(503).rollback);
  CHECK(p.decide(503).rollbackRule == "rollback.503");
  CHECK_FALSE(p.decide(502).rollback);
  CHECK(p.decide(502).rollbackRule == "rollback.5XX");
  CHECK_FALSE(p.decide(204).rollback);
  CHECK(p.decide(404).rollback);  // defaultRollback
  CHECK(p.decide(404).rollbackRule == "defaultRollback");
  CHECK_FALSE(p.decide(500).backoff);
  CHECK(p.decide(501).backoff);
  CHECK_FALSE(p.decide(200).incrementMetrics);
}

TEST_CASE(
    "override keys that can never match are reported; Flume's default rollback warned about") {
  CaptureLogger log;
  HttpSink s;
  sdk::Context ctx = contextOf({{"endpoint", "http://h/"}, {"rollback.5xx", "false"}});
  ctx.setLogger(&log);
  REQUIRE(configure(s, ctx).ok());
  CHECK(log.has("a1.sinks.k1.rollback.5xx: matches no status"));
  CHECK(log.has("a 200 answer rolls the event back and sends it again"));
}

TEST_CASE("200: every event POSTed once, in order, over one connection, then committed") {
  Endpoint ep;
  Sink s({{"endpoint", ep.url()},
          {"contentTypeHeader", "application/json"},
          {"rollback.2XX", "false"},
          {"backoff.2XX", "false"},
          {"incrementMetrics.2XX", "true"}});
  s.channel.putBodies(0, 100);
  for (int i = 0; i < 100; ++i)
    CHECK(sdk::HostAccess::process(s.sink).status == sdk::Status::READY);
  CHECK(sdk::HostAccess::process(s.sink).status == sdk::Status::BACKOFF);  // empty
  std::vector<std::string> want;
  want.reserve(100);
  for (int i = 0; i < 100; ++i) want.push_back("event-" + std::to_string(i));
  CHECK(ep.received() == want);
  CHECK(s.channel.size() == 0);
  CHECK(s.counter("EventDrainAttemptCount") == 100);
  CHECK(s.counter("EventDrainSuccessCount") == 100);
  CHECK(s.counter("ConnectionCreatedCount") == 1);
  CHECK(s.counter("BatchCompleteCount") == 100);
  CHECK(s.counter("BatchEmptyCount") == 1);
  CHECK(ep.contentTypes.at(0) == "application/json");
}

TEST_CASE("Flume's defaults roll back a 200 too: the event stays in the channel") {
  Endpoint ep;
  Sink s({{"endpoint", ep.url()}});
  s.channel.putBodies(0, 1);
  const sdk::ProcessOutcome o = sdk::HostAccess::process(s.sink);
  CHECK(o.failed);
  CHECK(o.error.find("rolled back to be sent again (defaultRollback)") != std::string::npos);
  CHECK(s.channel.size() == 1);
  CHECK(ep.received().size() == 1);
  CHECK(s.counter("EventDrainSuccessCount") == 0);  // defaultIncrementMetrics = false
}

TEST_CASE("5XX: rolled back and sent again until the server takes it; nothing lost") {
  Endpoint ep;
  Sink s(delivering(ep.url()));
  s.channel.putBodies(0, 10);
  ep.status = 503;
  for (int i = 0; i < 3; ++i) {
    const sdk::ProcessOutcome o = sdk::HostAccess::process(s.sink);
    CHECK(o.failed);  // a back-off the runner and failover see
    CHECK(o.error.find("HTTP 503 Service Unavailable") != std::string::npos);
  }
  CHECK(s.channel.size() == 10);
  CHECK(s.counter("EventRolledBackCount") == 3);
  ep.status = 200;
  sluice::plugins::testing::drain(s.sink, s.channel);
  std::vector<std::string> got = ep.received();
  CHECK(got.size() == 13);  // three refused tries of event-0, then all ten
  got.erase(got.begin(), got.begin() + 3);
  std::vector<std::string> want;
  want.reserve(10);
  for (int i = 0; i < 10; ++i) want.push_back("event-" + std::to_string(i));
  CHECK(got == want);
  CHECK(s.counter("EventDrainSuccessCount") == 10);
}

TEST_CASE("4XX with rollback.4XX = false: the event is dropped, counted and logged; no back-off") {
  Endpoint ep;
  Sink s(delivering(ep.url()));
  ep.status = 400;
  s.channel.putBodies(0, 3);
  for (int i = 0; i < 3; ++i) CHECK(sdk::HostAccess::process(s.sink).status == sdk::Status::READY);
  CHECK(s.channel.size() == 0);
  CHECK(s.counter("EventDroppedCount") == 3);
  CHECK(s.counter("EventDrainSuccessCount") == 3);  // incrementMetrics.4XX = true, as configured
  CHECK(s.log.has("HTTP 400 Bad Request from 127.0.0.1:"));
  CHECK(s.log.has("(rollback.4XX = false)"));
}

TEST_CASE("a server that is down, then one that hangs: rolled back each time, nothing lost") {
  uint16_t port = 0;
  {
    Endpoint gone;
    port = gone.server.port();
  }
  {
    Sink s(delivering("http://127.0.0.1:" + std::to_string(port) + "/events"));
    s.channel.putBodies(0, 2);
    const sdk::ProcessOutcome o = sdk::HostAccess::process(s.sink);
    CHECK(o.failed);
    CHECK(o.error.find("the event stays in the channel") != std::string::npos);
    CHECK(s.channel.size() == 2);
    CHECK(s.counter("ConnectionFailedCount") == 1);
    CHECK(s.counter("EventWriteFail") == 1);
  }
  // Declared before the endpoint, so it outlives the server's I/O thread, which may still be in
  // the handler's loop when the test ends.
  std::atomic<bool> release{false};
  Endpoint slow;
  slow.server.handler.request = [&](sluice::plugins::http::Request&,
                                    sluice::plugins::http::Response&) {
    while (!release) std::this_thread::sleep_for(5ms);
  };
  KV kv = delivering(slow.url());
  kv.emplace_back("requestTimeout", "300");
  Sink s(kv);
  s.channel.putBodies(0, 1);
  const auto t0 = std::chrono::steady_clock::now();
  const sdk::ProcessOutcome o = sdk::HostAccess::process(s.sink);
  release = true;
  CHECK(o.failed);
  CHECK(o.error.find("request-timeout (300 ms)") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(s.channel.size() == 1);
}

TEST_CASE("empty events are consumed without a request, as Flume does") {
  Endpoint ep;
  Sink s(delivering(ep.url()));
  sdk::EventBatch b;
  b.emplace_back(std::string());
  b.emplace_back(std::string("real"));
  s.channel.put(std::move(b));
  sluice::plugins::testing::drain(s.sink, s.channel);
  CHECK(ep.received() == std::vector<std::string>{"real"});
  CHECK(s.counter("EmptyEventCount") == 1);
}

TEST_CASE("a failed commit after a 200: the event stays and is sent again") {
  Endpoint ep;
  Sink s(delivering(ep.url()));
  s.channel.putBodies(0, 1);
  s.channel.failCommit = true;
  const sdk::ProcessOutcome o = sdk::HostAccess::process(s.sink);
  CHECK(o.failed);
  CHECK(o.error.find("commit failed after HTTP 200") != std::string::npos);
  s.channel.failCommit = false;
  sluice::plugins::testing::drain(s.sink, s.channel);
  CHECK(ep.received() == std::vector<std::string>{"event-0", "event-0"});
}

TEST_CASE("https with a CA file") {
  sluice::plugins::net::testing::TestPki pki;
  sluice::plugins::net::TlsOptions so;
  so.certificate = pki.serverPem;
  so.key = pki.serverKey;
  sluice::plugins::net::TlsError err;
  sluice::plugins::net::ListenerOptions lo;
  lo.tls = sluice::plugins::net::makeTlsContext(so, sluice::plugins::net::TlsRole::Server, &err);
  REQUIRE(lo.tls);
  Endpoint ep(lo);
  KV kv = delivering(ep.url("https", "localhost"));
  kv.emplace_back("ssl.ca", pki.caPem);
  Sink s(kv);
  s.channel.putBodies(0, 5);
  sluice::plugins::testing::drain(s.sink, s.channel);
  CHECK(ep.received().size() == 5);
  // Without the CA the server is not trusted: nothing is sent, nothing leaves the channel.
  Sink untrusting(delivering(ep.url("https", "localhost")));
  untrusting.channel.putBodies(0, 1);
  const sdk::ProcessOutcome o = sdk::HostAccess::process(untrusting.sink);
  CHECK(o.failed);
  CHECK(untrusting.channel.size() == 1);
  CHECK(ep.received().size() == 5);
}

TEST_CASE("start and stop are repeatable") {
  Endpoint ep;
  Sink s(delivering(ep.url()));
  for (int round = 0; round < 3; ++round) {
    s.channel.putBodies(round, round + 1);
    sluice::plugins::testing::drain(s.sink, s.channel);
    CHECK(sdk::HostAccess::stop(s.sink).ok());
    CHECK(sdk::HostAccess::stop(s.sink).ok());
    CHECK(sdk::HostAccess::start(s.sink).ok());
  }
  CHECK(ep.received() == std::vector<std::string>{"event-0", "event-1", "event-2"});
}
