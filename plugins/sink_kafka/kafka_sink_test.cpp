// Unit tests of the Kafka sink against librdkafka's mock cluster (3 brokers in this process, on
// 127.0.0.1): what arrives in Kafka, and what stays in the channel when Kafka fails.
#include "kafka_sink.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "host_context.hpp"
#include "interceptor_test_support.hpp"
#include "kafka_mock_cluster.hpp"
#include "readme_schema_check.hpp"
#include "sink_test_support.hpp"
#include "sluice/sdk/host_access.hpp"
#include "source_test_support.hpp"

namespace sdk = sluice::sdk;
namespace kafka = sluice::plugins::kafka;
using kafka::KafkaSink;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::testing::KafkaRecord;
using sluice::plugins::testing::MockKafka;
using sluice::plugins::testing::readTopic;
using sluice::plugins::testing::TestChannel;
using namespace std::chrono_literals;

namespace {

using KV = std::vector<std::pair<std::string, std::string>>;

sdk::Context contextOf(const KV& kv) {
  sdk::Context ctx("a1.sinks.k1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, kafka::kafkaSinkSchema(), ctx, "kafka");
}

std::string configureError(const KV& kv) {
  KafkaSink sink;
  sdk::Result r = configure(sink, contextOf(kv));
  return r ? std::string() : r.error();
}

std::string prop(const KafkaSink& sink, const std::string& name) {
  const kafka::Property* p = kafka::findProperty(sink.producerProperties(), name);
  return p ? p->value : "<unset>";
}

struct Fixture {
  MockKafka kafka;
  TestChannel channel;
  CaptureLogger log;
  KafkaSink sink;

  explicit Fixture(const KV& extra = {}, bool start = true) {
    KV kv{{"kafka.bootstrap.servers", kafka.bootstraps()}, {"kafka.topic", "t1"}};
    kv.insert(kv.end(), extra.begin(), extra.end());
    sdk::HostAccess::attach(sink, "k1", &log);
    sdk::HostAccess::setChannel(sink, &channel);
    sdk::Result r = configure(sink, contextOf(kv));
    REQUIRE_MESSAGE(r.ok(), r.error());
    if (start) {
      r = sdk::HostAccess::start(sink);
      REQUIRE_MESSAGE(r.ok(), r.error());
    }
  }
  ~Fixture() { (void)sdk::HostAccess::stop(sink); }

  // Calls process() until the channel is empty and no batch is open (deadline 30 s). With
  // retry, failed batches (rolled back) are tried again, as the sink runner does.
  void drain(bool retry = false) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
      sdk::ProcessOutcome o = sdk::HostAccess::process(sink);
      if (!retry) REQUIRE_MESSAGE(!o.failed, o.error);
      if (channel.size() == 0 && !sink.batchOpen()) return;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
    }
  }
  int64_t counter(const char* name) {
    auto v = sink.sinkCounter().get(name);
    REQUIRE_MESSAGE(v.has_value(), name);
    return *v;
  }
};

std::vector<std::string> values(const std::vector<KafkaRecord>& recs) {
  std::vector<std::string> out;
  out.reserve(recs.size());
  for (const auto& r : recs) out.push_back(r.value);
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> bodies(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("event-" + std::to_string(i));
  return out;
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(kafka::kafkaSinkSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config: Flume's keys, defaults, and producer properties translated") {
  KafkaSink sink;
  sdk::Result r = configure(
      sink, contextOf({
                {"kafka.bootstrap.servers", "h1:9092,h2:9092"},
                {"kafka.topic", "logs"},
                {"flumeBatchSize", "500"},
                {"useFlumeEventFormat", "true"},
                {"defaultPartitionId", "2"},
                {"partitionIdHeader", "p"},
                {"allowTopicOverride", "false"},
                {"topicHeader", "dest"},
                {"timestampHeader", "ts"},
                {"header.host", "origin-host"},
                {"kafka.producer.linger.ms", "20"},
                {"kafka.producer.buffer.memory", "33554432"},
                {"kafka.producer.compression.type", "lz4"},
                {"kafka.producer.key.serializer",
                 "org.apache.kafka.common.serialization.StringSerializer"},
                {"kafka.producer.max.block.ms", "60000"},
                {"kafka.producer.sasl.jaas.config",
                 "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u1\" "
                 "password=\"p1\";"},
            }));
  REQUIRE_MESSAGE(r.ok(), r.error());
  const auto& s = sink.settings();
  CHECK(s.bootstrapServers == "h1:9092,h2:9092");
  CHECK(s.topic == "logs");
  CHECK(s.batchSize == 500);
  CHECK(s.useFlumeEventFormat);
  CHECK(s.defaultPartitionId == 2);
  CHECK(s.partitionIdHeader == "p");
  CHECK_FALSE(s.allowTopicOverride);
  CHECK(s.topicHeader == "dest");
  CHECK(s.timestampHeader == "ts");
  REQUIRE(s.headerMap.size() == 1);
  CHECK(s.headerMap[0] == std::pair<std::string, std::string>{"host", "origin-host"});
  CHECK(prop(sink, "bootstrap.servers") == "h1:9092,h2:9092");
  CHECK(prop(sink, "acks") == "1");  // Flume's default
  CHECK(prop(sink, "linger.ms") == "20");
  CHECK(prop(sink, "queue.buffering.max.kbytes") == "32768");  // buffer.memory, in KiB
  CHECK(prop(sink, "compression.type") == "lz4");
  CHECK(prop(sink, "partitioner") == "murmur2_random");  // keys land where Java puts them
  CHECK(prop(sink, "sasl.username") == "u1");
  CHECK(prop(sink, "sasl.password") == "p1");
  CHECK(prop(sink, "key.serializer") == "<unset>");
  CHECK(prop(sink, "max.block.ms") == "<unset>");

  // Defaults.
  KafkaSink d;
  REQUIRE(configure(d, contextOf({{"kafka.bootstrap.servers", "h:1"}})).ok());
  CHECK(d.settings().topic == "default-flume-topic");
  CHECK(d.settings().batchSize == 100);
  CHECK_FALSE(d.settings().useFlumeEventFormat);
  CHECK(d.settings().allowTopicOverride);
  CHECK(d.settings().topicHeader == "topic");
  CHECK_FALSE(d.settings().defaultPartitionId.has_value());
}

TEST_CASE("idempotent producer: acks becomes all; an explicit acks other than all is refused") {
  KafkaSink sink;
  REQUIRE(configure(sink, contextOf({{"kafka.bootstrap.servers", "h:1"},
                                     {"kafka.producer.enable.idempotence", "true"}}))
              .ok());
  CHECK(prop(sink, "acks") == "all");
  CHECK(prop(sink, "enable.idempotence") == "true");
  const std::string e = configureError({{"kafka.bootstrap.servers", "h:1"},
                                        {"kafka.producer.enable.idempotence", "true"},
                                        {"kafka.producer.acks", "1"}});
  CHECK(e.find("a1.sinks.k1.kafka.producer.acks: must be all") == 0);
}

TEST_CASE("configure errors name the key") {
  {
    KafkaSink bare;  // configure() itself, without the host's check, still names the key
    const sdk::Result r = sdk::HostAccess::configure(bare, contextOf({}));
    CHECK(r.error() == "a1.sinks.k1.kafka.bootstrap.servers: is required but missing");
  }
  CHECK(configureError({}).find("a1.sinks.k1: missing required key 'kafka.bootstrap.servers'") ==
        0);
  CHECK(configureError({{"kafka.bootstrap.servers", "h:1"}, {"flumeBatchSize", "0"}})
            .find("a1.sinks.k1.flumeBatchSize:") == 0);
  CHECK(configureError({{"kafka.bootstrap.servers", "h:1"}, {"useFlumeEventFormat", "yes"}})
            .find("a1.sinks.k1.useFlumeEventFormat:") == 0);
  // librdkafka's own check, named by the key the property came from.
  const std::string unknown =
      configureError({{"kafka.bootstrap.servers", "h:1"}, {"kafka.producer.no.such.thing", "1"}});
  CHECK(unknown.find("a1.sinks.k1.kafka.producer.no.such.thing: librdkafka: ") == 0);
  CHECK(configureError({{"kafka.bootstrap.servers", "h:1"}, {"kafka.producer.linger.ms", "soon"}})
            .find("a1.sinks.k1.kafka.producer.linger.ms: librdkafka: ") == 0);
  // Java-only settings that would change what is sent are refused, saying why.
  CHECK(configureError({{"kafka.bootstrap.servers", "h:1"},
                        {"kafka.producer.partitioner.class", "com.example.P"}})
            .find("a1.sinks.k1.kafka.producer.partitioner.class: Java partitioner") == 0);
  CHECK(configureError({{"kafka.bootstrap.servers", "h:1"},
                        {"kafka.producer.value.serializer", "com.example.AvroSerializer"}})
            .find("a1.sinks.k1.kafka.producer.value.serializer: Java (de)serializer") == 0);
  CHECK(configureError({{"kafka.bootstrap.servers", "h:1"},
                        {"kafka.producer.ssl.truststore.location", "/etc/t.jks"}})
            .find("ssl.ca.location") != std::string::npos);
  CHECK(
      configureError({{"kafka.bootstrap.servers", "h:1"}, {"kafka.producer.transactional.id", "x"}})
          .find("a1.sinks.k1.kafka.producer.transactional.id:") == 0);
  // A secret's value is never echoed.
  const std::string secret = configureError({{"kafka.bootstrap.servers", "h:1"},
                                             {"kafka.producer.ssl.key.password", "hunter2"},
                                             {"kafka.producer.sasl.mechanism", "NOPE-hunter2"}});
  CHECK(secret.find("hunter2") == std::string::npos);
  // Unknown keys are the host's job (the schema check); these are not in the schema.
  const auto& schema = kafka::kafkaSinkSchema();
  using sluice::plugins::testing::schemaDeclares;
  CHECK(schemaDeclares(schema, "kafka.producer.retries"));
  CHECK(schemaDeclares(schema, "header.x"));
  CHECK_FALSE(schemaDeclares(schema, "brokerList"));
  CHECK_FALSE(schemaDeclares(schema, "batchSize"));
  CHECK_FALSE(schemaDeclares(schema, "kafka.topics"));
}

TEST_CASE("every event becomes one message: body, key, headers, partition, topic override") {
  Fixture f({{"flumeBatchSize", "100"},
             {"partitionIdHeader", "part"},
             {"timestampHeader", "ts"},
             {"header.host", "origin"}});
  f.kafka.createTopic("t1", 4);
  f.kafka.createTopic("other", 2);
  sdk::EventBatch batch;
  for (int i = 0; i < 250; ++i) {
    sdk::Event e("event-" + std::to_string(i));
    e.headers.set("key", "k" + std::to_string(i % 7));
    e.headers.set("host", "h" + std::to_string(i));
    if (i % 10 == 0) e.headers.set("part", "3");
    if (i == 5) e.headers.set("ts", "1700000000123");
    if (i == 6) e.headers.set("topic", "other");
    batch.push_back(std::move(e));
  }
  f.channel.put(std::move(batch));
  f.drain();
  CHECK(f.counter("EventDrainSuccessCount") == 250);
  CHECK(f.counter("BatchCompleteCount") == 2);
  CHECK(f.counter("BatchUnderflowCount") == 1);
  CHECK(f.counter("RollbackCount") == 0);
  CHECK(f.counter("KafkaEventSendTimer") >= 0);

  auto recs = readTopic(f.kafka.bootstraps(), "t1", 4, 249);
  REQUIRE(recs.size() == 249);
  auto other = readTopic(f.kafka.bootstraps(), "other", 2, 1);
  REQUIRE(other.size() == 1);
  CHECK(other[0].value == "event-6");
  std::map<std::string, int32_t> partitionOfKey;
  for (const auto& r : recs) {
    const int i = std::stoi(r.value.substr(6));
    CHECK(r.hasKey);
    CHECK(r.key == "k" + std::to_string(i % 7));
    REQUIRE(r.headers.size() == 1);
    CHECK(r.headers[0] == std::pair<std::string, std::string>{"origin", "h" + std::to_string(i)});
    if (i % 10 == 0) {
      CHECK(r.partition == 3);
    } else {
      // The same key always lands on the same partition.
      auto [it, fresh] = partitionOfKey.emplace(r.key, r.partition);
      CHECK(it->second == r.partition);
    }
    if (i == 5) CHECK(r.timestamp == 1700000000123);
  }
  auto want = bodies(0, 250);
  want.erase(want.begin() + 6);
  CHECK(sorted(values(recs)) == sorted(want));
}

TEST_CASE("useFlumeEventFormat: Flume's AvroFlumeEvent with the headers; kafka.topic escapes") {
  Fixture f({{"useFlumeEventFormat", "true"},
             {"kafka.topic", "logs-%{kind}"},
             {"allowTopicOverride", "false"}});
  f.kafka.createTopic("logs-a", 1);
  sdk::EventBatch batch;
  batch.emplace_back(sdk::Headers{{"kind", "a"}, {"topic", "ignored"}, {"x", "1"}},
                     std::string("body\0bytes", 10));
  f.channel.put(std::move(batch));
  f.drain();
  auto recs = readTopic(f.kafka.bootstraps(), "logs-a", 1, 1);
  REQUIRE(recs.size() == 1);
  CHECK_FALSE(recs[0].hasKey);
  sdk::Event decoded;
  REQUIRE(kafka::decodeFlumeEvent(recs[0].value, decoded));
  CHECK(decoded.body == std::string("body\0bytes", 10));
  CHECK(decoded.headers == sdk::Headers{{"kind", "a"}, {"topic", "ignored"}, {"x", "1"}});
  // The exact bytes Avro's encoder writes: map block of 3, then 0, then the body.
  std::string expect;
  sluice::plugins::avro::appendEventRecord(expect, decoded);
  CHECK(recs[0].value == expect);
}

TEST_CASE("AvroFlumeEvent decoding refuses truncated or trailing bytes") {
  sdk::Event e(sdk::Headers{{"a", "b"}}, "xyz");
  std::string wire;
  kafka::encodeFlumeEvent(wire, e);
  sdk::Event out;
  CHECK(kafka::decodeFlumeEvent(wire, out));
  for (std::size_t n = 0; n < wire.size(); ++n) {
    sdk::Event cut;
    CHECK_FALSE(kafka::decodeFlumeEvent(std::string_view(wire).substr(0, n), cut));
  }
  sdk::Event extra;
  CHECK_FALSE(kafka::decodeFlumeEvent(wire + "x", extra));
}

TEST_CASE("all brokers down: the batch rolls back, stays in the channel, and arrives later") {
  Fixture f({{"kafka.producer.message.timeout.ms", "1500"}, {"flumeBatchSize", "50"}});
  f.kafka.createTopic("t1", 3);
  f.kafka.down();
  f.channel.putBodies(0, 120);
  // Each call waits at most the await slice; the batch fails once librdkafka gives up.
  sdk::ProcessOutcome o;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  do {
    o = sdk::HostAccess::process(f.sink);
    REQUIRE(std::chrono::steady_clock::now() < deadline);
  } while (!o.failed);
  CHECK(o.error.find("Failed to publish events") != std::string::npos);
  CHECK_FALSE(f.sink.batchOpen());
  CHECK(f.channel.size() == 120);  // rolled back: nothing left the channel
  CHECK(f.counter("RollbackCount") >= 1);
  CHECK(f.counter("EventWriteFail") >= 1);
  CHECK(f.counter("EventDrainSuccessCount") == 0);

  f.kafka.up();
  f.drain(/*retry=*/true);  // the reconnection may outlast one message timeout
  auto recs = readTopic(f.kafka.bootstraps(), "t1", 3, 120);
  std::set<std::string> got;
  for (const auto& r : recs) got.insert(r.value);
  CHECK(got.size() == 120);  // every event arrived (at least once)
  CHECK(f.counter("EventDrainSuccessCount") == 120);
}

TEST_CASE("a produce request the broker refuses rolls the batch back; all delivered later") {
  Fixture f({{"flumeBatchSize", "100"}, {"kafka.producer.linger.ms", "50"}});
  f.kafka.createTopic("t1", 1);
  f.channel.putBodies(0, 100);
  // Not retriable: librdkafka reports it at once, failing every message of the request.
  f.kafka.failRequests(0 /* Produce */, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  sdk::ProcessOutcome o;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  do {
    o = sdk::HostAccess::process(f.sink);
    REQUIRE(std::chrono::steady_clock::now() < deadline);
  } while (!o.failed && f.sink.batchOpen());
  REQUIRE(o.failed);
  CHECK(o.error.find("MSG_SIZE_TOO_LARGE") != std::string::npos);
  CHECK(f.channel.size() == 100);
  CHECK(f.counter("RollbackCount") == 1);
  f.drain(/*retry=*/true);
  // Every event arrived; the refused request's messages were written once the batch came
  // again, and those of the batch that another request had carried before, twice at most.
  auto recs = readTopic(f.kafka.bootstraps(), "t1", 1, 200, 3s);
  const std::vector<std::string> got = values(recs);
  CHECK(std::set<std::string>(got.begin(), got.end()).size() == 100);
  CHECK(got.size() >= 100);
  CHECK(got.size() <= 200);
}

TEST_CASE("a bad partition header fails the batch, as in Flume") {
  Fixture f(KV{{"partitionIdHeader", "p"}});
  f.kafka.createTopic("t1", 2);
  sdk::EventBatch b;
  b.emplace_back(sdk::Headers{{"p", "zero"}}, "x");
  f.channel.put(std::move(b));
  sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
  CHECK(o.failed);
  CHECK(o.error.find("Non integer partition id specified") != std::string::npos);
  CHECK(f.channel.size() == 1);
}

TEST_CASE("stop with an unacknowledged batch rolls it back") {
  Fixture f;
  f.kafka.createTopic("t1", 1);
  f.kafka.down();
  f.channel.putBodies(0, 10);
  sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
  CHECK_FALSE(o.failed);
  CHECK(o.status == sdk::Status::READY);
  CHECK(f.sink.batchOpen());  // waiting for Kafka, transaction still open
  CHECK(f.channel.size() == 0);
  CHECK(sdk::HostAccess::stop(f.sink).ok());
  CHECK_FALSE(f.sink.batchOpen());
  CHECK(f.channel.size() == 10);
  CHECK(f.counter("RollbackCount") == 1);
}

TEST_CASE("start and stop are repeatable") {
  Fixture f({}, false);
  f.kafka.createTopic("t1", 1);
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    REQUIRE(sdk::HostAccess::start(f.sink).ok());
    CHECK(sdk::HostAccess::start(f.sink).ok());  // a second start while running does nothing
    f.channel.putBodies(round * 10, round * 10 + 10);
    f.drain();
    CHECK(sdk::HostAccess::stop(f.sink).ok());
    CHECK(sdk::HostAccess::stop(f.sink).ok());
  }
  CHECK(f.counter("ConnectionCreatedCount") == 3);
  CHECK(f.counter("ConnectionClosedCount") == 3);
  auto recs = readTopic(f.kafka.bootstraps(), "t1", 1, 30);
  CHECK(values(recs) == bodies(0, 30));
}

TEST_CASE("an empty channel is BACKOFF and counted as an empty batch") {
  Fixture f;
  sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
  CHECK_FALSE(o.failed);
  CHECK(o.status == sdk::Status::BACKOFF);
  CHECK(f.counter("BatchEmptyCount") == 1);
}

// ---- kafka.producer.partitioner.class: Kafka's own partitioners, checked on the mock cluster ----

namespace {

// Puts `n` events whose body is event-<i> and whose key is keyOf(i), sends them, and returns
// the partition each event-<i> landed in, by i.
template <class KeyOf>
std::vector<int32_t> partitionsOf(Fixture& f, int from, int n, int partitions, KeyOf keyOf) {
  sdk::EventBatch batch;
  for (int i = from; i < from + n; ++i) {
    sdk::Event e("event-" + std::to_string(i));
    e.headers.set("key", keyOf(i));
    batch.push_back(std::move(e));
  }
  f.channel.put(std::move(batch));
  f.drain();
  const std::size_t total = static_cast<std::size_t>(from) + static_cast<std::size_t>(n);
  auto recs = readTopic(f.kafka.bootstraps(), "t1", partitions, total);
  REQUIRE(recs.size() == total);
  std::vector<int32_t> out(static_cast<std::size_t>(n), -1);
  for (const auto& r : recs) {
    const int i = std::stoi(r.value.substr(6));
    if (i >= from) out[static_cast<std::size_t>(i - from)] = r.partition;
  }
  return out;
}

}  // namespace

TEST_CASE("partitioner.class DefaultPartitioner: a key lands on Java's murmur2 partition") {
  Fixture f(KV{{"kafka.producer.partitioner.class",
                "org.apache.kafka.clients.producer.internals.DefaultPartitioner"}});
  CHECK(prop(f.sink, "partitioner") == "murmur2_random");
  CHECK(prop(f.sink, "partitioner.class") == "<unset>");
  f.kafka.createTopic("t1", 5);
  // Java's murmur2 of these keys, from Kafka's UtilsTest.testMurmur2; Java's DefaultPartitioner
  // picks (murmur2 & 0x7fffffff) % partitions.
  const std::vector<std::pair<std::string, int32_t>> javaMurmur2{
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107}};
  const int n = static_cast<int>(javaMurmur2.size()) * 3;
  auto got = partitionsOf(f, 0, n, 5, [&](int i) { return javaMurmur2[i % 6].first; });
  std::set<int32_t> used;
  for (int i = 0; i < n; ++i) {
    const int32_t want = (javaMurmur2[i % 6].second & 0x7fffffff) % 5;
    CHECK_MESSAGE(got[i] == want, "key " << javaMurmur2[i % 6].first);
    used.insert(got[i]);
  }
  CHECK(used.size() == 4);  // 0, 1, 2 and 4: the keys really spread
}

TEST_CASE("partitioner.class RoundRobinPartitioner: partitions in turn, keys ignored") {
  Fixture f({{"flumeBatchSize", "7"},
             {"kafka.producer.partitioner.class",
              "org.apache.kafka.clients.producer.RoundRobinPartitioner"}});
  CHECK(prop(f.sink, "partitioner.class") == "roundrobin");
  f.kafka.createTopic("t1", 4);
  // One key for all: murmur2 would put every message on one partition.
  auto got = partitionsOf(f, 0, 30, 4, [](int) { return std::string("same-key"); });
  for (int i = 0; i < 30; ++i) CHECK_MESSAGE(got[i] == (got[0] + i) % 4, "message " << i);
  // The turn goes on across batches and sends.
  auto more = partitionsOf(f, 30, 8, 4, [](int) { return std::string("same-key"); });
  for (int i = 0; i < 8; ++i) CHECK(more[i] == (got[0] + 30 + i) % 4);
}

TEST_CASE("partitioner.class UniformStickyPartitioner: one partition, keys ignored, then another") {
  constexpr int kLingerMs = 500;
  Fixture f({{"kafka.producer.partitioner.class",
              "org.apache.kafka.clients.producer.UniformStickyPartitioner"},
             {"kafka.producer.sticky.partitioning.linger.ms", std::to_string(kLingerMs)}});
  CHECK(prop(f.sink, "partitioner.class") == "uniform_sticky");
  f.kafka.createTopic("t1", 4);
  // Keys murmur2 spreads over every partition all go to one.
  auto first = partitionsOf(f, 0, 20, 4, [](int i) { return "k" + std::to_string(i); });
  for (int i = 0; i < 20; ++i) CHECK(first[i] == first[0]);
  // The rule is time-based (librdkafka's sticky.partitioning.linger.ms): once it has passed
  // since the partition was picked, the next messages stick to another partition.
  std::this_thread::sleep_for(std::chrono::milliseconds(kLingerMs + 100));
  auto second = partitionsOf(f, 20, 20, 4, [](int i) { return "k" + std::to_string(i); });
  for (int i = 0; i < 20; ++i) CHECK(second[i] == second[0]);
  CHECK(second[0] != first[0]);
}

TEST_CASE("partitioner.class not of Kafka's own: refused, naming the alternatives") {
  const std::string e = configureError(
      {{"kafka.bootstrap.servers", "h:1"}, {"kafka.producer.partitioner.class", "com.example.P"}});
  CHECK(e.find("a1.sinks.k1.kafka.producer.partitioner.class: Java partitioner class "
               "'com.example.P' is not one of Kafka's own") == 0);
  CHECK(e.find("kafka.producer.partitioner = murmur2_random") != std::string::npos);
  CHECK(e.find("RoundRobinPartitioner") != std::string::npos);
}
