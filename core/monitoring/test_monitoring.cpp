// Unit tests of the monitoring pieces that need no agent: the HTTP request parser, the value
// formats Flume's JSON uses, secret masking, and the renderers over made-up snapshots.
#include <doctest/doctest.h>

#include <string>

#include "core/monitoring/http_request.hpp"
#include "core/monitoring/monitor.hpp"
#include "core/monitoring/render.hpp"

using namespace sluice::core::monitoring;
using State = ParseResult::State;

TEST_CASE("http request parser: complete, incomplete, keep-alive, pipelining") {
  HttpRequest r;
  std::string two =
      "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept:  text/plain \r\n\r\nGET / HTTP/1.1\r\n\r\n";
  ParseResult p = parseRequest(two, {}, r);
  REQUIRE(p.state == State::Complete);
  CHECK(r.method == "GET");
  CHECK(r.path == "/metrics");
  CHECK(r.query == "x=1");
  CHECK(r.header("accept") == "text/plain");
  CHECK(r.keepAlive);
  CHECK(two.substr(p.consumed) == "GET / HTTP/1.1\r\n\r\n");
  CHECK(parseRequest("GET / HTTP/1.1\r\nHost: a\r\n", {}, r).state == State::Incomplete);
  CHECK(parseRequest("", {}, r).state == State::Incomplete);
  REQUIRE(parseRequest("GET / HTTP/1.0\n\n", {}, r).state == State::Complete);
  CHECK_FALSE(r.keepAlive);
  REQUIRE(parseRequest("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", {}, r).state ==
          State::Complete);
  CHECK_FALSE(r.keepAlive);
}

TEST_CASE("http request parser: errors carry the status to answer") {
  HttpRequest r;
  ParseLimits small;
  small.maxHeaderBytes = 64;
  CHECK(parseRequest("GET / HTTP/1.1\r\nX: " + std::string(100, 'a'), small, r).status == 431);
  CHECK(
      parseRequest("GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n", small, r).status ==
      431);
  CHECK(parseRequest("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", {}, r).status == 414);
  CHECK(parseRequest("GET  / HTTP/1.1\r\n\r\n", {}, r).status == 400);
  CHECK(parseRequest("GET http://x/ HTTP/1.1\r\n\r\n", {}, r).status == 400);
  CHECK(parseRequest("GET / HTTP/2.0\r\n\r\n", {}, r).status == 505);
  CHECK(parseRequest("GET / HTTP/1.1\r\n x: y\r\n\r\n", {}, r).status == 400);
  CHECK(parseRequest("GET / HTTP/1.1\r\nBad Name: y\r\n\r\n", {}, r).status == 400);
  CHECK(parseRequest("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", {}, r).status == 501);
  CHECK(parseRequest("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", {}, r).status == 400);
  ParseResult body = parseRequest("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET", {}, r);
  REQUIRE(body.state == State::Complete);
  CHECK(body.consumed == std::string("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").size());
  CHECK_FALSE(r.keepAlive);
}

TEST_CASE("Java double formatting, as Flume's ChannelFillPercentage") {
  CHECK(javaDouble(0.0) == "0.0");
  CHECK(javaDouble(100.0) == "100.0");
  CHECK(javaDouble(12.5) == "12.5");
  CHECK(javaDouble(1.0 / 3 * 100) == "33.33333333333333");
  CHECK(javaDouble(0.0001) == "1.0E-4");
  CHECK(javaDouble(0.001) == "0.001");
  CHECK(javaDouble(1.5e7) == "1.5E7");
}

TEST_CASE("secret keys are recognised by their last segment") {
  CHECK(isSecretKey("a1.sinks.k1.password"));
  CHECK(isSecretKey("a1.sinks.k1.ssl.keystorePassword"));
  CHECK(isSecretKey("a1.sinks.k1.kafka.producer.sasl.TOKEN"));
  CHECK(isSecretKey("a1.sources.r1.apiKey"));
  CHECK(isSecretKey("a1.sinks.k1.clientSecret"));
  CHECK_FALSE(isSecretKey("a1.sinks.k1.keyHeader"));
  CHECK_FALSE(isSecretKey("a1.channels.c1.capacity"));
  CHECK(snakeCase("EventReceivedCount") == "event_received_count");
  CHECK(snakeCase("HDFSWriteFail") == "hdfs_write_fail");
}

namespace {
Snapshot sample() {
  Snapshot s;
  s.agent = "a1";
  s.available = s.running = true;
  ComponentSnapshot ch;
  ch.kind = ch.counterType = "CHANNEL";
  ch.name = "c1";
  ch.type = "memory";
  ch.state = "START";
  ch.hasCounters = true;
  ch.counters = {{"ChannelSize", 95}, {"ChannelCapacity", 100}, {"EventPutSuccessCount", 7}};
  s.components.push_back(ch);
  SinkRunnerSnapshot r;
  r.name = "k1";
  r.processor = "default";
  r.started = true;
  r.latency.boundsSeconds = {0.001, 0.01};
  r.latency.buckets = {3, 1, 1};
  r.latency.sumSeconds = 0.5;
  s.runners.push_back(r);
  s.config = {{"a1.sinks.k1.password", "hunter2"}, {"a1.channels.c1.capacity", "100"}};
  return s;
}
}  // namespace

TEST_CASE("renderers: Flume JSON, Prometheus, readiness, masked config") {
  Snapshot s = sample();
  std::string j = renderFlumeJson(s);
  CHECK(j.find("\"CHANNEL.c1\": {\"Type\": \"CHANNEL\", \"StartTime\": \"0\"") !=
        std::string::npos);
  CHECK(j.find("\"ChannelFillPercentage\": \"95.0\"") != std::string::npos);
  std::string p = renderPrometheus(s, {}, {}, 1.0, "0.1.0");
  CHECK(p.find("# TYPE flume_channel_event_put_success_total counter") != std::string::npos);
  CHECK(p.find("flume_channel_size{agent=\"a1\",component=\"c1\",type=\"memory\"} 95") !=
        std::string::npos);
  CHECK(p.find("flume_sink_batch_duration_seconds_bucket{agent=\"a1\",component=\"k1\",processor="
               "\"default\",le=\"+Inf\"} 5") != std::string::npos);
  ReadyOptions o;
  CHECK_FALSE(evaluateReady(s, o, 0).ready);
  o.maxChannelFillPercent = 95;
  CHECK(evaluateReady(s, o, 0).ready);
  s.runners[0].failingSinceMs = 1000;
  o.maxSinkFailingMs = 500;
  CHECK_FALSE(evaluateReady(s, o, 2000).ready);
  CHECK(evaluateReady(s, o, 1200).ready);
  std::string c = renderConfig(s, {{"monitoring.bind", "127.0.0.1"}});
  CHECK(c.find("hunter2") == std::string::npos);
  CHECK(c.find("\"a1.sinks.k1.password\": \"******\"") != std::string::npos);
}

TEST_CASE("router: methods, unknown paths, embedded page") {
  Monitor m({}, nullptr, {}, {}, "0.1.0", nullptr);
  HttpRequest r;
  r.method = "POST";
  r.path = "/metrics";
  CHECK(m.handle(r).status == 405);
  r.method = "GET";
  r.path = "/nope";
  CHECK(m.handle(r).status == 404);
  r.path = "/";
  HttpResponse page = m.handle(r);
  CHECK(page.status == 200);
  CHECK(page.body.find("pipeline-graph") != std::string::npos);
  r.path = "/ready";
  CHECK(m.handle(r).status == 503);  // no agent to read
}
