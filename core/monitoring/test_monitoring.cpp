// Unit tests of the monitoring pieces that need no agent: the HTTP server on real sockets (the
// requests its old hand-written parser was tested with, now through plugins/common/http), the
// value formats Flume's JSON uses, secret masking, and the renderers over made-up snapshots.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/monitoring/ganglia.hpp"
#include "core/monitoring/monitor.hpp"
#include "core/monitoring/render.hpp"
#include "core/monitoring/statsd.hpp"
#include "http_test_support.hpp"

using namespace sluice::core::monitoring;
using sluice::plugins::http::testing::Answer;
using sluice::plugins::http::testing::AnswerReader;

namespace {

using Json = nlohmann::ordered_json;

// One group of Flume's /metrics document as (attribute, value) pairs, in document order.
std::vector<std::pair<std::string, std::string>> flumeGroup(const std::string& document,
                                                            const std::string& key) {
  std::vector<std::pair<std::string, std::string>> out;
  const Json parsed = Json::parse(document);  // outlives the loop over its items
  for (const auto& [name, value] : parsed.at(key).items())
    out.emplace_back(name, value.get<std::string>());
  return out;
}

// The HTTP layer's raw test client: exact bytes out, answers parsed by hand (not by Beast, which
// the server uses).
struct Client {
  explicit Client(int port) : raw(static_cast<uint16_t>(port)), reader(raw.fd()) {
    REQUIRE(raw.connected());
  }
  void send(std::string_view bytes) { REQUIRE(raw.send(bytes)); }
  Answer answer() { return reader.read(std::chrono::milliseconds(5000)); }
  bool closed() { return reader.closed(std::chrono::milliseconds(5000)); }

  sluice::plugins::net::testing::RawClient raw;
  AnswerReader reader;
};

// A monitor serving HTTP on 127.0.0.1, any port, without an agent behind it.
struct ServedMonitor {
  explicit ServedMonitor(MonitorOptions o = {})
      : monitor(withLocalPort(std::move(o)), nullptr, {}, {}, "0.1.0",
                std::make_shared<spdlog::logger>("monitoring-test")) {
    const auto r = monitor.start();
    REQUIRE_MESSAGE(r.ok(), r.error());
  }
  static MonitorOptions withLocalPort(MonitorOptions o) {
    o.server.bind = "127.0.0.1";
    o.server.port = 0;
    return o;
  }
  int port() const { return monitor.port(); }
  Monitor monitor;
};

bool has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("http server: complete, incomplete, keep-alive, pipelining") {
  ServedMonitor m;
  {
    Client c(m.port());
    // Two requests in one send: answered in order on the kept-alive connection; the query is
    // split from the path and the Accept header read (text/plain: the Prometheus format).
    c.send(
        "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept:  text/plain \r\n\r\n"
        "GET / HTTP/1.1\r\n\r\n");
    Answer first = c.answer();
    const Answer second = c.answer();
    CHECK(first.status == 200);
    CHECK(first.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(has(first.body, "sluice_monitoring_requests_total"));
    CHECK(first.headers["connection"] == "keep-alive");
    CHECK(first.headers["cache-control"] == "no-store");
    CHECK(first.headers["x-content-type-options"] == "nosniff");
    CHECK(second.status == 200);
    CHECK(has(second.body, "pipeline-graph"));
    // An incomplete request is held until its end arrives.
    c.send("GET /health HTTP/1.1\r\nHost: a\r\n");
    c.send("\r\n");
    CHECK(c.answer().status == 200);
  }
  {
    Client c(m.port());
    c.send("GET /health HTTP/1.0\r\n\r\n");  // HTTP/1.0 without keep-alive: one request
    CHECK(c.answer().status == 200);
    CHECK(c.closed());
  }
  {
    Client c(m.port());
    c.send("GET /health HTTP/1.1\r\nConnection: Close\r\n\r\n");
    CHECK(c.answer().status == 200);
    CHECK(c.closed());
  }
}

TEST_CASE("http server: errors carry the status to answer, then close") {
  MonitorOptions o;
  o.server.limits.maxHeaderBytes = 64;
  ServedMonitor small(o);
  ServedMonitor m;
  auto one = [](const ServedMonitor& s, const std::string& bytes, bool closes = true) {
    Client c(s.port());
    c.send(bytes);
    const int status = c.answer().status;
    if (closes) CHECK_MESSAGE(c.closed(), bytes.substr(0, 40));
    return status;
  };
  CHECK(one(small, "GET / HTTP/1.1\r\nX: " + std::string(100, 'a')) == 431);
  CHECK(one(small, "GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n") == 431);
  CHECK(one(m, "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n") == 414);
  CHECK(one(m, "GET  / HTTP/1.1\r\n\r\n") == 400);
  CHECK(one(m, "GET / HTTP/2.0\r\n\r\n") == 505);
  CHECK(one(m, "GET / HTTP/1.1\r\nBad Name: y\r\n\r\n") == 400);
  CHECK(one(m, "GET / HTTP/1.1\r\n x: y\r\n\r\n") == 400);
  CHECK(one(m, "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n") == 400);
  CHECK(one(m, "GARBAGE\r\n\r\n") == 400);
  // Differences the move to Beast brought (plugins/common/http/README.md): a target in absolute
  // form is served (RFC 9112 3.2.2), and a chunked body is read and dropped instead of a 501.
  CHECK(one(m, "GET http://x/health HTTP/1.1\r\nConnection: close\r\n\r\n") == 200);
  // Bare LF line ends, which the old parser took, are refused (RFC 9112 2.2 allows either).
  CHECK(one(m, "GET / HTTP/1.0\n\n") == 400);
  const std::string chunked =
      "GET /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n";
  CHECK(one(m, chunked) == 200);
  // Only GET and HEAD: other methods get 405 from their head, and a body is never read.
  {
    Client c(m.port());
    c.send("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    const auto a = c.answer();
    CHECK(a.status == 405);
    CHECK(a.headers.at("allow") == "GET, HEAD");
    CHECK(c.closed());
  }
  // A body larger than maxHeaderBytes: 413 before it is read.
  CHECK(one(small, "GET / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n") == 413);
}

TEST_CASE("http server: 408 on a request that does not complete, 503 over maxConnections") {
  MonitorOptions o;
  o.server.requestTimeout = std::chrono::milliseconds(300);
  o.server.maxConnections = 1;
  ServedMonitor m(o);
  {
    Client slow(m.port());
    slow.send("GET /metrics HTTP/1.1\r\nHost: a\r\n");
    // The slow client holds the only connection: the next one is refused with the 503.
    {
      Client over(m.port());
      const auto a = over.answer();
      CHECK(a.status == 503);
      CHECK(a.body == "too many monitoring connections\n");
      CHECK(over.closed());
    }
    const auto a = slow.answer();
    CHECK(a.status == 408);
    CHECK(slow.closed());
  }
  // Counted where Prometheus shows them, once the slow connection is gone.
  std::string exposition;
  for (int i = 0; i < 100 && exposition.empty(); ++i) {
    Client c(m.port());
    c.send("GET /metrics/prometheus HTTP/1.1\r\n\r\n");
    if (const Answer a = c.answer(); a.status == 200) exposition = a.body;
  }
  auto sample = [&](std::string_view name) {
    const std::size_t at = exposition.find("\n" + std::string(name) + " ");
    return at == std::string::npos ? -1 : std::stol(exposition.substr(at + name.size() + 2));
  };
  // At least: a retry above may have met the limit again while the slow connection closed.
  CHECK(sample("sluice_monitoring_connections_refused_total") >= 1);
  CHECK(sample("sluice_monitoring_timeouts_total") == 1);
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
  CHECK_FALSE(isSecretKey("a1.sources.r1.fileHeaderKey"));
  // `key` on an interceptor names the header it sets (static interceptor): not a secret...
  CHECK_FALSE(isSecretKey("a1.sources.r1.interceptors.i1.key"));
  CHECK_FALSE(isSecretKey("a1.sources.r1.interceptors.i1.value"));
  // ...anywhere else a bare `key` is a credential, as are *Key, passphrases and credentials.
  CHECK(isSecretKey("a1.sinks.k1.ssl.key"));
  CHECK(isSecretKey("a1.sinks.k1.key"));
  CHECK(isSecretKey("key"));
  CHECK(isSecretKey("a1.sinks.k1.s3.accessKey"));
  CHECK(isSecretKey("a1.sinks.k1.ssl.key.password"));
  CHECK(isSecretKey("a1.sinks.k1.ssl.truststore.password"));
  CHECK(isSecretKey("a1.sinks.k1.ssl.keyPassphrase"));
  CHECK(isSecretKey("a1.sinks.k1.gcs.credentials"));
  CHECK(isSecretKey("a1.sources.r1.interceptors.i1.apiKey"));
  CHECK(snakeCase("EventReceivedCount") == "event_received_count");
  CHECK(snakeCase("HDFSWriteFail") == "hdfs_write_fail");
}

namespace {
ComponentSnapshot component(const std::string& kind, const std::string& name,
                            const std::string& type,
                            std::vector<std::pair<std::string, int64_t>> counters) {
  ComponentSnapshot c;
  c.kind = c.counterType = kind;
  c.name = name;
  c.type = type;
  c.state = "START";
  c.hasCounters = !counters.empty();
  c.counters = std::move(counters);
  return c;
}

Snapshot sample() {
  Snapshot s;
  s.agent = "a1";
  s.available = s.running = true;
  s.components.push_back(component(
      "CHANNEL", "c1", "memory",
      {{"ChannelSize", 95}, {"ChannelCapacity", 100}, {"EventPutSuccessCount", 7}}));
  s.components.push_back(component("SINK", "k1", "null", {{"EventDrainSuccessCount", 5}}));
  SinkRunnerSnapshot r;
  r.name = "k1";
  r.processor = "default";
  r.started = true;
  LatencySnapshot l;
  l.boundsSeconds = {0.001, 0.01};
  l.buckets = {3, 1, 1};
  l.sumSeconds = 0.5;
  r.latency.emplace_back("k1", l);
  s.runners.push_back(r);
  s.config = {{"a1.sinks.k1.password", "hunter2"}, {"a1.channels.c1.capacity", "100"}};
  return s;
}
}  // namespace

// Flume's FileChannelCounter: isOpen() is a boolean (JMX shows "true"), getClosed() and
// getUnhealthy() are 0/1; all three are states, so gauges in Prometheus and StatsD.
TEST_CASE("a file channel's Open, Closed and Unhealthy: Flume's types, gauges") {
  Snapshot s;
  s.agent = "a1";
  s.available = s.running = true;
  s.components.push_back(component("CHANNEL", "c1", "file",
                                   {{"ChannelSize", 0}, {"ChannelCapacity", 100}, {"Open", 1},
                                    {"Closed", 0}, {"Unhealthy", 0}}));
  Json j = Json::parse(renderFlumeJson(s));
  CHECK(j["CHANNEL.c1"]["Open"] == "true");
  CHECK(j["CHANNEL.c1"]["Closed"] == "0");
  CHECK(j["CHANNEL.c1"]["Unhealthy"] == "0");
  const std::string p = renderPrometheus(s, {}, {}, 1.0, "0.1.0");
  for (const char* name : {"open", "closed", "unhealthy"}) {
    CHECK_MESSAGE(p.find("# TYPE flume_channel_" + std::string(name) + " gauge") !=
                      std::string::npos,
                  name);
    CHECK(p.find("flume_channel_" + std::string(name) + "_total") == std::string::npos);
  }
  std::map<std::string, int64_t> last;
  auto lines = renderStatsd(s, "p", last);
  auto has = [&](const std::string& l) {
    return std::find(lines.begin(), lines.end(), l) != lines.end();
  };
  CHECK(has("p.a1.channel.c1.Open:1|g"));
  s.components[0].counters[2].second = 0;  // closed: the gauge falls back to 0
  s.components[0].counters[3].second = 1;
  lines = renderStatsd(s, "p", last);
  CHECK(has("p.a1.channel.c1.Open:0|g"));
  CHECK(has("p.a1.channel.c1.Closed:1|g"));
  CHECK(Json::parse(renderFlumeJson(s))["CHANNEL.c1"]["Open"] == "false");
}

TEST_CASE("renderers: Flume JSON, Prometheus, readiness, masked config") {
  Snapshot s = sample();
  const auto c1 = flumeGroup(renderFlumeJson(s), "CHANNEL.c1");
  REQUIRE(c1.size() >= 2);
  CHECK(c1[0] == std::pair<std::string, std::string>("Type", "CHANNEL"));
  CHECK(c1[1] == std::pair<std::string, std::string>("StartTime", "0"));
  CHECK(Json::parse(renderFlumeJson(s))["CHANNEL.c1"]["ChannelFillPercentage"] == "95.0");
  std::string p = renderPrometheus(s, {}, {}, 1.0, "0.1.0");
  CHECK(p.find("# TYPE flume_channel_event_put_success_total counter") != std::string::npos);
  CHECK(p.find("flume_channel_size{agent=\"a1\",component=\"c1\",type=\"memory\"} 95") !=
        std::string::npos);
  CHECK(p.find("flume_sink_batch_duration_seconds_bucket{agent=\"a1\",component=\"k1\",type="
               "\"null\",processor=\"default\",le=\"+Inf\"} 5") != std::string::npos);
  CHECK(p.find("flume_sink_runner_failures_total{agent=\"a1\",component=\"k1\",type=\"null\","
               "processor=\"default\"} 0") != std::string::npos);
  ReadyOptions o;
  CHECK_FALSE(evaluateReady(s, o, 0).ready);
  o.maxChannelFillPercent = 95;
  CHECK(evaluateReady(s, o, 0).ready);
  s.runners[0].failingSinceMs = 1000;
  o.maxSinkFailingMs = 500;
  CHECK_FALSE(evaluateReady(s, o, 2000).ready);
  CHECK(evaluateReady(s, o, 1200).ready);
  // A component that is not started (a sink whose start() failed, say), or a runner that is
  // not, makes the agent not ready, naming it.
  s.components.back().state = "ERROR";
  ReadyResult notStarted = evaluateReady(s, o, 1200);
  CHECK_FALSE(notStarted.ready);
  CHECK(renderReady(notStarted).find("SINK.k1: lifecycle ERROR") != std::string::npos);
  s.components.back().state = "START";
  s.runners[0].started = false;
  notStarted = evaluateReady(s, o, 1200);
  CHECK_FALSE(notStarted.ready);
  CHECK(renderReady(notStarted).find("sink runner not started") != std::string::npos);
  s.runners[0].started = true;
  CHECK(evaluateReady(s, o, 1200).ready);
  std::string c = renderConfig(s, {{"monitoring.bind", "127.0.0.1"}});
  CHECK(c.find("hunter2") == std::string::npos);
  CHECK(c.find("\"a1.sinks.k1.password\": \"******\"") != std::string::npos);

  // URL passwords go whatever the key; a value a schema declares secret goes too.
  s.config.emplace_back("a1.sinks.k1.hdfs.path", "hdfs://user:pw5ecret@nn:8020/flume/%Y");
  s.config.emplace_back("a1.sinks.k1.auth", "s3cr3tvalue");
  c = renderConfig(s, {{"store", "ftp://bob:b0bpw@host/x"}}, {"s3cr3tvalue"});
  CHECK(c.find("pw5ecret") == std::string::npos);
  CHECK(c.find("b0bpw") == std::string::npos);
  CHECK(c.find("s3cr3tvalue") == std::string::npos);
  CHECK(c.find("\"a1.sinks.k1.hdfs.path\": \"hdfs://user:******@nn:8020/flume/%Y\"") !=
        std::string::npos);
  CHECK(c.find("\"store\": \"ftp://bob:******@host/x\"") != std::string::npos);
  CHECK(c.find("\"a1.sinks.k1.auth\": \"******\"") != std::string::npos);
}

TEST_CASE("secrets are masked in free text: configured values and URL passwords") {
  const std::vector<std::string> secrets{"hunter2", "ab"};
  CHECK(maskSecrets("login with hunter2 failed; hunter2!", secrets) ==
        "login with ****** failed; ******!");
  CHECK(maskSecrets("short ab stays (too short to be told from text)", secrets) ==
        "short ab stays (too short to be told from text)");
  CHECK(maskSecrets("cannot reach http://bob:pa55@db:5432/x: refused", {}) ==
        "cannot reach http://bob:******@db:5432/x: refused");
  CHECK(maskSecrets("http://db:5432/x and mailto user@host", {}) ==
        "http://db:5432/x and mailto user@host");
  Snapshot s = sample();
  s.logs.records.push_back({1, "error", "sink:jdbc:k1", "auth failed for password hunter2"});
  s.runners[0].lastError = "auth failed (hunter2) and token t0k3n";
  maskSnapshotSecrets(s, {{"db.token", "t0k3n"}});
  CHECK(s.logs.records[0].message == "auth failed for password ******");
  CHECK(s.runners[0].lastError == "auth failed (******) and token ******");

  // Nothing to mask: reported as such, so that the log sink passes the message on uncopied.
  std::string out = "untouched";
  CHECK_FALSE(maskSecretsInto("a plain message, http://host/x", {"hunter2"}, out));
  CHECK(out == "untouched");
  CHECK(maskSecretsInto("two urls a://u:p1@h and b://v:p2@h", {}, out));
  CHECK(out == "two urls a://u:******@h and b://v:******@h");

  // The registry keeps the longest first, so a secret containing another is masked whole.
  sluice::core::SecretRegistry reg;
  reg.add({"abc", "abcdef", ""});
  reg.add({"abc"});
  CHECK(*reg.values() == std::vector<std::string>{"abcdef", "abc"});
  CHECK(reg.mask("x abcdef y abc") == "x ****** y ******");
}

TEST_CASE("status JSON: recent log records newest first, processor and interceptor counters") {
  Snapshot s = sample();
  s.logCapacity = 100;
  s.logs.total = 7;
  s.logs.dropped = 5;
  s.logs.records.push_back({1000, "warning", "sinkgroup:failover:g1", "older"});
  s.logs.records.push_back({2000, "error", "sink:file_roll:k1", "newer <b>"});
  ComponentSnapshot src = component("SOURCE", "r1", "seq", {});
  src.interceptors = {{"i1", "regex_filter"}};
  s.components.push_back(src);
  s.components.push_back(
      component("INTERCEPTOR", "r1.i1", "regex_filter",
                {{"EventReceivedCount", 10}, {"EventAcceptedCount", 9}, {"EventDroppedCount", 1}}));
  ComponentSnapshot sp = component("SINK_PROCESSOR", "g1", "failover",
                                   {{"SinkFailureCount", 2}, {"FailoverCount", 1}, {"SinksInBackoff", 1}});
  sp.state = "STOP";  // not a readiness check of its own: the runner's is
  sp.attributes = {{"ActiveSink", "k2"}};
  s.components.push_back(sp);

  ReadyOptions o;
  o.maxChannelFillPercent = 99;
  ReadyResult rr = evaluateReady(s, o, 0);
  CHECK(rr.ready);
  std::string st = renderStatus(s, {}, rr, 1.0, "0.1.0");
  // The page embeds the document: '<' is escaped, and the text reads the same once parsed.
  CHECK(st.find('<') == std::string::npos);
  CHECK(st.find("newer \\u003cb>") != std::string::npos);
  const Json status = Json::parse(st);
  const Json& log = status.at("log");
  CHECK(log["capacity"] == 100);
  CHECK(log["total"] == 7);
  CHECK(log["dropped"] == 5);
  const Json& records = log.at("records");
  REQUIRE(!records.empty());
  CHECK(records[0]["timeMs"] == 2000);
  CHECK(records[0]["level"] == "error");
  CHECK(records[0]["logger"] == "sink:file_roll:k1");
  std::size_t newer = records.size(), older = records.size();
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (records[i]["message"] == "newer <b>") newer = i;
    if (records[i]["message"] == "older") older = i;
  }
  REQUIRE(newer < records.size());
  REQUIRE(older < records.size());
  CHECK(newer < older);
  const Json& source = status.at("sources").at(0);
  REQUIRE(source.at("interceptors").size() == 1);
  CHECK(source["interceptors"][0] == Json{{"name", "i1"}, {"type", "regex_filter"},
                                          {"key", "INTERCEPTOR.r1.i1"}, {"received", 10},
                                          {"accepted", 9}, {"dropped", 1}});

  using Attributes = std::vector<std::pair<std::string, std::string>>;
  const std::string j = renderFlumeJson(s);
  CHECK(flumeGroup(j, "INTERCEPTOR.r1.i1") == Attributes{{"Type", "INTERCEPTOR"},
                                                        {"StartTime", "0"},
                                                        {"StopTime", "0"},
                                                        {"EventReceivedCount", "10"},
                                                        {"EventAcceptedCount", "9"},
                                                        {"EventDroppedCount", "1"}});
  CHECK(flumeGroup(j, "SINK_PROCESSOR.g1") == Attributes{{"Type", "SINK_PROCESSOR"},
                                                        {"StartTime", "0"},
                                                        {"StopTime", "0"},
                                                        {"SinkFailureCount", "2"},
                                                        {"FailoverCount", "1"},
                                                        {"SinksInBackoff", "1"},
                                                        {"ActiveSink", "k2"}});
  std::string p = renderPrometheus(s, {}, {}, 1.0, "0.1.0");
  CHECK(p.find("flume_interceptor_event_dropped_total{agent=\"a1\",component=\"r1.i1\","
               "type=\"regex_filter\"} 1\n") != std::string::npos);
  CHECK(p.find("flume_sink_processor_failover_total{agent=\"a1\",component=\"g1\","
               "type=\"failover\"} 1\n") != std::string::npos);
  CHECK(p.find("# TYPE flume_sink_processor_sinks_in_backoff gauge") != std::string::npos);
  CHECK(p.find("flume_sink_processor_active_sink_info{agent=\"a1\",component=\"g1\","
               "type=\"failover\",active_sink=\"k2\"} 1\n") != std::string::npos);
}

TEST_CASE("Prometheus: one latency histogram per sink of a group") {
  Snapshot s = sample();
  SinkRunnerSnapshot g;
  g.name = "g1";
  g.group = true;
  g.processor = "load_balance";
  s.components.push_back(component("SINK", "k2", "file_roll", {}));
  s.components.push_back(component("SINK", "k3", "hdfs", {}));
  LatencySnapshot a, b;
  a.boundsSeconds = b.boundsSeconds = {0.001};
  a.buckets = {2, 1};
  b.buckets = {4, 0};
  g.latency = {{"k2", a}, {"k3", b}};
  s.runners.push_back(g);
  std::string p = renderPrometheus(s, {}, {}, 1.0, "0.1.0");
  CHECK(p.find("flume_sink_batch_duration_seconds_count{agent=\"a1\",component=\"k2\",type="
               "\"file_roll\",group=\"g1\",processor=\"load_balance\"} 3\n") != std::string::npos);
  CHECK(p.find("flume_sink_batch_duration_seconds_count{agent=\"a1\",component=\"k3\",type="
               "\"hdfs\",group=\"g1\",processor=\"load_balance\"} 4\n") != std::string::npos);
  CHECK(p.find("flume_sink_runner_failing_seconds{agent=\"a1\",component=\"g1\",type="
               "\"load_balance\",processor=\"load_balance\"} 0") != std::string::npos);
  CHECK(p.find("flume_sink_batch_duration_seconds_count{agent=\"a1\",component=\"g1\"") ==
        std::string::npos);
}

TEST_CASE("StatsD: options, counters as increments, gauges, packing") {
  StatsdOptions o;
  std::string err;
  CHECK(isStatsdKey("monitoring.statsd.port"));
  CHECK_FALSE(isStatsdKey("monitoring.statsd.portt"));
  CHECK_FALSE(isStatsdKey("monitoring.port"));
  REQUIRE(parseStatsdOptions({{"monitoring.port", "1"}}, o, err));
  CHECK_FALSE(o.enabled);
  REQUIRE(parseStatsdOptions({{"monitoring.statsd.port", "9125"},
                              {"monitoring.statsd.intervalMs", "250"},
                              {"monitoring.statsd.prefix", "dc1.flume"}},
                             o, err));
  CHECK(o.enabled);
  CHECK(o.port == 9125);
  CHECK(o.host == "127.0.0.1");
  CHECK(o.interval.count() == 250);
  CHECK_FALSE(parseStatsdOptions({{"monitoring.statsd.port", "0"}}, o, err));
  CHECK(err == "monitoring.statsd.port: expected an integer between 1 and 65535, got '0'");
  CHECK_FALSE(parseStatsdOptions({{"monitoring.statsd.intervalMs", "5s"}}, o, err));
  CHECK(err.find("monitoring.statsd.intervalMs") == 0);

  Snapshot s = sample();
  std::map<std::string, int64_t> last;
  auto lines = renderStatsd(s, "dc1.flume", last);
  auto has = [&](const std::string& l) {
    return std::find(lines.begin(), lines.end(), l) != lines.end();
  };
  CHECK(has("dc1.flume.a1.channel.c1.ChannelSize:95|g"));
  CHECK(has("dc1.flume.a1.channel.c1.ChannelCapacity:100|g"));
  CHECK(has("dc1.flume.a1.channel.c1.EventPutSuccessCount:7|c"));
  CHECK(has("dc1.flume.a1.channel.c1.ChannelFillPercentage:95|g"));
  s.components[0].counters[2].second = 10;
  lines = renderStatsd(s, "dc1.flume", last);
  CHECK(has("dc1.flume.a1.channel.c1.EventPutSuccessCount:3|c"));
  lines = renderStatsd(s, "dc1.flume", last);
  CHECK_FALSE(has("dc1.flume.a1.channel.c1.EventPutSuccessCount:0|c"));  // unchanged: left out
  CHECK(has("dc1.flume.a1.channel.c1.ChannelSize:95|g"));                 // gauges always go
  s.components[0].counters[2].second = 2;  // a reload replaced the channel: counts restart
  lines = renderStatsd(s, "dc1.flume", last);
  CHECK(has("dc1.flume.a1.channel.c1.EventPutSuccessCount:2|c"));
  s.components[0].name = "c:1|x@y";  // StatsD's separators never leak into a name
  lines = renderStatsd(s, "", last);
  CHECK(has("a1.channel.c_1_x_y.ChannelSize:95|g"));

  auto packets = packStatsd({"aaaa", "bbbb", "cccc", std::string(20, 'd')}, 10);
  REQUIRE(packets.size() == 3);
  CHECK(packets[0] == "aaaa\nbbbb");
  CHECK(packets[1] == "cccc");
  CHECK(packets[2] == std::string(20, 'd'));
}

TEST_CASE("Ganglia: switches, Java's float test, XDR messages as Flume's GangliaServer") {
  GangliaOptions o;
  std::string err;
  std::vector<std::string> warnings;
  CHECK(isGangliaType("ganglia"));
  CHECK(isGangliaType("org.apache.flume.instrumentation.GangliaServer"));
  CHECK_FALSE(isGangliaType("http"));
  REQUIRE(parseGangliaSwitches({{"hosts", "h1:8649, [::1]:8650,bad"}, {"isGanglia3", "TRUE"}}, o,
                               err, warnings));
  CHECK(o.enabled);
  REQUIRE(o.hosts.size() == 2);
  CHECK(o.hosts[1].host == "::1");
  CHECK(o.hosts[1].str() == "[::1]:8650");
  CHECK(o.pollFrequency.count() == 60);
  CHECK(o.isGanglia3);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("'bad'") != std::string::npos);
  CHECK_FALSE(parseGangliaSwitches({{"hosts", "h:1"}, {"pollFrequency", "1m"}}, o, err, warnings));
  CHECK(err.find("-Dflume.monitoring.pollFrequency:") == 0);

  for (const char* yes : {"0", "12", "-3", "0.0", "1.0E-4", "7.5f", " 2 ", "NaN", "Infinity"})
    CHECK_MESSAGE(isJavaFloat(yes), yes);
  for (const char* no : {"", "CHANNEL", "k1", "1.2.3", "e5", "1e", "0x", "."})
    CHECK_MESSAGE(!isJavaFloat(no), no);

  Snapshot s = sample();
  // Ganglia 3.1: metadata then value per attribute; every field XDR: 4-byte big-endian ints and
  // strings padded to 4 bytes.
  const auto d = renderGanglia(s, "host1", false);
  REQUIRE(d.size() % 2 == 0);
  auto u32 = [](const std::string& b, std::size_t at) {
    return (uint32_t(uint8_t(b[at])) << 24) | (uint32_t(uint8_t(b[at + 1])) << 16) |
           (uint32_t(uint8_t(b[at + 2])) << 8) | uint32_t(uint8_t(b[at + 3]));
  };
  auto str = [&](const std::string& b, std::size_t& at) {
    const uint32_t n = u32(b, at);
    std::string out = b.substr(at + 4, n);
    at += 4 + (n + 3) / 4 * 4;
    return out;
  };
  std::size_t at = 0;
  CHECK(u32(d[0], at) == 128);
  at += 4;
  CHECK(str(d[0], at) == "host1");
  CHECK(str(d[0], at) == "flume.CHANNEL.c1.Type");
  CHECK(u32(d[0], at) == 0);  // spoof
  at += 4;
  CHECK(str(d[0], at) == "string");
  CHECK(str(d[0], at) == "flume.CHANNEL.c1.Type");
  CHECK(str(d[0], at) == "");  // units
  CHECK(u32(d[0], at) == 3);
  CHECK(u32(d[0], at + 4) == 60);
  CHECK(u32(d[0], at + 8) == 0);
  CHECK(u32(d[0], at + 12) == 1);
  at += 16;
  CHECK(str(d[0], at) == "GROUP");
  CHECK(str(d[0], at) == "flume");
  CHECK(at == d[0].size());
  at = 4;
  CHECK(u32(d[1], 0) == 133);
  CHECK(str(d[1], at) == "host1");
  CHECK(str(d[1], at) == "flume.CHANNEL.c1.Type");
  at += 4;
  CHECK(str(d[1], at) == "%s");
  CHECK(str(d[1], at) == "CHANNEL");
  CHECK(at == d[1].size());
  // Ganglia 3.0: one message, the name prefixed by the host.
  const auto d30 = renderGanglia(s, "host1", true);
  CHECK(d30.size() * 2 == d.size());
  at = 4;
  CHECK(u32(d30[0], 0) == 0);
  CHECK(str(d30[0], at) == "string");
  CHECK(str(d30[0], at) == "host1.flume.CHANNEL.c1.Type");
  CHECK(str(d30[0], at) == "CHANNEL");
  CHECK(str(d30[0], at) == "");
  CHECK(at + 12 == d30[0].size());
}

TEST_CASE("router: methods, unknown paths, embedded page") {
  Monitor m({}, nullptr, {}, {}, "0.1.0", nullptr);
  http::Request r;
  r.method = "POST";
  r.path = "/metrics";
  CHECK(m.handle(r).status == 405);
  r.method = "GET";
  r.path = "/nope";
  CHECK(m.handle(r).status == 404);
  r.path = "/";
  http::Response page = m.handle(r);
  CHECK(page.status == 200);
  CHECK(page.body.find("pipeline-graph") != std::string::npos);
  r.path = "/ready";
  CHECK(m.handle(r).status == 503);  // no agent to read
}
