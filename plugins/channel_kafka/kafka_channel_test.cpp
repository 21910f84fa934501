// Unit tests of the Kafka channel against librdkafka's mock cluster (3 brokers in this process,
// on 127.0.0.1): puts commit once Kafka has them, takes commit offsets, rollbacks redeliver.
#include "kafka_channel.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "host_context.hpp"
#include "interceptor_test_support.hpp"
#include "kafka_mock_cluster.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"
#include "source_test_support.hpp"

namespace sdk = sluice::sdk;
namespace kafka = sluice::plugins::kafka;
using kafka::KafkaChannel;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::testing::MockKafka;
using sluice::plugins::testing::readTopic;
using sluice::plugins::testing::schemaDeclares;
using namespace std::chrono_literals;

namespace {

using KV = std::vector<std::pair<std::string, std::string>>;

sdk::Context contextOf(const KV& kv) {
  sdk::Context ctx("a1.channels.c1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, kafka::kafkaChannelSchema(), ctx,
                                                   "kafka");
}

std::string configureError(const KV& kv) {
  KafkaChannel ch;
  sdk::Result r = configure(ch, contextOf(kv));
  return r ? std::string() : r.error();
}

std::string prop(const kafka::Properties& props, const std::string& name) {
  const kafka::Property* p = kafka::findProperty(props, name);
  return p ? p->value : "<unset>";
}

struct Channel {
  CaptureLogger log;
  KafkaChannel ch;
  Channel(const std::string& bootstraps, const KV& extra = {}) {
    KV kv{{"kafka.bootstrap.servers", bootstraps},
          {"kafka.topic", "chan"},
          {"kafka.consumer.session.timeout.ms", "6000"},
          {"kafka.consumer.max.poll.interval.ms", "10000"},
          {"pollTimeout", "100"}};
    kv.insert(kv.end(), extra.begin(), extra.end());
    sdk::HostAccess::attach(ch, "c1", &log);
    sdk::Result r = configure(ch, contextOf(kv));
    REQUIRE_MESSAGE(r.ok(), r.error());
    r = sdk::HostAccess::start(ch);
    REQUIRE_MESSAGE(r.ok(), r.error());
  }
  ~Channel() { (void)sdk::HostAccess::stop(ch); }

  sdk::Result put(sdk::EventBatch batch) {
    sdk::TransactionGuard tx(ch);
    if (sdk::Result r = tx->putBatch(batch); !r) return r;
    return tx.commit();
  }
  // Takes until `n` events came (one transaction per takeBatch), committing each unless told
  // not to; returns them.
  std::vector<sdk::Event> take(std::size_t n, bool commit = true, std::size_t batch = 50,
                               std::chrono::milliseconds timeout = 30s) {
    std::vector<sdk::Event> out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      sdk::TransactionGuard tx(ch);
      std::span<sdk::Event> got;
      REQUIRE(tx->takeBatch(std::min(batch, n - out.size()), got).ok());
      for (auto& e : got) out.push_back(e.clone());
      if (commit) REQUIRE(tx.commit().ok());
    }
    return out;
  }
  int64_t counter(const char* name) {
    auto v = ch.channelCounter().get(name);
    REQUIRE_MESSAGE(v.has_value(), name);
    return *v;
  }
};

sdk::EventBatch events(int from, int to) {
  sdk::EventBatch b;
  for (int i = from; i < to; ++i)
    b.emplace_back(sdk::Headers{{"n", std::to_string(i)}, {"key", "k" + std::to_string(i % 3)}},
                   "e-" + std::to_string(i));
  return b;
}

std::vector<std::string> bodies(const std::vector<sdk::Event>& es) {
  std::vector<std::string> out;
  out.reserve(es.size());
  for (const auto& e : es) out.push_back(e.body);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> names(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("e-" + std::to_string(i));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(kafka::kafkaChannelSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config: Flume's keys and defaults") {
  KafkaChannel ch;
  REQUIRE(configure(ch, contextOf({{"kafka.bootstrap.servers", "h:1"}})).ok());
  CHECK(ch.settings().topic == "flume-channel");
  CHECK(ch.settings().groupId == "flume");
  CHECK(ch.settings().parseAsFlumeEvent);
  CHECK(ch.settings().pollTimeout == 500ms);
  CHECK(prop(ch.producerProperties(), "acks") == "all");  // Flume's channel default
  CHECK(prop(ch.consumerProperties(), "auto.offset.reset") == "earliest");
  CHECK(prop(ch.consumerProperties(), "enable.auto.commit") == "false");

  KafkaChannel c2;
  REQUIRE(configure(c2, contextOf({{"kafka.bootstrap.servers", "h:1"},
                                   {"kafka.topic", "t"},
                                   {"kafka.consumer.group.id", "g"},
                                   {"parseAsFlumeEvent", "false"},
                                   {"kafka.pollTimeout", "50"},
                                   {"defaultPartitionId", "1"},
                                   {"partitionIdHeader", "p"},
                                   {"migrateZookeeperOffsets", "false"},
                                   {"kafka.producer.acks", "1"},
                                   {"kafka.consumer.auto.offset.reset", "latest"}}))
              .ok());
  CHECK(c2.settings().topic == "t");
  CHECK(c2.settings().groupId == "g");
  CHECK_FALSE(c2.settings().parseAsFlumeEvent);
  CHECK(c2.settings().pollTimeout == 50ms);
  CHECK(c2.settings().defaultPartitionId == 1);
  CHECK(prop(c2.producerProperties(), "acks") == "1");
  CHECK(prop(c2.consumerProperties(), "auto.offset.reset") == "latest");
}

TEST_CASE("configure errors name the key") {
  {
    KafkaChannel bare;  // configure() itself, without the host's check, still names the key
    const sdk::Result r = sdk::HostAccess::configure(bare, contextOf({}));
    CHECK(r.error() == "a1.channels.c1.kafka.bootstrap.servers: is required but missing");
  }
  CHECK(configureError({}).find("a1.channels.c1: missing required key 'kafka.bootstrap.servers'") ==
        0);
  CHECK(configureError({{"kafka.bootstrap.servers", "h:1"}, {"parseAsFlumeEvent", "maybe"}})
            .find("a1.channels.c1.parseAsFlumeEvent:") == 0);
  CHECK(configureError({{"kafka.bootstrap.servers", "h:1"}, {"kafka.consumer.nope", "1"}})
            .find("a1.channels.c1.kafka.consumer.nope: librdkafka: ") == 0);
  CHECK(configureError({{"kafka.bootstrap.servers", "h:1"},
                        {"kafka.producer.enable.idempotence", "true"},
                        {"kafka.producer.acks", "1"}})
            .find("a1.channels.c1.kafka.producer.acks:") == 0);
  const auto& s = kafka::kafkaChannelSchema();
  CHECK(schemaDeclares(s, "kafka.producer.linger.ms"));
  CHECK_FALSE(schemaDeclares(s, "brokerList"));
  CHECK_FALSE(schemaDeclares(s, "zookeeperConnect"));
}

TEST_CASE("put then take: Flume events with their headers; offsets committed on take") {
  MockKafka k;
  k.createTopic("chan", 3);
  {
    Channel c(k.bootstraps());
    REQUIRE(c.put(events(0, 120)).ok());
    CHECK(c.counter("EventPutSuccessCount") == 120);
    auto got = c.take(120);
    REQUIRE(got.size() == 120);
    CHECK(bodies(got) == names(0, 120));
    for (const auto& e : got) {
      const int n = std::stoi(e.body.substr(2));
      CHECK(e.headers.get("n") == std::to_string(n));
      CHECK(e.headers.get("key") == "k" + std::to_string(n % 3));
    }
    CHECK(c.counter("EventTakeSuccessCount") == 120);
  }
  // The same group later: everything was committed, only new events come.
  Channel again(k.bootstraps());
  REQUIRE(again.put(events(120, 130)).ok());
  auto got = again.take(10);
  CHECK(bodies(got) == names(120, 130));
  auto none = again.take(1, true, 50, 2s);
  CHECK(none.empty());
}

TEST_CASE("parseAsFlumeEvent = false: the body alone, the key as the key header") {
  MockKafka k;
  k.createTopic("chan", 1);
  Channel c(k.bootstraps(), {{"parseAsFlumeEvent", "false"}});
  REQUIRE(c.put(events(0, 5)).ok());
  auto recs = readTopic(k.bootstraps(), "chan", 1, 5);
  REQUIRE(recs.size() == 5);
  CHECK(recs[0].value == "e-0");
  CHECK(recs[0].key == "k0");
  auto got = c.take(5);
  REQUIRE(got.size() == 5);
  CHECK(got[0].body == "e-0");
  CHECK(got[0].headers == sdk::Headers{{"key", "k0"}});
}

TEST_CASE("a rolled-back take is taken again first; a stop without commit re-reads") {
  MockKafka k;
  k.createTopic("chan", 2);
  {
    Channel c(k.bootstraps());
    REQUIRE(c.put(events(0, 40)).ok());
    auto first = c.take(20, /*commit=*/false, 20);  // rolled back
    REQUIRE(first.size() == 20);
    CHECK(c.counter("RollbackCount") >= 1);
    auto second = c.take(20, true, 20);
    CHECK(bodies(second) == bodies(first));  // the same events again
    auto left = c.take(20, false, 20);       // not committed, then the channel stops
    CHECK(left.size() == 20);
  }
  Channel again(k.bootstraps());
  std::vector<sdk::Event> rest = again.take(20);
  std::set<std::string> all;
  for (const auto& e : rest) all.insert(e.body);
  CHECK(rest.size() == 20);
  CHECK(all.size() == 20);
}

TEST_CASE("a put commit fails while Kafka is away, and works once it is back") {
  MockKafka k;
  k.createTopic("chan", 1);
  Channel c(k.bootstraps(), {{"kafka.producer.message.timeout.ms", "1500"}});
  k.down();
  sdk::Result r = c.put(events(0, 10));
  CHECK_FALSE(r.ok());
  CHECK(r.error().find("Kafka did not acknowledge") != std::string::npos);
  k.up();
  REQUIRE(c.put(events(10, 20)).ok());
  auto got = c.take(10);
  CHECK(bodies(got) == names(10, 20));
}

TEST_CASE("start and stop are repeatable") {
  MockKafka k;
  k.createTopic("chan", 1);
  Channel c(k.bootstraps());
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    CHECK(sdk::HostAccess::stop(c.ch).ok());
    CHECK(sdk::HostAccess::stop(c.ch).ok());
    REQUIRE(sdk::HostAccess::start(c.ch).ok());
    CHECK(sdk::HostAccess::start(c.ch).ok());
    REQUIRE(c.put(events(round * 5, round * 5 + 5)).ok());
    CHECK(bodies(c.take(5)) == names(round * 5, round * 5 + 5));
  }
}

TEST_CASE("kafka.producer.partitioner.class RoundRobinPartitioner: puts go round the partitions") {
  MockKafka k;
  k.createTopic("chan", 4);
  Channel c(k.bootstraps(), {{"parseAsFlumeEvent", "false"},
                             {"kafka.producer.partitioner.class",
                              "org.apache.kafka.clients.producer.RoundRobinPartitioner"}});
  CHECK(prop(c.ch.producerProperties(), "partitioner.class") == "roundrobin");
  REQUIRE(c.put(events(0, 12)).ok());
  auto recs = readTopic(k.bootstraps(), "chan", 4, 12);
  REQUIRE(recs.size() == 12);
  std::vector<int32_t> partitionOf(12, -1);
  for (const auto& r : recs)
    partitionOf[static_cast<std::size_t>(std::stoi(r.value.substr(2)))] = r.partition;
  // The keys (k0, k1, k2) would hash to at most 3 partitions; round robin uses all 4 in turn.
  for (int i = 0; i < 12; ++i) CHECK(partitionOf[i] == (partitionOf[0] + i) % 4);
}
