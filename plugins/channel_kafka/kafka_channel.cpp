#include "kafka_channel.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "config_keys.hpp"
#include "counter_layout.hpp"

namespace sluice::plugins::kafka {

using Clock = std::chrono::steady_clock;
using channeltx::TxState;
using std::chrono::milliseconds;

namespace {

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const noexcept {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

int64_t msSince(Clock::time_point t0) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
}

}  // namespace

const sdk::Schema& kafkaChannelSchema() {
  static const sdk::Schema schema{
      sdk::Key("kafka.bootstrap.servers")
          .string()
          .req()
          .doc("Brokers to connect to first, host:port[,host:port...]"),
      sdk::Key("kafka.topic").string().def("flume-channel").doc("Topic that holds the events"),
      sdk::Key("kafka.consumer.group.id")
          .string()
          .def("flume")
          .doc("Consumer group the channel's takers join"),
      sdk::Key("parseAsFlumeEvent")
          .boolean()
          .def("true")
          .doc("Messages are Flume's AvroFlumeEvent (headers kept); false: the body alone"),
      sdk::Key("pollTimeout")
          .longValue()
          .def("500")
          .range(0, 3600000)
          .doc("Longest time (ms) a take waits for messages when none are ready"),
      sdk::Key("kafka.pollTimeout").longValue().range(0, 3600000).doc("Same as pollTimeout"),
      sdk::Key("defaultPartitionId")
          .integer()
          .range(0, 2147483647)
          .doc("Partition every event goes to, unless partitionIdHeader says otherwise"),
      sdk::Key("partitionIdHeader")
          .string()
          .doc("Header whose integer value is the partition an event goes to"),
      sdk::Key("transactionCapacity")
          .integer()
          .def("10000")
          .range(1, 2147483647)
          .doc("Most events one put or take transaction may hold"),
      sdk::Key("migrateZookeeperOffsets")
          .boolean()
          .flumeIgnored("offsets are only ever in Kafka; there is nothing to migrate"),
      sdk::Key("capacity")
          .integer()
          .flumeIgnored("a Kafka channel holds what its topic holds; Flume ignores this key too"),
      sdk::Key("kafka.producer.*")
          .string()
          .doc("Producer properties, Java client or librdkafka names (see the Kafka sink)"),
      sdk::Key("kafka.consumer.*")
          .string()
          .doc("Consumer properties, Java client or librdkafka names (see the Kafka source)"),
  };
  return schema;
}

// ---- transactions --------------------------------------------------------------------------

class KafkaTransaction final : public sdk::Transaction {
 public:
  explicit KafkaTransaction(KafkaChannel& ch) : ch_(ch) {}
  ~KafkaTransaction() override {
    if (state_ == TxState::kOpen) rollback();
  }

  void begin() noexcept override {
    if (state_ == TxState::kOpen) return;
    puts_.clear();
    taken_.clear();
    origins_.clear();
    consumer_ = nullptr;
    state_ = TxState::kOpen;
  }

  sdk::Result putBatch(sdk::EventBatch& events) noexcept override {
    sdk::Result check = channeltx::checkPut(state_, puts_, events, ch_.s_.transactionCapacity,
                                            ch_.channelCounter());
    if (!check || events.empty()) return check;
    return channeltx::stagePut(puts_, events);
  }

  sdk::Result takeBatch(std::size_t max, std::span<sdk::Event>& taken) noexcept override {
    taken = {};
    if (state_ != TxState::kOpen) return channeltx::notOpen("takeBatch");
    if (taken_.size() + max > ch_.s_.transactionCapacity) {
      if (taken_.size() >= ch_.s_.transactionCapacity)
        return sdk::Result::failure(channeltx::takeListFull(ch_.s_.transactionCapacity, max));
      max = ch_.s_.transactionCapacity - taken_.size();
    }
    try {
      return take(max, taken);
    } catch (const std::exception& e) {
      return sdk::Result::failure(std::string("take failed: ") + e.what());
    }
  }

  sdk::Result commit() noexcept override {
    if (state_ != TxState::kOpen) return channeltx::notOpen("commit");
    sdk::ChannelCounter& counter = ch_.channelCounter();
    if (!puts_.empty()) {
      const auto n = static_cast<int64_t>(puts_.size());
      sdk::Result r = ch_.produceAndWait(puts_, scratch_);
      if (!r) return r;  // the caller rolls back
      counter.addToEventPutSuccessCount(n);
    }
    if (!origins_.empty()) {
      if (sdk::Result r = commitOffsets(); !r) return r;
      counter.addToEventTakeSuccessCount(static_cast<int64_t>(taken_.size()));
    }
    puts_.clear();
    taken_.clear();
    origins_.clear();
    state_ = TxState::kDone;
    return sdk::Result::success();
  }

  void rollback() noexcept override {
    if (state_ != TxState::kOpen) return;
    puts_.clear();
    if (!taken_.empty() && consumer_) {
      // Back to the head of this thread's redelivery list, in order (Flume's failedEvents).
      try {
        for (std::size_t i = taken_.size(); i-- > 0;)
          consumer_->redeliver.emplace_front(std::move(taken_[i]), origins_[i]);
      } catch (...) {
        // Out of memory: the events come again from the uncommitted offsets after a restart.
      }
      ch_.channelCounter().add(KafkaChannel::kRollbackCount, 1);
    }
    taken_.clear();
    origins_.clear();
    state_ = TxState::kDone;
  }

  void close() noexcept override {
    if (state_ == TxState::kOpen) rollback();
    state_ = TxState::kClosed;
  }

 private:
  sdk::Result take(std::size_t max, std::span<sdk::Event>& taken) {
    std::string error;
    TakeConsumer* c = ch_.consumerForThisThread(&error);
    if (!c) return sdk::Result::failure(error);
    if (consumer_ && consumer_ != c)
      return sdk::Result::failure("a take transaction must stay on the thread that began it");
    consumer_ = c;
    const std::size_t first = taken_.size();
    ch_.channelCounter().addToEventTakeAttemptCount(static_cast<int64_t>(max));
    while (taken_.size() - first < max && !c->redeliver.empty()) {
      taken_.push_back(std::move(c->redeliver.front().first));
      origins_.push_back(c->redeliver.front().second);
      c->redeliver.pop_front();
    }
    const std::size_t want = max - (taken_.size() - first);
    if (want > 0) {
      // Wait for messages only when there is nothing to hand out yet.
      const int timeout = taken_.size() > first ? 0 : static_cast<int>(ch_.s_.pollTimeout.count());
      if (c->msgs.size() < want) c->msgs.resize(want);
      const auto t0 = Clock::now();
      c->inConsume = true;
      c->revokedNow.clear();
      const ssize_t n = rd_kafka_consume_batch_queue(c->queue, timeout, c->msgs.data(), want);
      c->inConsume = false;
      for (ssize_t i = 0; i < n; ++i) {
        rd_kafka_message_t* m = c->msgs[static_cast<std::size_t>(i)];
        const bool revoked = std::find(c->revokedNow.begin(), c->revokedNow.end(), m->partition) !=
                             c->revokedNow.end();
        if (m->err) {
          if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            c->events.logger().warn("Kafka channel consumer error: ", errText(m->err));
        } else if (!revoked) {
          sdk::Event& e = taken_.emplace_back();
          origins_.push_back(Origin{m->partition, m->offset});
          if (!ch_.decode(m, e)) {
            // Not an AvroFlumeEvent: keep the bytes as the body rather than lose them.
            e.headers.clear();
            e.body.assign(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
          }
          if (m->key)
            e.headers.set("key", std::string_view(static_cast<const char*>(m->key), m->key_len));
        }
        rd_kafka_message_destroy(m);
      }
      if (n > 0) ch_.channelCounter().add(KafkaChannel::kKafkaEventGetTimer, msSince(t0));
    }
    taken = std::span<sdk::Event>(taken_).subspan(first);
    return sdk::Result::success();
  }

  sdk::Result commitOffsets() {
    // The next offset of every partition this transaction took from.
    PartitionList offsets(rd_kafka_topic_partition_list_new(8));
    for (const Origin& o : origins_) {
      rd_kafka_topic_partition_t* p =
          rd_kafka_topic_partition_list_find(offsets.get(), ch_.s_.topic.c_str(), o.partition);
      if (!p)
        p = rd_kafka_topic_partition_list_add(offsets.get(), ch_.s_.topic.c_str(), o.partition);
      if (p->offset < o.offset + 1) p->offset = o.offset + 1;
    }
    const auto t0 = Clock::now();
    rd_kafka_resp_err_t e = rd_kafka_commit(consumer_->rk, offsets.get(), 0);
    ch_.channelCounter().add(KafkaChannel::kKafkaCommitTimer, msSince(t0));
    if (e) return sdk::Result::failure("committing the take's offsets failed: " + errText(e));
    return sdk::Result::success();
  }

  KafkaChannel& ch_;
  TxState state_ = TxState::kNew;
  sdk::EventBatch puts_;
  sdk::EventBatch taken_;
  std::vector<Origin> origins_;
  TakeConsumer* consumer_ = nullptr;
  std::string scratch_;
};

// ---- the channel ---------------------------------------------------------------------------

KafkaChannel::KafkaChannel() {
  counter_layout::addInOrder(
      channelCounter(), kKafkaEventGetTimer,
      {"KafkaEventGetTimer", "KafkaEventSendTimer", "KafkaCommitTimer", "RollbackCount"},
      "kafka channel");
  producerEvents_.owner = this;
}

KafkaChannel::~KafkaChannel() { stop(); }

void KafkaChannel::configure(const sdk::Context& context) {
  KafkaChannelSettings s;
  path_ = context.path();
  s.bootstrapServers = trimCopy(context.requireString("kafka.bootstrap.servers"));
  // A blank topic or group id is the default one, as Flume reads an empty group id.
  s.topic = trimCopy(requireValue(context, "kafka.topic"));
  if (s.topic.empty()) s.topic = schemaDefault(kafkaChannelSchema(), "kafka.topic");
  s.groupId = trimCopy(requireValue(context, "kafka.consumer.group.id"));
  if (s.groupId.empty()) s.groupId = schemaDefault(kafkaChannelSchema(), "kafka.consumer.group.id");
  s.parseAsFlumeEvent = requireBoolean(context, "parseAsFlumeEvent");
  // Flume's code reads kafka.pollTimeout, its guide says pollTimeout: both work.
  s.pollTimeout = milliseconds(
      context.getLong("kafka.pollTimeout").value_or(requireLong(context, "pollTimeout")));
  s.defaultPartitionId = context.getInteger("defaultPartitionId");
  s.partitionIdHeader = trimCopy(context.getString("partitionIdHeader", ""));
  s.transactionCapacity = static_cast<std::size_t>(requireInteger(context, "transactionCapacity"));

  // Flume's channel producer defaults to acks = all (its sink to 1).
  setProperty(s.producer, "acks", "all");
  setProperty(s.producer, "partitioner", "murmur2_random");
  setProperty(s.producer, "client.id", "sluice");
  setProperty(s.producer, "log.connection.close", "false");
  translateAll(Role::Producer, context, "kafka.producer.", s.producer);
  setProperty(s.producer, "bootstrap.servers", s.bootstrapServers, "kafka.bootstrap.servers");
  const Property* idem = findProperty(s.producer, "enable.idempotence");
  const Property* acks = findProperty(s.producer, "acks");
  if (idem && lowerCopy(idem->value) == "true" && acks->value != "all" && acks->value != "-1")
    context.fail("kafka.producer.acks",
                 "must be all (or -1) when kafka.producer.enable.idempotence = true");
  (void)buildConf(s.producer, context);

  // Flume's channel consumer starts a new group at the earliest offset.
  setProperty(s.consumer, "auto.offset.reset", "earliest");
  setProperty(s.consumer, "client.id", "sluice");
  setProperty(s.consumer, "log.connection.close", "false");
  translateAll(Role::Consumer, context, "kafka.consumer.", s.consumer);
  setProperty(s.consumer, "bootstrap.servers", s.bootstrapServers, "kafka.bootstrap.servers");
  setProperty(s.consumer, "group.id", s.groupId, "kafka.consumer.group.id");
  setProperty(s.consumer, "enable.auto.commit", "false");
  setProperty(s.consumer, "enable.auto.offset.store", "false");
  (void)buildConf(s.consumer, context);

  s_ = std::move(s);
  configured_ = true;
}

void KafkaChannel::start() {
  if (!configured_) throw std::runtime_error("start() before configure()");
  if (producer_) return;
  sdk::Context ctx(path_);
  ctx.setLogger(&logger());
  ConfPtr conf = buildConf(s_.producer, ctx);
  producerEvents_.setLogger(&logger());
  producerEvents_.install(conf.get());
  installJavaPartitioner(partitioner_, conf.get(), s_.producer);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaChannel::onDelivery);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (!rk) throw std::runtime_error("cannot create the Kafka producer: " + std::string(err));
  (void)conf.release();
  producer_ = rk;
  topic_ = rd_kafka_topic_new(producer_, s_.topic.c_str(), nullptr);
  running_ = true;
  channelCounter().setChannelCapacity(0);  // unknown: the topic's
  logger().info("events are kept in topic ", s_.topic, " at ", s_.bootstrapServers, " (group ",
                s_.groupId, ")");
}

void KafkaChannel::stop() {
  running_ = false;
  {
    std::lock_guard lock(consumersMutex_);
    for (auto& c : consumers_) {
      if (c->queue) rd_kafka_queue_destroy(c->queue);
      if (c->rk) {
        (void)rd_kafka_consumer_close(c->rk);
        rd_kafka_destroy(c->rk);
      }
    }
    consumers_.clear();
  }
  if (producer_) {
    (void)rd_kafka_flush(producer_, 10000);
    if (topic_) rd_kafka_topic_destroy(topic_);
    topic_ = nullptr;
    rd_kafka_destroy(producer_);
    producer_ = nullptr;
  }
}

std::unique_ptr<sdk::Transaction> KafkaChannel::getTransaction() {
  return std::make_unique<KafkaTransaction>(*this);
}

void KafkaChannel::onDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque) {
  (void)rk;
  (void)opaque;
  auto* d = static_cast<PutDelivery*>(msg->_private);
  if (!d) return;
  if (msg->err) {
    if (d->failed.fetch_add(1) == 0) {
      std::lock_guard lock(d->errorMutex);
      d->firstError = "Kafka did not acknowledge an event (partition " +
                      std::to_string(msg->partition) + "): " + errText(msg->err);
    }
  }
  d->outstanding.fetch_sub(1, std::memory_order_acq_rel);  // last: the committer may return
}

sdk::Result KafkaChannel::produceAndWait(sdk::EventBatch& events, std::string& scratch) {
  if (!producer_ || !running_) return sdk::Result::failure("the Kafka channel is not started");
  PutDelivery d;
  const auto t0 = Clock::now();
  std::string error;
  for (const sdk::Event& e : events) {
    int32_t partition = RD_KAFKA_PARTITION_UA;
    if (!partitionFor(e, s_.partitionIdHeader, s_.defaultPartitionId, &partition, &error)) break;
    std::string_view value = e.body;
    if (s_.parseAsFlumeEvent) {
      scratch.clear();
      encodeFlumeEvent(scratch, e);
      value = scratch;
    }
    const std::string* key = e.headers.find("key");
    d.outstanding.fetch_add(1, std::memory_order_relaxed);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (;;) {
      err = rd_kafka_producev(producer_, RD_KAFKA_V_RKT(topic_), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                              RD_KAFKA_V_KEY(key ? key->data() : nullptr, key ? key->size() : 0),
                              RD_KAFKA_V_OPAQUE(&d), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || msSince(t0) > 30000) break;
      (void)rd_kafka_poll(producer_, 10);
    }
    if (err) {
      d.outstanding.fetch_sub(1);
      error = "cannot produce to topic '" + s_.topic + "': " + errText(err);
      break;
    }
  }
  // Every message produced carries &d: wait for all their reports (librdkafka delivers one
  // per message within message.timeout.ms) before d goes out of scope.
  while (d.outstanding.load(std::memory_order_acquire) > 0) (void)rd_kafka_poll(producer_, 5);
  channelCounter().add(kKafkaEventSendTimer, msSince(t0));
  if (!error.empty()) return sdk::Result::failure(error);
  if (d.failed.load() > 0) {
    std::lock_guard lock(d.errorMutex);
    return sdk::Result::failure(d.firstError);
  }
  return sdk::Result::success();
}

bool KafkaChannel::decode(const rd_kafka_message_t* msg, sdk::Event& out) {
  const std::string_view value(static_cast<const char*>(msg->payload), msg->payload ? msg->len : 0);
  if (!s_.parseAsFlumeEvent) {
    out.body.assign(value.data(), value.size());
    return true;
  }
  if (decodeFlumeEvent(value, out)) return true;
  const int64_t now = Clock::now().time_since_epoch().count();
  int64_t next = nextDecodeWarn_.load(std::memory_order_relaxed);
  if (now >= next &&
      nextDecodeWarn_.compare_exchange_strong(
          next,
          now + std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(10)).count()))
    logger().warn("a message at partition ", msg->partition, " offset ", msg->offset,
                  " is not a Flume event (parseAsFlumeEvent = true); its bytes are the body "
                  "(logged once per 10 s)");
  return false;
}

TakeConsumer* KafkaChannel::consumerForThisThread(std::string* error) {
  const std::thread::id me = std::this_thread::get_id();
  std::lock_guard lock(consumersMutex_);
  for (auto& c : consumers_)
    if (c->thread == me) return c.get();
  if (!running_) {
    *error = "the Kafka channel is not started";
    return nullptr;
  }
  auto c = std::make_unique<TakeConsumer>();
  c->thread = me;
  c->events.owner = c.get();
  c->events.setLogger(&logger());
  sdk::Context ctx(path_);
  ctx.setLogger(&logger());
  ConfPtr conf = buildConf(s_.consumer, ctx);
  c->events.install(conf.get());
  rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaChannel::onRebalance);
  char err[512];
  c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
  if (!c->rk) {
    *error = "cannot create the Kafka consumer: " + std::string(err);
    return nullptr;
  }
  (void)conf.release();
  rd_kafka_poll_set_consumer(c->rk);
  PartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), s_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, topics.get()); e) {
    rd_kafka_destroy(c->rk);
    *error = "cannot subscribe to " + s_.topic + ": " + errText(e);
    return nullptr;
  }
  c->queue = rd_kafka_queue_get_consumer(c->rk);
  logger().info("a new consumer of topic ", s_.topic, " for a taking thread");
  consumers_.push_back(std::move(c));
  return consumers_.back().get();
}

void KafkaChannel::onRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* c = static_cast<TakeConsumer*>(static_cast<ClientEvents*>(opaque)->owner);
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, partitions))
        rd_kafka_error_destroy(e);
    } else {
      (void)rd_kafka_assign(rk, partitions);
    }
    return;
  }
  // Revoked or lost: events of those partitions waiting for redelivery go (their next owner
  // reads them from the committed offset), and so do messages of them fetched in this call.
  auto revoked = [&](int32_t p) {
    for (int i = 0; i < partitions->cnt; ++i)
      if (partitions->elems[i].partition == p) return true;
    return false;
  };
  std::erase_if(c->redeliver, [&](const auto& item) { return revoked(item.second.partition); });
  if (c->inConsume)
    for (int i = 0; i < partitions->cnt; ++i)
      c->revokedNow.push_back(partitions->elems[i].partition);
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, partitions))
      rd_kafka_error_destroy(e);
  } else {
    (void)rd_kafka_assign(rk, nullptr);
  }
}

}  // namespace sluice::plugins::kafka
