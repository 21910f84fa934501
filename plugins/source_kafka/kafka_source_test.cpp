// Unit tests of the Kafka source against librdkafka's mock cluster (3 brokers in this process,
// on 127.0.0.1): what reaches the channels, and which offsets are committed when.
#include "kafka_source.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "host_context.hpp"
#include "interceptor_test_support.hpp"
#include "kafka_mock_cluster.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"
#include "source_test_support.hpp"

namespace sdk = sluice::sdk;
namespace kafka = sluice::plugins::kafka;
using kafka::KafkaSource;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::testing::KafkaRecord;
using sluice::plugins::testing::MockKafka;
using sluice::plugins::testing::produceRecords;
using sluice::plugins::testing::produceTo;
using sluice::plugins::testing::RecordingProcessor;
using sluice::plugins::testing::schemaDeclares;
using sluice::plugins::testing::waitFor;
using namespace std::chrono_literals;

namespace {

using KV = std::vector<std::pair<std::string, std::string>>;

sdk::Context contextOf(const KV& kv) {
  sdk::Context ctx("a1.sources.r1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, kafka::kafkaSourceSchema(), ctx,
                                                   "kafka");
}

std::string configureError(const KV& kv) {
  KafkaSource src;
  sdk::Result r = configure(src, contextOf(kv));
  return r ? std::string() : r.error();
}

std::string prop(const KafkaSource& src, const std::string& name) {
  const kafka::Property* p = kafka::findProperty(src.consumerProperties(), name);
  return p ? p->value : "<unset>";
}

// Test timeouts from PLATFORM.md: a member that goes away must not block a rejoin for long.
const KV kFastGroup{{"kafka.consumer.session.timeout.ms", "6000"},
                    {"kafka.consumer.max.poll.interval.ms", "10000"},
                    {"kafka.consumer.auto.offset.reset", "earliest"},
                    {"batchDurationMillis", "200"}};

// A source wired to a RecordingProcessor, configured against the mock cluster.
struct Member {
  RecordingProcessor processor;
  CaptureLogger log;
  KafkaSource source;

  Member(const std::string& bootstraps, const KV& extra, bool start = true) {
    KV kv{{"kafka.bootstrap.servers", bootstraps}, {"kafka.topics", "t1"}};
    kv.insert(kv.end(), kFastGroup.begin(), kFastGroup.end());
    kv.insert(kv.end(), extra.begin(), extra.end());
    sdk::HostAccess::attach(source, "r1", &log);
    sdk::HostAccess::setChannelProcessor(source, &processor);
    sdk::Result r = configure(source, contextOf(kv));
    REQUIRE_MESSAGE(r.ok(), r.error());
    if (start) {
      r = sdk::HostAccess::start(source);
      REQUIRE_MESSAGE(r.ok(), r.error());
    }
  }
  ~Member() { (void)sdk::HostAccess::stop(source); }

  // Calls process() until `n` events were accepted in all (30 s at most).
  void pumpUntil(std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (processor.count() < n) {
      sdk::ProcessOutcome o = sdk::HostAccess::process(source);
      REQUIRE_MESSAGE(!o.failed, o.error);
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, log.text());
    }
  }
  int64_t counter(const char* name) {
    auto v = source.sourceCounter().get(name);
    REQUIRE_MESSAGE(v.has_value(), name);
    return *v;
  }
};

std::vector<std::pair<std::string, std::string>> messages(int from, int to, bool keyed = false) {
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = from; i < to; ++i)
    out.emplace_back("m-" + std::to_string(i), keyed ? "key-" + std::to_string(i % 5) : "");
  return out;
}

std::vector<std::string> names(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("m-" + std::to_string(i));
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(kafka::kafkaSourceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config: Flume's keys, defaults, and consumer properties translated") {
  KafkaSource src;
  sdk::Result r =
      configure(src, contextOf({
                         {"kafka.bootstrap.servers", "h1:9092"},
                         {"kafka.topics", "a, b,c"},
                         {"kafka.consumer.group.id", "g1"},
                         {"batchSize", "50"},
                         {"batchDurationMillis", "20"},
                         {"useFlumeEventFormat", "true"},
                         {"setTopicHeader", "false"},
                         {"topicHeader", "t"},
                         {"header.trace", "trace-id"},
                         {"migrateZookeeperOffsets", "true"},
                         {"kafka.consumer.partition.assignment.strategy",
                          "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"},
                         {"kafka.consumer.auto.offset.reset", "none"},
                         {"kafka.consumer.fetch.max.wait.ms", "100"},
                         {"kafka.consumer.enable.auto.commit", "true"},
                         {"kafka.consumer.max.poll.records", "10"},
                         {"kafka.consumer.value.deserializer",
                          "org.apache.kafka.common.serialization.ByteArrayDeserializer"},
                     }));
  REQUIRE_MESSAGE(r.ok(), r.error());
  const auto& s = src.settings();
  CHECK(s.topics == std::vector<std::string>{"a", "b", "c"});
  CHECK(s.groupId == "g1");
  CHECK(s.batchSize == 50);
  CHECK(s.batchDuration == 20ms);
  CHECK(s.useFlumeEventFormat);
  CHECK_FALSE(s.setTopicHeader);
  CHECK(s.topicHeader == "t");
  REQUIRE(s.headerMap.size() == 1);
  CHECK(s.headerMap[0] == std::pair<std::string, std::string>{"trace", "trace-id"});
  CHECK(prop(src, "group.id") == "g1");
  CHECK(prop(src, "partition.assignment.strategy") == "cooperative-sticky");
  CHECK(prop(src, "auto.offset.reset") == "error");
  CHECK(prop(src, "fetch.wait.max.ms") == "100");
  CHECK(prop(src, "enable.auto.commit") == "false");  // always: offsets follow the channel
  CHECK(prop(src, "enable.auto.offset.store") == "false");
  CHECK(prop(src, "max.poll.records") == "<unset>");
  CHECK(prop(src, "value.deserializer") == "<unset>");

  KafkaSource d;
  REQUIRE(configure(d, contextOf({{"kafka.bootstrap.servers", "h:1"},
                                  {"kafka.topics.regex", "logs-.*"},
                                  {"kafka.topics", "ignored"}}))
              .ok());
  CHECK(d.settings().topics == std::vector<std::string>{"^(logs-.*)$"});  // regex wins
  CHECK(d.settings().groupId == "flume");
  CHECK(d.settings().batchSize == 1000);
  CHECK(d.settings().batchDuration == 1000ms);
  CHECK(d.settings().setTopicHeader);
  CHECK(d.settings().topicHeader == "topic");
}

TEST_CASE("configure errors name the key") {
  {
    KafkaSource bare;  // configure() itself, without the host's check, still names the key
    const sdk::Result r = sdk::HostAccess::configure(bare, contextOf({{"kafka.topics", "t"}}));
    CHECK(r.error() == "a1.sources.r1.kafka.bootstrap.servers: is required but missing");
  }
  CHECK(configureError({{"kafka.topics", "t"}})
            .find("a1.sources.r1: missing required key 'kafka.bootstrap.servers'") == 0);
  CHECK(configureError({{"kafka.bootstrap.servers", "h:1"}})
            .find("a1.sources.r1.kafka.topics: at least one Kafka topic") == 0);
  CHECK(configureError(
            {{"kafka.bootstrap.servers", "h:1"}, {"kafka.topics", "t"}, {"batchSize", "0"}})
            .find("a1.sources.r1.batchSize:") == 0);
  CHECK(configureError({{"kafka.bootstrap.servers", "h:1"},
                        {"kafka.topics", "t"},
                        {"kafka.consumer.key.deserializer", "com.example.D"}})
            .find("a1.sources.r1.kafka.consumer.key.deserializer: Java (de)serializer") == 0);
  CHECK(configureError({{"kafka.bootstrap.servers", "h:1"},
                        {"kafka.topics", "t"},
                        {"kafka.consumer.session.timeout", "1"}})
            .find("a1.sources.r1.kafka.consumer.session.timeout: librdkafka: ") == 0);
  const auto& schema = kafka::kafkaSourceSchema();
  CHECK(schemaDeclares(schema, "kafka.consumer.fetch.min.bytes"));
  CHECK_FALSE(schemaDeclares(schema, "zookeeperConnect"));
  CHECK_FALSE(schemaDeclares(schema, "topic"));
  CHECK_FALSE(schemaDeclares(schema, "groupId"));
}

TEST_CASE("messages become events with Flume's headers; batches of batchSize") {
  MockKafka k;
  k.createTopic("t1", 3);
  produceTo(k.bootstraps(), "t1", messages(0, 300, true));
  Member m(k.bootstraps(), {{"batchSize", "40"}});
  m.pumpUntil(300);
  CHECK(sorted(m.processor.snapshot()) == sorted(names(0, 300)));
  for (std::size_t b : m.processor.batchSizes()) CHECK(b <= 40);
  std::map<int, int64_t> lastOffset;
  for (std::size_t i = 0; i < 300; ++i) {
    sdk::Headers h = m.processor.headersOf(i);
    const std::string body = m.processor.snapshot()[i];
    const int n = std::stoi(body.substr(2));
    CHECK(h.get("topic") == "t1");
    CHECK(h.get("key") == "key-" + std::to_string(n % 5));
    const int part = std::stoi(h.get("partition"));
    const int64_t off = std::stoll(h.get("offset"));
    CHECK(part >= 0);
    CHECK(part < 3);
    // Per partition, offsets come in order.
    if (lastOffset.count(part)) CHECK(off == lastOffset[part] + 1);
    lastOffset[part] = off;
    CHECK(std::stoll(h.get("timestamp")) > 1600000000000);
  }
  CHECK(m.counter("EventReceivedCount") == 300);
  CHECK(m.counter("EventAcceptedCount") == 300);
  CHECK(m.counter("KafkaCommitTimer") >= 0);
  CHECK(m.counter("KafkaCommitFailCount") == 0);
}

TEST_CASE("after an empty poll the runner sleeps 1 ms; after a refused batch, Flume's back-off") {
  MockKafka k;
  k.createTopic("t1", 1);
  Member m(k.bootstraps(), {{"batchSize", "10"}});
  // The group join takes the first polls; an empty one is BACKOFF without failure.
  sdk::ProcessOutcome o = sdk::HostAccess::process(m.source);
  CHECK_FALSE(o.failed);
  CHECK(o.status == sdk::Status::BACKOFF);
  CHECK(m.source.getBackOffSleepIncrement() == 1);
  CHECK(m.source.getMaxBackOffSleepInterval() == 1);

  produceTo(k.bootstraps(), "t1", messages(0, 10));
  m.processor.refuse = true;
  REQUIRE(waitFor(
      [&] {
        o = sdk::HostAccess::process(m.source);
        return m.processor.refusedCalls.load() >= 1;
      },
      30s));
  CHECK(o.status == sdk::Status::BACKOFF);
  CHECK(m.source.getBackOffSleepIncrement() == sdk::PollableSource::kDefaultBackOffSleepIncrement);
  CHECK(m.source.getMaxBackOffSleepInterval() == sdk::PollableSource::kDefaultMaxBackOffSleep);
  // Set in the config, Flume's keys apply to empty polls too: the host reads them and they win
  // over these getters (tests/runtime/test_runners.cpp).
}

TEST_CASE("offsets are committed only after the channels accepted the batch") {
  MockKafka k;
  k.createTopic("t1", 2);
  produceTo(k.bootstraps(), "t1", messages(0, 100));
  {
    Member m(k.bootstraps(), {{"batchSize", "30"}});
    m.processor.refuse = true;
    // Refused batches are read again: the same messages, nothing skipped.
    REQUIRE(waitFor(
        [&] {
          (void)sdk::HostAccess::process(m.source);
          return m.processor.refusedCalls.load() >= 3;
        },
        30s));
    CHECK(m.counter("ChannelWriteFail") >= 3);
    m.processor.refuse = false;
    m.pumpUntil(100);
    CHECK(sorted(m.processor.snapshot()) == sorted(names(0, 100)));  // each once
  }
  // A new member of the group starts where the commits say: only new messages come.
  produceTo(k.bootstraps(), "t1", messages(100, 110));
  Member again(k.bootstraps(), {});
  again.pumpUntil(10);
  const auto deadline = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < deadline) (void)sdk::HostAccess::process(again.source);
  CHECK(sorted(again.processor.snapshot()) == sorted(names(100, 110)));
}

TEST_CASE("a source stopped before its channel accepted re-reads the uncommitted batch") {
  MockKafka k;
  k.createTopic("t1", 1);
  produceTo(k.bootstraps(), "t1", messages(0, 50));
  {
    Member m(k.bootstraps(), {});
    m.processor.refuse = true;
    REQUIRE(waitFor(
        [&] {
          (void)sdk::HostAccess::process(m.source);
          return m.processor.refusedCalls.load() >= 1;
        },
        30s));
  }  // stopped: nothing was committed
  Member again(k.bootstraps(), {});
  again.pumpUntil(50);
  CHECK(again.processor.snapshot() == names(0, 50));
}

TEST_CASE("useFlumeEventFormat: headers come back; a message that is not one keeps its bytes") {
  MockKafka k;
  k.createTopic("t1", 1);
  sdk::Event flumeEvent(sdk::Headers{{"host", "web1"}, {"timestamp", "123"}, {"topic", "orig"}},
                        "payload");
  KafkaRecord r1;
  r1.topic = "t1";
  kafka::encodeFlumeEvent(r1.value, flumeEvent);
  r1.hasKey = true;
  r1.key = "k";
  r1.headers = {{"trace-id", "abc"}};
  KafkaRecord r2;
  r2.topic = "t1";
  r2.value = "plain text";
  produceRecords(k.bootstraps(), {r1, r2});
  Member m(k.bootstraps(), {{"useFlumeEventFormat", "true"}, {"header.trace", "trace-id"}});
  m.pumpUntil(2);
  CHECK(m.processor.snapshot() == std::vector<std::string>{"payload", "plain text"});
  sdk::Headers h = m.processor.headersOf(0);
  CHECK(h.get("host") == "web1");
  CHECK(h.get("timestamp") == "123");  // kept: only absent headers are added
  CHECK(h.get("topic") == "orig");
  CHECK(h.get("key") == "k");
  CHECK(h.get("trace") == "abc");
  CHECK(h.get("partition") == "0");
  CHECK(h.get("offset") == "0");
  sdk::Headers h2 = m.processor.headersOf(1);
  CHECK(h2.get("topic") == "t1");
  CHECK_FALSE(h2.contains("key"));
  CHECK(m.counter("EventReadFail") == 1);
  CHECK(m.log.has("is not a Flume event"));
}

TEST_CASE("setTopicHeader = false and kafka.topics.regex") {
  MockKafka k;
  k.createTopic("logs-a", 1);
  k.createTopic("logs-b", 1);
  k.createTopic("other", 1);
  produceTo(k.bootstraps(), "logs-a", messages(0, 5));
  produceTo(k.bootstraps(), "logs-b", messages(5, 10));
  produceTo(k.bootstraps(), "other", messages(10, 15));
  Member m(k.bootstraps(), {{"kafka.topics.regex", "logs-.*"},
                            {"setTopicHeader", "false"},
                            {"kafka.consumer.topic.metadata.refresh.interval.ms", "500"}});
  m.pumpUntil(10);
  const auto deadline = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < deadline) (void)sdk::HostAccess::process(m.source);
  CHECK(sorted(m.processor.snapshot()) == sorted(names(0, 10)));
  CHECK_FALSE(m.processor.headersOf(0).contains("topic"));
}

TEST_CASE("two members of a group share the partitions; leaving hands them over, none lost") {
  MockKafka k;
  k.createTopic("t1", 4);
  auto a = std::make_unique<Member>(k.bootstraps(), KV{{"batchSize", "20"}});
  Member b(k.bootstraps(), {{"batchSize", "20"}});
  std::atomic<bool> stopA{false}, stopB{false};
  std::thread ta([&] {
    while (!stopA) (void)sdk::HostAccess::process(a->source);
  });
  std::thread tb([&] {
    while (!stopB) (void)sdk::HostAccess::process(b.source);
  });
  // Both joined and hold two partitions each.
  REQUIRE(waitFor(
      [&] { return a->source.assignedPartitions() == 2 && b.source.assignedPartitions() == 2; },
      40s));
  produceTo(k.bootstraps(), "t1", messages(0, 400, true));
  REQUIRE(waitFor([&] { return a->processor.count() + b.processor.count() >= 400; }, 30s));
  CHECK(a->processor.count() > 0);
  CHECK(b.processor.count() > 0);
  // a leaves the group: b gets every partition and reads on from the committed offsets.
  stopA = true;
  ta.join();
  std::vector<std::string> fromA = a->processor.snapshot();
  a.reset();
  REQUIRE(waitFor([&] { return b.source.assignedPartitions() == 4; }, 40s));
  produceTo(k.bootstraps(), "t1", messages(400, 500, true));
  REQUIRE(waitFor([&] { return fromA.size() + b.processor.count() >= 500; }, 30s));
  stopB = true;
  tb.join();
  std::vector<std::string> all = fromA;
  for (const auto& s : b.processor.snapshot()) all.push_back(s);
  std::set<std::string> unique(all.begin(), all.end());
  CHECK(unique.size() == 500);  // none lost
  CHECK(all.size() == 500);     // a clean hand-over repeats nothing
}

TEST_CASE("start and stop are repeatable") {
  MockKafka k;
  k.createTopic("t1", 1);
  Member m(k.bootstraps(), {}, false);
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    REQUIRE(sdk::HostAccess::start(m.source).ok());
    CHECK(sdk::HostAccess::start(m.source).ok());
    produceTo(k.bootstraps(), "t1", messages(round * 10, round * 10 + 10));
    m.pumpUntil(static_cast<std::size_t>(round) * 10 + 10);
    CHECK(sdk::HostAccess::stop(m.source).ok());
    CHECK(sdk::HostAccess::stop(m.source).ok());
  }
  CHECK(m.processor.snapshot() == names(0, 30));
}

// ---- partition.assignment.strategy: Kafka's assignor classes, checked on the mock cluster ----

namespace {

using PartitionSet = std::set<std::string>;  // "t1:0"

// Two members of one group, subscribed to t1 and t2 (3 partitions each) with `assignor`: once
// the group is settled, one message is produced to every partition; returns the partitions
// each member read from, the smaller set first.
std::pair<PartitionSet, PartitionSet> assignmentOf(const std::string& assignor) {
  MockKafka k;
  k.createTopic("t1", 3);
  k.createTopic("t2", 3);
  const KV extra{{"kafka.topics", "t1,t2"},
                 {"kafka.consumer.partition.assignment.strategy", assignor},
                 {"batchSize", "1"}};
  Member a(k.bootstraps(), extra);
  Member b(k.bootstraps(), extra);
  std::atomic<bool> stop{false};
  std::thread ta([&] {
    while (!stop) (void)sdk::HostAccess::process(a.source);
  });
  std::thread tb([&] {
    while (!stop) (void)sdk::HostAccess::process(b.source);
  });
  const bool settled = waitFor(
      [&] {
        return a.source.assignedPartitions() > 0 && b.source.assignedPartitions() > 0 &&
               a.source.assignedPartitions() + b.source.assignedPartitions() == 6;
      },
      40s);
  std::vector<KafkaRecord> records;
  for (const char* t : {"t1", "t2"})
    for (int p = 0; p < 3; ++p) {
      KafkaRecord r;
      r.topic = t;
      r.partition = p;
      r.value = std::string(t) + ":" + std::to_string(p);
      records.push_back(r);
    }
  if (settled) produceRecords(k.bootstraps(), records);
  const bool read =
      settled && waitFor([&] { return a.processor.count() + b.processor.count() >= 6; }, 30s);
  stop = true;
  ta.join();
  tb.join();
  REQUIRE_MESSAGE(settled, a.log.text() << b.log.text());
  REQUIRE(read);
  auto partitionsRead = [](Member& m) {
    PartitionSet out;
    for (std::size_t i = 0; i < m.processor.count(); ++i) {
      const sdk::Headers h = m.processor.headersOf(i);
      out.insert(h.get("topic") + ":" + h.get("partition"));
    }
    return out;
  };
  PartitionSet x = partitionsRead(a), y = partitionsRead(b);
  if (y.size() < x.size() || (y.size() == x.size() && y < x)) std::swap(x, y);
  return {x, y};
}

}  // namespace

TEST_CASE("RangeAssignor: librdkafka's range assignor, partition ranges per topic") {
  MockKafka k;
  Member m(k.bootstraps(),
           {{"kafka.consumer.partition.assignment.strategy",
             "org.apache.kafka.clients.consumer.RangeAssignor"}},
           false);
  CHECK(prop(m.source, "partition.assignment.strategy") == "range");
  // Per topic, the first member (by member id) takes partitions 0 and 1, the second 2.
  auto [smaller, larger] = assignmentOf("org.apache.kafka.clients.consumer.RangeAssignor");
  CHECK(smaller == PartitionSet{"t1:2", "t2:2"});
  CHECK(larger == PartitionSet{"t1:0", "t1:1", "t2:0", "t2:1"});
}

TEST_CASE("RoundRobinAssignor: librdkafka's roundrobin assignor, all partitions dealt in turn") {
  MockKafka k;
  Member m(k.bootstraps(),
           {{"kafka.consumer.partition.assignment.strategy",
             "org.apache.kafka.clients.consumer.RoundRobinAssignor"}},
           false);
  CHECK(prop(m.source, "partition.assignment.strategy") == "roundrobin");
  // t1:0 t1:1 t1:2 t2:0 t2:1 t2:2 dealt to the two members in turn.
  auto [x, y] = assignmentOf("org.apache.kafka.clients.consumer.RoundRobinAssignor");
  CHECK(x == PartitionSet{"t1:0", "t1:2", "t2:1"});
  CHECK(y == PartitionSet{"t1:1", "t2:0", "t2:2"});
}

TEST_CASE("StickyAssignor and CooperativeStickyAssignor: librdkafka's cooperative-sticky") {
  CaptureLogger log;
  KafkaSource src;
  sdk::Context ctx = contextOf({{"kafka.bootstrap.servers", "h:1"},
                                {"kafka.topics", "t1"},
                                {"kafka.consumer.partition.assignment.strategy",
                                 "org.apache.kafka.clients.consumer.StickyAssignor, "
                                 "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"}});
  // As configure() above, with the logger on the Context the host prepared.
  auto host = sluice::plugins::testing::prepareAsHost(sdk::ComponentKind::Source, "kafka",
                                                      kafka::kafkaSourceSchema(), ctx);
  REQUIRE(host.errors.empty());
  host.context.setLogger(&log);
  REQUIRE(sdk::HostAccess::configure(src, host.context).ok());
  CHECK(prop(src, "partition.assignment.strategy") == "cooperative-sticky");
  CHECK(log.text().find("StickyAssignor is done by librdkafka's cooperative-sticky") !=
        std::string::npos);
  auto [x, y] = assignmentOf("org.apache.kafka.clients.consumer.StickyAssignor");
  CHECK(x.size() == 3);  // balanced, every partition read once
  CHECK(y.size() == 3);
  PartitionSet all = x;
  all.insert(y.begin(), y.end());
  CHECK(all.size() == 6);
}

TEST_CASE("an assignor class that is not Kafka's is refused, naming librdkafka's assignors") {
  const std::string e =
      configureError({{"kafka.bootstrap.servers", "h:1"},
                      {"kafka.topics", "t"},
                      {"kafka.consumer.partition.assignment.strategy", "com.example.MyAssignor"}});
  CHECK(e.find("a1.sources.r1.kafka.consumer.partition.assignment.strategy: "
               "'com.example.MyAssignor' is not one of Kafka's own assignors") == 0);
  CHECK(e.find("range, roundrobin and cooperative-sticky") != std::string::npos);
}
