#include "kafka_sink.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "config_keys.hpp"
#include "counter_layout.hpp"

namespace sluice::plugins::kafka {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const sdk::Schema& kafkaSinkSchema() {
  static const sdk::Schema schema{
      sdk::Key("kafka.bootstrap.servers")
          .string()
          .req()
          .doc("Brokers to connect to first, host:port[,host:port...]"),
      sdk::Key("kafka.topic")
          .string()
          .def("default-flume-topic")
          .doc("Topic to produce to; %{header} is replaced by that header's value"),
      sdk::Key("flumeBatchSize")
          .integer()
          .def("100")
          .range(1, 1000000)
          .doc("Events taken from the channel, produced and acknowledged per transaction"),
      sdk::Key("kafka.producer.acks")
          .oneOf({"0", "1", "-1", "all"})
          .doc("Broker acknowledgements a message needs: 0, 1 (leader) or all (-1); unset: 1, or "
               "all with kafka.producer.enable.idempotence = true"),
      sdk::Key("useFlumeEventFormat")
          .boolean()
          .def("false")
          .doc("Write Flume's AvroFlumeEvent (headers and body) instead of the body alone"),
      sdk::Key("defaultPartitionId")
          .integer()
          .range(0, 2147483647)
          .doc("Partition every event goes to, unless partitionIdHeader says otherwise"),
      sdk::Key("partitionIdHeader")
          .string()
          .doc("Header whose integer value is the partition an event goes to"),
      sdk::Key("allowTopicOverride")
          .boolean()
          .def("true")
          .doc("Let the header named by topicHeader choose an event's topic"),
      sdk::Key("topicHeader")
          .string()
          .def("topic")
          .doc("Header holding the topic when allowTopicOverride is true"),
      sdk::Key("timestampHeader")
          .string()
          .doc("Header whose value (ms since the epoch) becomes the message timestamp"),
      sdk::Key("header.*")
          .string()
          .doc("header.NAME = KAFKA_NAME sends the Flume header NAME as Kafka record header "
               "KAFKA_NAME"),
      sdk::Key("kafka.producer.*")
          .string()
          .doc("Producer properties, Java client or librdkafka names (see the README)"),
  };
  return schema;
}

KafkaSink::KafkaSink() {
  counter_layout::addInOrder(sinkCounter(), kKafkaEventSendTimer,
                             {"KafkaEventSendTimer", "RollbackCount"}, "kafka sink");
  events_.owner = this;
}

KafkaSink::~KafkaSink() { stop(); }

void KafkaSink::configure(const sdk::Context& context) {
  KafkaSinkSettings s;
  path_ = context.path();
  s.bootstrapServers = trimCopy(context.requireString("kafka.bootstrap.servers"));
  s.topic = trimCopy(requireValue(context, "kafka.topic"));
  if (s.topic.empty()) s.topic = schemaDefault(kafkaSinkSchema(), "kafka.topic");  // as blank
  s.topicHasEscapes = s.topic.find("%{") != std::string::npos;
  s.batchSize = static_cast<std::size_t>(requireInteger(context, "flumeBatchSize"));
  s.useFlumeEventFormat = requireBoolean(context, "useFlumeEventFormat");
  s.defaultPartitionId = context.getInteger("defaultPartitionId");
  s.partitionIdHeader = trimCopy(context.getString("partitionIdHeader", ""));
  s.allowTopicOverride = requireBoolean(context, "allowTopicOverride");
  s.topicHeader = trimCopy(requireValue(context, "topicHeader"));
  s.timestampHeader = trimCopy(context.getString("timestampHeader", ""));
  for (const auto& [key, p] : context.parameters())
    if (key.rfind("header.", 0) == 0 && key.size() > 7) {
      const std::string kafkaName = trimCopy(p.value);
      if (kafkaName.empty()) context.fail(key, "needs the Kafka header name to send it as");
      s.headerMap.emplace_back(key.substr(7), kafkaName);
    }

  // Producer properties: sluice's defaults, then the user's kafka.producer.* keys, then the
  // dedicated keys, which win (as in Flume). acks has no schema default, since its absence
  // means 1, or all with enable.idempotence.
  Properties& props = s.producer;
  setProperty(props, "acks", "1");
  setProperty(props, "partitioner", "murmur2_random");  // the Java client's key hashing
  setProperty(props, "client.id", "sluice");
  setProperty(props, "log.connection.close", "false");
  translateAll(Role::Producer, context, "kafka.producer.", props);
  if (context.containsKey("kafka.producer.bootstrap.servers"))
    context.logger().warn(context.describe("kafka.producer.bootstrap.servers"),
                          ": ignored: kafka.bootstrap.servers sets the brokers");
  setProperty(props, "bootstrap.servers", s.bootstrapServers, "kafka.bootstrap.servers");

  const Property* idem = findProperty(props, "enable.idempotence");
  if (idem && lowerCopy(idem->value) == "true") {
    const Property* acks = findProperty(props, "acks");
    if (!context.containsKey("kafka.producer.acks")) {
      setProperty(props, "acks", "all");
    } else if (acks->value != "all" && acks->value != "-1") {
      context.fail("kafka.producer.acks",
                   "must be all (or -1) when "
                   "kafka.producer.enable.idempotence = true, got " +
                       acks->value);
    }
  }
  (void)buildConf(props, context);  // every property checked now, not at start()

  s_ = std::move(s);
  configured_ = true;
}

void KafkaSink::onDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque) {
  (void)rk;
  auto* self = static_cast<KafkaSink*>(static_cast<ClientEvents*>(opaque)->owner);
  Delivery& d = self->delivery_;
  if (reinterpret_cast<uintptr_t>(msg->_private) != d.generation) return;  // an old batch's
  --d.outstanding;
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  if (++d.failed == 1) {
    const char* topic = msg->rkt ? rd_kafka_topic_name(msg->rkt) : "?";
    d.firstError = "Kafka did not acknowledge a message to topic '" + std::string(topic) +
                   "' partition " + std::to_string(msg->partition) + ": " + errText(msg->err);
  }
}

void KafkaSink::createProducer() {
  sdk::Context ctx(path_);
  ctx.setLogger(&logger());
  ConfPtr conf = buildConf(s_.producer, ctx);
  events_.setLogger(&logger());
  events_.install(conf.get());
  installJavaPartitioner(partitioner_, conf.get(), s_.producer);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaSink::onDelivery);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (!rk) throw std::runtime_error("cannot create the Kafka producer: " + std::string(err));
  (void)conf.release();  // rd_kafka_new took it
  rk_ = rk;
  sinkCounter().incrementConnectionCreatedCount();
}

void KafkaSink::destroyProducer() noexcept {
  if (!rk_) return;
  for (auto& [name, rkt] : topics_) rd_kafka_topic_destroy(rkt);
  topics_.clear();
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
  sinkCounter().incrementConnectionClosedCount();
}

void KafkaSink::start() {
  if (!configured_) throw std::runtime_error("start() before configure()");
  if (rk_) return;
  createProducer();
  logger().info("producing to ", s_.bootstrapServers, ", topic ", s_.topic, " (acks ",
                findProperty(s_.producer, "acks")->value, ")");
}

void KafkaSink::stop() {
  if (!rk_) return;
  if (tx_) {
    // The open batch gets kStopFlush to be acknowledged; otherwise it goes back to the channel.
    (void)awaitBatch(kStopFlush);
    if (tx_) (void)failBatch("stopped before Kafka acknowledged the batch");
  }
  // Nothing of ours is left in librdkafka's queues, unless a rolled-back batch's messages are
  // still in flight: give them a moment, then drop them (their batch is in the channel again).
  if (rd_kafka_flush(rk_, 1000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    (void)rd_kafka_flush(rk_, 1000);
  }
  destroyProducer();
}

rd_kafka_topic_t* KafkaSink::topicHandle(std::string_view name, bool* temporary) {
  *temporary = false;
  for (auto& [n, rkt] : topics_)
    if (n == name) return rkt;
  std::string owned(name);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, owned.c_str(), nullptr);
  if (!rkt) return nullptr;
  if (topics_.size() < kMaxTopicHandles) {
    topics_.emplace_back(std::move(owned), rkt);
  } else {
    *temporary = true;
  }
  return rkt;
}

// Flume: the topic header wins when allowTopicOverride is on; otherwise kafka.topic, whose
// %{header} escapes are replaced by the event's headers (a missing header becomes "").
const std::string& KafkaSink::topicFor(const sdk::Event& event) {
  if (s_.allowTopicOverride)
    if (const std::string* t = event.headers.find(s_.topicHeader)) return *t;
  if (!s_.topicHasEscapes) return s_.topic;
  topicScratch_.clear();
  const std::string& t = s_.topic;
  for (std::size_t i = 0; i < t.size();) {
    if (t.compare(i, 2, "%{") == 0) {
      const std::size_t end = t.find('}', i + 2);
      if (end != std::string::npos) {
        if (const std::string* v =
                event.headers.find(std::string_view(t).substr(i + 2, end - i - 2)))
          topicScratch_ += *v;
        i = end + 1;
        continue;
      }
    }
    topicScratch_ += t[i++];
  }
  return topicScratch_;
}

bool KafkaSink::produce(const sdk::Event& event, std::string* error) {
  const std::string& topic = topicFor(event);
  bool temporary = false;
  rd_kafka_topic_t* rkt = topicHandle(topic, &temporary);
  if (!rkt) {
    *error = "cannot use topic '" + topic + "': " + errText(rd_kafka_last_error());
    return false;
  }

  int32_t partition = RD_KAFKA_PARTITION_UA;
  if (!partitionFor(event, s_.partitionIdHeader, s_.defaultPartitionId, &partition, error)) {
    if (temporary) rd_kafka_topic_destroy(rkt);
    return false;
  }

  std::string_view value = event.body;
  if (s_.useFlumeEventFormat) {
    scratch_.clear();
    encodeFlumeEvent(scratch_, event);
    value = scratch_;
  }

  vus_.clear();
  rd_kafka_vu_t vu{};
  vu.vtype = RD_KAFKA_VTYPE_RKT;
  vu.u.rkt = rkt;
  vus_.push_back(vu);
  vu.vtype = RD_KAFKA_VTYPE_PARTITION;
  vu.u.i32 = partition;
  vus_.push_back(vu);
  vu.vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vu.u.i = RD_KAFKA_MSG_F_COPY;
  vus_.push_back(vu);
  vu.vtype = RD_KAFKA_VTYPE_VALUE;
  vu.u.mem.ptr = const_cast<char*>(value.data());
  vu.u.mem.size = value.size();
  vus_.push_back(vu);
  if (const std::string* key = event.headers.find("key")) {
    vu.vtype = RD_KAFKA_VTYPE_KEY;
    vu.u.mem.ptr = const_cast<char*>(key->data());
    vu.u.mem.size = key->size();
    vus_.push_back(vu);
  }
  if (!s_.timestampHeader.empty())
    if (const std::string* ts = event.headers.find(s_.timestampHeader)) {
      int64_t ms = 0;
      auto [ptr, ec] = std::from_chars(ts->data(), ts->data() + ts->size(), ms);
      if (ec == std::errc() && ptr == ts->data() + ts->size() && ms > 0) {
        vu.vtype = RD_KAFKA_VTYPE_TIMESTAMP;
        vu.u.i64 = ms;
        vus_.push_back(vu);
      } else {
        logger().warn("Invalid timestamp in header ", s_.timestampHeader, " - ", *ts);
      }
    }
  for (const auto& [flumeName, kafkaName] : s_.headerMap)
    if (const std::string* v = event.headers.find(flumeName)) {
      vu.vtype = RD_KAFKA_VTYPE_HEADER;
      vu.u.header.name = kafkaName.c_str();
      vu.u.header.val = v->data();
      vu.u.header.size = static_cast<ssize_t>(v->size());
      vus_.push_back(vu);
    }
  vu.vtype = RD_KAFKA_VTYPE_OPAQUE;
  // The batch's generation as a tag: compared in onDelivery, never dereferenced.
  vu.u.ptr = reinterpret_cast<void*>(  // NOLINT(performance-no-int-to-ptr)
      static_cast<uintptr_t>(delivery_.generation));
  vus_.push_back(vu);

  // A full local queue (queue.buffering.max.messages/kbytes) drains as reports come in.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    rd_kafka_error_t* err = rd_kafka_produceva(rk_, vus_.data(), vus_.size());
    if (!err) break;
    const rd_kafka_resp_err_t code = rd_kafka_error_code(err);
    const std::string text = rd_kafka_error_string(err);
    rd_kafka_error_destroy(err);
    if (code == RD_KAFKA_RESP_ERR__QUEUE_FULL && Clock::now() < deadline) {
      (void)rd_kafka_poll(rk_, 10);
      continue;
    }
    if (temporary) rd_kafka_topic_destroy(rkt);
    *error =
        "cannot produce to topic '" + topic + "': " + text + " (" + rd_kafka_err2name(code) + ")";
    return false;
  }
  if (temporary) rd_kafka_topic_destroy(rkt);
  ++delivery_.outstanding;
  return true;
}

sdk::Status KafkaSink::process() {
  if (!rk_) return deliveryFailed("the Kafka sink is not started");
  if (tx_) return awaitBatch(kAwaitSlice);

  if (events_.fatal()) {
    // An idempotent producer that hit a fatal error cannot produce any more: start over.
    logger().warn("recreating the Kafka producer after a fatal error");
    destroyProducer();
    events_.clearFatal();
    createProducer();
  }

  tx_.emplace(*this, s_.batchSize);
  if (!tx_->ok()) {
    std::string why = tx_->error();
    closeTx();  // rolls back
    return deliveryFailed(why);
  }
  if (tx_->empty()) {
    closeTx();
    return sdk::Status::BACKOFF;
  }
  const std::span<sdk::Event> batch = tx_->events();
  batchEvents_ = batch.size();
  batchStart_ = Clock::now();
  ++delivery_.generation;
  delivery_.outstanding = 0;
  delivery_.failed = 0;
  delivery_.firstError.clear();
  std::string error;
  for (const sdk::Event& e : batch)
    if (!produce(e, &error)) return failBatch(error);
  return awaitBatch(kAwaitSlice);
}

sdk::Status KafkaSink::awaitBatch(milliseconds budget) {
  const auto deadline = Clock::now() + budget;
  while (delivery_.outstanding > 0 && delivery_.failed == 0) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    // flush() sends what linger.ms would hold back and serves the delivery reports.
    (void)rd_kafka_flush(rk_, static_cast<int>(std::min<int64_t>(left.count(), 100)));
  }
  if (delivery_.failed > 0) return failBatch(delivery_.firstError);
  if (delivery_.outstanding > 0) return sdk::Status::READY;  // still waiting: call again
  return finishBatch();
}

sdk::Status KafkaSink::finishBatch() {
  sdk::SinkCounter& counter = sinkCounter();
  if (sdk::Result r = tx_->commit(); !r) {
    // The messages are in Kafka; the events come again from the channel (duplicates).
    closeTx();  // rolls back
    counter.increment(kRollbackCount);
    return deliveryFailed("Kafka acknowledged the batch but the take did not commit: " + r.error());
  }
  const auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - batchStart_).count();
  counter.add(kKafkaEventSendTimer, ms);
  closeTx();
  // Flume reports a short batch as READY too; BACKOFF only for an empty channel.
  return sdk::Status::READY;
}

sdk::Status KafkaSink::failBatch(const std::string& why) {
  // Messages of this batch not yet sent are dropped, so they do not arrive after the events
  // are delivered again; reports still to come for it are ignored (generation). The purge is
  // blocking on purpose: a purge still running in librdkafka's threads would also drop the next
  // batch's messages.
  if (rk_) rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE);
  ++delivery_.generation;
  delivery_.outstanding = 0;
  sdk::SinkCounter& counter = sinkCounter();
  counter.incrementEventWriteFail();
  counter.increment(kRollbackCount);
  if (events_.brokersDown()) counter.incrementConnectionFailedCount();
  events_.clearBrokersDown();
  closeTx();  // rolls back
  return deliveryFailed("Failed to publish events: " + why);
}

void KafkaSink::closeTx() noexcept {
  tx_.reset();
  batchEvents_ = 0;
}

}  // namespace sluice::plugins::kafka
