// The http source on real sockets on 127.0.0.1, into an in-test ChannelProcessor that records what
// it accepts and can refuse like a full channel. Requests are written byte for byte by raw
// clients (and read back by a reader that does not use Beast); TLS through raw OpenSSL.
#include "http_source.hpp"

#include <doctest/doctest.h>

#include <string>

#include "host_context.hpp"
#include "http_test_support.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"
#include "source_test_support.hpp"

namespace sdk = sluice::sdk;
using namespace std::chrono_literals;
using sluice::plugins::http::testing::Answer;
using sluice::plugins::http::testing::AnswerReader;
using sluice::plugins::http_source::HttpSource;
using sluice::plugins::http_source::httpSourceSchema;
using sluice::plugins::net::testing::OpenSslClient;
using sluice::plugins::net::testing::RawClient;
using sluice::plugins::net::testing::TestPki;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::testing::RecordingProcessor;
using sluice::plugins::testing::waitFor;

namespace {

using KV = std::initializer_list<std::pair<const char*, std::string>>;

sdk::Context contextOf(KV kv) {
  sdk::Context ctx("a1.sources.r1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, httpSourceSchema(), ctx, "http");
}

struct Fixture {
  CaptureLogger log;
  RecordingProcessor processor;
  HttpSource source;

  explicit Fixture(KV extra = {}) {
    sdk::Context ctx = contextOf({{"bind", "127.0.0.1"}, {"port", "0"}});
    for (const auto& [k, v] : extra) ctx.put(k, v);
    sdk::HostAccess::attach(source, "r1", &log);
    ctx.setLogger(&log);
    sdk::HostAccess::setChannelProcessor(source, &processor);
    sdk::Result r = configure(source, ctx);
    REQUIRE_MESSAGE(r.ok(), r.error());
    r = sdk::HostAccess::start(source);
    REQUIRE_MESSAGE(r.ok(), r.error());
    REQUIRE(source.boundPort() != 0);
  }
  ~Fixture() { (void)sdk::HostAccess::stop(source); }
  int64_t counter(const char* name) {
    const auto v = source.sourceCounter().get(name);
    REQUIRE_MESSAGE(v.has_value(), name);
    return *v;
  }
};

std::string request(std::string_view method, std::string_view target, std::string_view body,
                    std::string_view contentType = "application/json") {
  std::string r = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n";
  if (!contentType.empty()) r += "Content-Type: " + std::string(contentType) + "\r\n";
  return r + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// One request on a new connection; its answer.
Answer exchange(uint16_t port, const std::string& req, bool head = false) {
  RawClient c(port);
  AnswerReader r(c.fd());
  REQUIRE(c.send(req));
  return r.read(15s, head);
}

std::string events(int from, int to) {
  std::string out = "[";
  for (int i = from; i < to; ++i) {
    if (i > from) out += ",";
    out += R"({"headers":{"n":")" + std::to_string(i) + R"("},"body":"event )" + std::to_string(i) +
           "\"}";
  }
  return out + "]";
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(httpSourceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config: Flume's keys and the sluice additions are accepted") {
  HttpSource src;
  const sdk::Result r =
      configure(src, contextOf({{"port", "5140"},
                                {"handler", "org.apache.flume.sink.solr.morphline.BlobHandler"},
                                {"handler.maxBlobLength", "1000"},
                                {"maxBodyBytes", "5000"},
                                {"requestTimeout", "1000"},
                                {"max-connections", "10"},
                                {"ServerConnector.idleTimeout", "5000"},
                                {"HttpConfiguration.requestHeaderSize", "4096"},
                                {"ssl", "false"},
                                {"enableSSL", "false"},
                                {"ipFilter", "false"}}));
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(src.handler().maxBodyBytes() == 1000);
  HttpSource dflt;
  REQUIRE(configure(dflt, contextOf({{"port", "5140"}})).ok());
  CHECK(dflt.handler().maxBodyBytes() == 0);  // JSONHandler, Flume's default
  for (const sdk::Key& k : httpSourceSchema().keys) {
    INFO(k.name);
    const bool familyOrAlias = k.name.find('*') != std::string::npos || k.name == "enableSSL" ||
                               k.name == "keystorePassword" || k.name == "excludeProtocols";
    CHECK((k.required || k.ignored || !k.defaultValue.empty() || familyOrAlias ||
           k.name.find("ssl.") == 0 || k.name.find("keystore") == 0 ||
           k.name.find("-protocols") != std::string::npos ||
           k.name.find("cipher") != std::string::npos || k.name == "ipFilterRules"));
  }
}

TEST_CASE("configure errors name the key") {
  auto errorOf = [](KV kv) {
    HttpSource src;
    const sdk::Result r = configure(src, contextOf(kv));
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  CHECK(errorOf({}).find("a1.sources.r1: missing required key 'port'") == 0);
  CHECK(errorOf({{"port", "65536"}}).find("a1.sources.r1.port:") == 0);
  CHECK(errorOf({{"port", "x"}}).find("a1.sources.r1.port:") == 0);
  CHECK(errorOf({{"port", "1"}, {"handler", "com.example.MyHandler"}})
            .find("a1.sources.r1.handler: unknown handler 'com.example.MyHandler'") == 0);
  CHECK(errorOf({{"port", "1"}, {"handler", "BlobHandler"}, {"handler.maxBlobLength", "0"}})
            .find("a1.sources.r1.handler.maxBlobLength: must be greater than zero") == 0);
  CHECK(errorOf({{"port", "1"}, {"maxBodyBytes", "big"}}).find("a1.sources.r1.maxBodyBytes:") == 0);
  CHECK(errorOf({{"port", "1"}, {"ssl", "true"}}).find("a1.sources.r1.") == 0);
  // Flume's older spellings name themselves in errors.
  CHECK(errorOf({{"port", "1"},
                 {"enableSSL", "true"},
                 {"keystore", "/nonexistent.p12"},
                 {"keystorePassword", "x"}})
            .find("a1.sources.r1.keystore") == 0);
}

TEST_CASE("a JSON array becomes one batch, put before the 200") {
  Fixture f;
  f.processor.onBatch = [&] { CHECK(f.counter("AppendBatchAcceptedCount") == 0); };
  const Answer a = exchange(f.source.boundPort(), request("POST", "/", events(0, 3)));
  CHECK(a.status == 200);
  CHECK(f.processor.snapshot() == std::vector<std::string>{"event 0", "event 1", "event 2"});
  CHECK(f.processor.headersOf(2) == sdk::Headers{{"n", "2"}});
  CHECK(f.processor.batchSizes() == std::vector<std::size_t>{3});
  CHECK(f.counter("EventReceivedCount") == 3);
  CHECK(f.counter("EventAcceptedCount") == 3);
  CHECK(f.counter("AppendBatchReceivedCount") == 1);
  CHECK(f.counter("AppendBatchAcceptedCount") == 1);
}

TEST_CASE("malformed JSON: 400 with the reason, nothing put") {
  Fixture f;
  const Answer a =
      exchange(f.source.boundPort(), request("POST", "/", R"([{"body": "x"}, {oops])"));
  CHECK(a.status == 400);
  CHECK(a.body.find("Bad request from client. invalid JSON") == 0);
  CHECK(f.processor.count() == 0);
  CHECK(f.processor.calls() == 0);
  CHECK(f.counter("EventReadFail") == 1);
  CHECK(f.counter("AppendBatchReceivedCount") == 0);
  const Answer cs = exchange(f.source.boundPort(),
                             request("POST", "/", "[]", "application/json; charset=latin1"));
  CHECK(cs.status == 500);
  CHECK(f.counter("EventReadFail") == 2);
}

TEST_CASE("a full channel: 503, nothing put; the client's retry is accepted") {
  Fixture f;
  f.processor.refuse = true;
  const std::string req = request("POST", "/", events(0, 5));
  const Answer a = exchange(f.source.boundPort(), req);
  CHECK(a.status == 503);
  CHECK(a.body.find("Channel might be full") != std::string::npos);
  CHECK(f.processor.count() == 0);
  CHECK(f.counter("ChannelWriteFail") == 1);
  CHECK(f.counter("EventAcceptedCount") == 0);
  f.processor.refuse = false;
  CHECK(exchange(f.source.boundPort(), req).status == 200);
  CHECK(f.processor.count() == 5);
}

TEST_CASE("a body over maxBodyBytes: 413 before it is read") {
  Fixture f({{"maxBodyBytes", "1000"}});
  RawClient c(f.source.boundPort());
  AnswerReader r(c.fd());
  REQUIRE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n"));
  CHECK(r.read().status == 413);
  CHECK(r.closed());
  CHECK(f.counter("RequestTooLargeCount") == 1);
  CHECK(f.processor.calls() == 0);
}

TEST_CASE("methods: GET and HEAD reach the handler as in Flume, TRACE and OPTIONS get 403") {
  Fixture f;
  CHECK(exchange(f.source.boundPort(), request("GET", "/", events(0, 1))).status == 200);
  CHECK(exchange(f.source.boundPort(), request("HEAD", "/", events(1, 2)), true).status == 200);
  CHECK(f.processor.snapshot() == std::vector<std::string>{"event 0", "event 1"});
  CHECK(exchange(f.source.boundPort(), request("TRACE", "/", "", "")).status == 403);
  CHECK(exchange(f.source.boundPort(), request("OPTIONS", "/", "", "")).status == 403);
  Answer put = exchange(f.source.boundPort(), request("PUT", "/", events(2, 3)));
  CHECK(put.status == 405);
  CHECK(put.headers["allow"] == "GET, HEAD, POST");
  CHECK(f.processor.count() == 2);
  CHECK(f.counter("RequestRefusedCount") == 3);
}

TEST_CASE("keep-alive: many requests on one connection, each one batch") {
  Fixture f;
  RawClient c(f.source.boundPort());
  AnswerReader r(c.fd());
  for (int i = 0; i < 200; ++i) {
    REQUIRE(c.send(request("POST", "/", events(i * 2, i * 2 + 2))));
    REQUIRE(r.read().status == 200);
  }
  CHECK(f.processor.count() == 400);
  CHECK(f.source.sourceCounter().get("AppendBatchAcceptedCount") == 200);
  CHECK(f.counter("OpenConnectionCount") == 1);
}

TEST_CASE("BlobHandler through the source: body and query parameters, truncation") {
  Fixture f({{"handler", "org.apache.flume.sink.solr.morphline.BlobHandler"},
             {"handler.maxBlobLength", "8"}});
  const Answer a = exchange(
      f.source.boundPort(),
      request("POST", "/?resourceName=x.bin&n=1", "0123456789abcdef", "application/octet-stream"));
  CHECK(a.status == 200);
  CHECK(f.processor.snapshot() == std::vector<std::string>{"01234567"});
  CHECK(f.processor.headersOf(0) == sdk::Headers{{"resourceName", "x.bin"},
                                                 {"n", "1"},
                                                 {"Content-Type", "application/octet-stream"}});
  CHECK(f.log.has("longer than maxBlobLength (8 bytes)"));
}

TEST_CASE("TLS with Flume's keys, old and new spellings") {
  TestPki pki;
  for (const bool old : {false, true}) {
    CAPTURE(old);
    Fixture f({{old ? "enableSSL" : "ssl", "true"},
               {"keystore", pki.serverP12},
               {old ? "keystorePassword" : "keystore-password", pki.password},
               {"keystore-type", "PKCS12"},
               {old ? "excludeProtocols" : "exclude-protocols", "SSLv3 TLSv1 TLSv1.1"}});
    CHECK(f.log.has("(TLS)"));
    OpenSslClient c(f.source.boundPort(), pki.caPem);
    REQUIRE_MESSAGE(c.handshakeOk(), c.error());
    const std::string body = events(0, 2);
    REQUIRE(c.write(request("POST", "/", body)));
    const std::string answer = c.readLines(1);
    CHECK(answer.compare(0, 15, "HTTP/1.1 200 OK") == 0);
    CHECK(waitFor([&] { return f.processor.count() == 2; }));
    // Plain HTTP to the TLS port gets no answer and no events.
    RawClient plain(f.source.boundPort());
    AnswerReader r(plain.fd());
    REQUIRE(plain.send(request("POST", "/", body)));
    CHECK(r.read(3s).status == 0);
    CHECK(f.processor.count() == 2);
  }
}

TEST_CASE("a slow client gets 408 and is counted; others keep flowing") {
  Fixture f({{"requestTimeout", "300"}});
  RawClient slow(f.source.boundPort());
  AnswerReader rs(slow.fd());
  REQUIRE(slow.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n[{\"bo"));
  CHECK(exchange(f.source.boundPort(), request("POST", "/", events(0, 1))).status == 200);
  CHECK(rs.read(5s).status == 408);
  CHECK(rs.closed());
  CHECK(f.counter("RequestTimedOutCount") == 1);
  CHECK(f.processor.count() == 1);
}

TEST_CASE("bind failure: start() fails naming the address") {
  Fixture first;
  HttpSource second;
  RecordingProcessor p;
  sdk::HostAccess::setChannelProcessor(second, &p);
  REQUIRE(configure(second, contextOf({{"bind", "127.0.0.1"},
                                       {"port", std::to_string(first.source.boundPort())}}))
              .ok());
  const sdk::Result r = sdk::HostAccess::start(second);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("127.0.0.1:" + std::to_string(first.source.boundPort())) !=
        std::string::npos);
}

TEST_CASE("start and stop are repeatable") {
  RecordingProcessor processor;
  HttpSource src;
  sdk::HostAccess::setChannelProcessor(src, &processor);
  REQUIRE(configure(src, contextOf({{"bind", "127.0.0.1"}, {"port", "0"}})).ok());
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    REQUIRE(sdk::HostAccess::start(src).ok());
    CHECK(sdk::HostAccess::start(src).ok());
    CHECK(exchange(src.boundPort(), request("POST", "/", events(round, round + 1))).status == 200);
    CHECK(sdk::HostAccess::stop(src).ok());
    CHECK(sdk::HostAccess::stop(src).ok());
    CHECK(src.boundPort() == 0);
  }
  CHECK(processor.snapshot() == std::vector<std::string>{"event 0", "event 1", "event 2"});
}
