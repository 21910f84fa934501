#include "kafka_source.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "config_keys.hpp"
#include "counter_layout.hpp"
#include "source_put.hpp"

namespace sluice::plugins::kafka {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

int64_t nowMillis() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const noexcept {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

bool listHas(const rd_kafka_topic_partition_list_t* list, const std::string& topic,
             int32_t partition) {
  if (!list) return false;
  for (int i = 0; i < list->cnt; ++i)
    if (list->elems[i].partition == partition && topic == list->elems[i].topic) return true;
  return false;
}

}  // namespace

const sdk::Schema& kafkaSourceSchema() {
  static const sdk::Schema schema{
      sdk::Key("kafka.bootstrap.servers")
          .string()
          .req()
          .doc("Brokers to connect to first, host:port[,host:port...]"),
      sdk::Key("kafka.topics").string().doc("Comma-separated topics to read"),
      sdk::Key("kafka.topics.regex")
          .string()
          .doc("Read every topic whose whole name matches this regex (wins over kafka.topics)"),
      sdk::Key("kafka.consumer.group.id")
          .string()
          .def("flume")
          .doc("Consumer group; sources with the same group share the partitions"),
      sdk::Key("batchSize")
          .integer()
          .def("1000")
          .range(1, 1000000)
          .doc("Most messages written to the channels in one batch"),
      sdk::Key("batchDurationMillis")
          .integer()
          .def("1000")
          .range(1, 3600000)
          .doc("Longest time (ms) a batch is collected before it is written"),
      sdk::Key("useFlumeEventFormat")
          .boolean()
          .def("false")
          .doc("Read messages as Flume's AvroFlumeEvent (headers and body)"),
      sdk::Key("setTopicHeader")
          .boolean()
          .def("true")
          .doc("Put the message's topic into the header named by topicHeader"),
      sdk::Key("topicHeader")
          .string()
          .def("topic")
          .doc("Header that receives the topic when setTopicHeader is true"),
      sdk::Key("header.*")
          .string()
          .doc("header.NAME = KAFKA_NAME sets Flume header NAME from Kafka record header "
               "KAFKA_NAME"),
      sdk::Key("migrateZookeeperOffsets")
          .boolean()
          .flumeIgnored("offsets are only ever in Kafka; there is nothing to migrate"),
      sdk::Key("kafka.consumer.*")
          .string()
          .doc("Consumer properties, Java client or librdkafka names (see the README)"),
  };
  return schema;
}

KafkaSource::KafkaSource() {
  counter_layout::addInOrder(
      sourceCounter(), kKafkaEventGetTimer,
      {"KafkaEventGetTimer", "KafkaCommitTimer", "KafkaEmptyCount", "KafkaCommitFailCount"},
      "kafka source");
  events_.owner = this;
}

KafkaSource::~KafkaSource() { stop(); }

void KafkaSource::configure(const sdk::Context& context) {
  KafkaSourceSettings s;
  path_ = context.path();
  s.bootstrapServers = trimCopy(context.requireString("kafka.bootstrap.servers"));
  s.topicsRegex = trimCopy(context.getString("kafka.topics.regex", ""));
  if (!s.topicsRegex.empty()) {
    // librdkafka subscribes by regex when a name starts with '^'; Java matches the whole name.
    s.topics.push_back("^(" + s.topicsRegex + ")$");
  } else {
    s.topics = splitList(context.getString("kafka.topics", ""));
    if (s.topics.empty())
      context.fail("kafka.topics",
                   "at least one Kafka topic must be specified (kafka.topics "
                   "or kafka.topics.regex)");
    for (const std::string& t : s.topics)
      if (t[0] == '^')
        context.fail("kafka.topics", "'" + t + "' looks like a regex; use kafka.topics.regex");
  }
  // Flume reads an empty group id as the default one.
  s.groupId = trimCopy(requireValue(context, "kafka.consumer.group.id"));
  if (s.groupId.empty()) s.groupId = schemaDefault(kafkaSourceSchema(), "kafka.consumer.group.id");
  s.batchSize = static_cast<std::size_t>(requireInteger(context, "batchSize"));
  s.batchDuration = milliseconds(requireInteger(context, "batchDurationMillis"));
  s.useFlumeEventFormat = requireBoolean(context, "useFlumeEventFormat");
  s.setTopicHeader = requireBoolean(context, "setTopicHeader");
  s.topicHeader = trimCopy(requireValue(context, "topicHeader"));
  if (s.setTopicHeader && s.topicHeader.empty())
    context.fail("topicHeader", "must name a header when setTopicHeader is true");
  for (const auto& [key, p] : context.parameters())
    if (key.rfind("header.", 0) == 0 && key.size() > 7) {
      const std::string kafkaName = trimCopy(p.value);
      if (kafkaName.empty()) context.fail(key, "needs the Kafka header name to read it from");
      s.headerMap.emplace_back(key.substr(7), kafkaName);
    }

  Properties& props = s.consumer;
  setProperty(props, "client.id", "sluice");
  setProperty(props, "log.connection.close", "false");
  translateAll(Role::Consumer, context, "kafka.consumer.", props);
  if (context.containsKey("kafka.consumer.bootstrap.servers"))
    context.logger().warn(context.describe("kafka.consumer.bootstrap.servers"),
                          ": ignored: kafka.bootstrap.servers sets the brokers");
  // These always win, as in Flume: the offsets are ours to commit.
  setProperty(props, "bootstrap.servers", s.bootstrapServers, "kafka.bootstrap.servers");
  setProperty(props, "group.id", s.groupId, "kafka.consumer.group.id");
  setProperty(props, "enable.auto.commit", "false");
  setProperty(props, "enable.auto.offset.store", "false");
  (void)buildConf(props, context);

  s_ = std::move(s);
  configured_ = true;
}

void KafkaSource::start() {
  if (!configured_) throw std::runtime_error("start() before configure()");
  if (rk_) return;
  sdk::Context ctx(path_);
  ctx.setLogger(&logger());
  ConfPtr conf = buildConf(s_.consumer, ctx);
  events_.setLogger(&logger());
  events_.install(conf.get());
  rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaSource::onRebalance);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
  if (!rk) throw std::runtime_error("cannot create the Kafka consumer: " + std::string(err));
  (void)conf.release();
  rd_kafka_poll_set_consumer(rk);

  PartitionList topics(rd_kafka_topic_partition_list_new(static_cast<int>(s_.topics.size())));
  for (const std::string& t : s_.topics)
    rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics.get()); e) {
    rd_kafka_destroy(rk);
    throw std::runtime_error(
        "cannot subscribe to " +
        (s_.topicsRegex.empty() ? "kafka.topics" : std::string("kafka.topics.regex")) + ": " +
        errText(e));
  }
  rk_ = rk;
  queue_ = rd_kafka_queue_get_consumer(rk_);
  batch_.reserve(s_.batchSize);
  msgs_.resize(s_.batchSize);
  logger().info("reading ", s_.topicsRegex.empty() ? "topics " : "topics matching ",
                s_.topicsRegex.empty() ? s_.topics.front() + (s_.topics.size() > 1 ? ",..." : "")
                                       : s_.topicsRegex,
                " from ", s_.bootstrapServers, " as group ", s_.groupId);
}

void KafkaSource::stop() {
  if (!rk_) return;
  // process() is not running (the host joins the runner first), so no batch is open: closing
  // leaves the group without committing anything more.
  resetBatch();
  if (queue_) rd_kafka_queue_destroy(queue_);
  queue_ = nullptr;
  if (rd_kafka_resp_err_t e = rd_kafka_consumer_close(rk_); e)
    logger().warn("closing the Kafka consumer: ", errText(e));
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
  assigned_ = 0;
}

void KafkaSource::onRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<KafkaSource*>(static_cast<ClientEvents*>(opaque)->owner);
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (int i = 0; i < partitions->cnt; ++i)
      self->logger().info("topic ", partitions->elems[i].topic, " - partition ",
                          partitions->elems[i].partition, " assigned.");
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, partitions)) {
        self->logger().error("incremental assign failed: ", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      }
      self->assigned_ += static_cast<std::size_t>(partitions->cnt);
    } else {
      (void)rd_kafka_assign(rk, partitions);
      self->assigned_ = static_cast<std::size_t>(partitions->cnt);
    }
    return;
  }
  // Revoked (or lost): deliver and commit what was read from them first.
  for (int i = 0; i < partitions->cnt; ++i)
    self->logger().info("topic ", partitions->elems[i].topic, " - partition ",
                        partitions->elems[i].partition, " revoked.");
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !rd_kafka_assignment_lost(rk))
    self->revoke(partitions);
  else
    self->resetBatch();  // lost: someone else may own them already; never commit them
  if (self->inConsume_)
    for (int i = 0; i < partitions->cnt; ++i)
      self->revokedNow_.emplace_back(partitions->elems[i].topic, partitions->elems[i].partition);
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, partitions)) {
      self->logger().error("incremental unassign failed: ", rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
    const auto n = static_cast<std::size_t>(partitions->cnt);
    self->assigned_ = self->assigned_ > n ? self->assigned_ - n : 0;
  } else {
    (void)rd_kafka_assign(rk, nullptr);
    self->assigned_ = 0;
  }
}

void KafkaSource::revoke(const rd_kafka_topic_partition_list_t* partitions) {
  if (batch_.empty()) return;
  logger().info("rebalance: delivering the ", batch_.size(),
                " events read so far before the partitions go");
  (void)deliver(partitions);
}

KafkaSource::Position& KafkaSource::positionOf(const char* topic, int32_t partition,
                                               int64_t offset) {
  for (std::size_t i = 0; i < positionsUsed_; ++i) {
    Position& p = positions_[i];
    if (p.partition == partition && p.topic == topic) return p;
  }
  if (positionsUsed_ == positions_.size()) positions_.emplace_back();
  Position& p = positions_[positionsUsed_++];
  p.topic.assign(topic);
  p.partition = partition;
  p.first = offset;
  p.next = offset;
  return p;
}

void KafkaSource::addMessage(const rd_kafka_message_t* msg) {
  const char* topic = rd_kafka_topic_name(msg->rkt);
  sdk::Event& e = batch_.emplace_back();
  const auto* payload = static_cast<const char*>(msg->payload);
  const std::string_view value(payload ? payload : "", payload ? msg->len : 0);
  if (s_.useFlumeEventFormat) {
    if (!decodeFlumeEvent(value, e)) {
      // Not an AvroFlumeEvent: keep the bytes rather than lose the message.
      e.headers.clear();
      e.body.assign(value.data(), value.size());
      sourceCounter().incrementEventReadFail();
      const auto now = Clock::now();
      if (now >= nextReadFailLog_) {
        nextReadFailLog_ = now + std::chrono::seconds(10);
        logger().warn("a message of topic ", topic, " partition ", msg->partition, " offset ",
                      msg->offset,
                      " is not a Flume event (useFlumeEventFormat = true); its bytes are the "
                      "event body (counted in EventReadFail, logged once per 10 s)");
      }
    }
  } else {
    e.body.assign(value.data(), value.size());
  }
  sdk::Headers& h = e.headers;
  if (!h.contains("timestamp")) {
    const int64_t ts = rd_kafka_message_timestamp(msg, nullptr);
    h.set("timestamp", std::to_string(ts >= 0 ? ts : nowMillis()));
  }
  if (!s_.headerMap.empty()) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
      for (const auto& [flumeName, kafkaName] : s_.headerMap) {
        const void* val = nullptr;
        size_t size = 0;
        if (rd_kafka_header_get_last(hdrs, kafkaName.c_str(), &val, &size) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
          h.set(flumeName,
                std::string_view(val ? static_cast<const char*>(val) : "", val ? size : 0));
      }
  }
  if (s_.setTopicHeader && !h.contains(s_.topicHeader)) h.set(s_.topicHeader, topic);
  if (!h.contains("partition")) h.set("partition", std::to_string(msg->partition));
  if (!h.contains("offset")) h.set("offset", std::to_string(msg->offset));
  if (msg->key) h.set("key", std::string_view(static_cast<const char*>(msg->key), msg->key_len));

  positionOf(topic, msg->partition, msg->offset).next = msg->offset + 1;
}

// Asked by the runner only where the config sets no back-off key (the host reads those).
int64_t KafkaSource::getBackOffSleepIncrement() const noexcept {
  return lastPollEmpty_ ? 1 : PollableSource::getBackOffSleepIncrement();
}

int64_t KafkaSource::getMaxBackOffSleepInterval() const noexcept {
  return lastPollEmpty_ ? 1 : PollableSource::getMaxBackOffSleepInterval();
}

sdk::Status KafkaSource::process() {
  lastPollEmpty_ = false;
  if (!rk_) return deliveryFailed("the Kafka source is not started");
  sdk::SourceCounter& counter = sourceCounter();
  const auto start = Clock::now();
  const auto end = start + s_.batchDuration;
  while (batch_.size() < s_.batchSize) {
    const auto left = std::chrono::duration_cast<milliseconds>(end - Clock::now()).count();
    if (left <= 0) break;
    inConsume_ = true;
    revokedNow_.clear();
    const ssize_t n = rd_kafka_consume_batch_queue(queue_, static_cast<int>(left), msgs_.data(),
                                                   s_.batchSize - batch_.size());
    inConsume_ = false;
    if (n < 0) {
      logger().warn("consuming failed: ", errText(rd_kafka_last_error()));
      break;
    }
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = msgs_[static_cast<std::size_t>(i)];
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
          logger().warn("Kafka consumer error: ", errText(m->err),
                        m->rkt ? std::string(" (topic ") + rd_kafka_topic_name(m->rkt) + ")" : "");
      } else if (revokedNow_.empty() ||
                 std::find(revokedNow_.begin(), revokedNow_.end(),
                           std::pair<std::string, int32_t>(rd_kafka_topic_name(m->rkt),
                                                           m->partition)) == revokedNow_.end()) {
        addMessage(m);
      }
      rd_kafka_message_destroy(m);
    }
    if (n == 0) {
      counter.add(kKafkaEmptyCount, 1);
      break;  // nothing more within the batch's time
    }
  }
  if (batch_.empty()) {
    lastPollEmpty_ = true;
    return sdk::Status::BACKOFF;
  }
  counter.add(kKafkaEventGetTimer,
              std::chrono::duration_cast<milliseconds>(Clock::now() - start).count());
  return deliver(nullptr) ? sdk::Status::READY : sdk::Status::BACKOFF;
}

bool KafkaSource::deliver(const rd_kafka_topic_partition_list_t* revoking) {
  const auto n = static_cast<int64_t>(batch_.size());
  sdk::Result r = sources::putBatch(getChannelProcessor(), sourceCounter(), batch_);
  if (!r) {
    logger().warn("the channels refused a batch of ", n, " events (", r.error(),
                  "); reading it again from Kafka");
    seekBack(revoking);
    resetBatch();
    return false;
  }
  commitPositions();
  resetBatch();
  return true;
}

void KafkaSource::commitPositions() {
  PartitionList offsets(rd_kafka_topic_partition_list_new(static_cast<int>(positionsUsed_)));
  for (std::size_t i = 0; i < positionsUsed_; ++i) {
    const Position& p = positions_[i];
    rd_kafka_topic_partition_list_add(offsets.get(), p.topic.c_str(), p.partition)->offset = p.next;
  }
  const auto t0 = Clock::now();
  rd_kafka_resp_err_t e = rd_kafka_commit(rk_, offsets.get(), 0);
  sourceCounter().add(kKafkaCommitTimer,
                      std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count());
  if (e) {
    // The events are in the channels; without the commit they are read again after a restart
    // or by the partition's next owner (at least once).
    sourceCounter().add(kKafkaCommitFailCount, 1);
    logger().warn("committing offsets failed: ", errText(e), "; the batch may be read again");
  }
}

void KafkaSource::seekBack(const rd_kafka_topic_partition_list_t* except) {
  PartitionList to(rd_kafka_topic_partition_list_new(static_cast<int>(positionsUsed_)));
  for (std::size_t i = 0; i < positionsUsed_; ++i) {
    const Position& p = positions_[i];
    if (listHas(except, p.topic, p.partition)) continue;  // being given up: not ours to move
    rd_kafka_topic_partition_list_add(to.get(), p.topic.c_str(), p.partition)->offset = p.first;
  }
  if (to->cnt == 0) return;
  if (rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_, to.get(), 5000)) {
    logger().error("seeking back after a refused batch failed: ", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  }
  for (int i = 0; i < to->cnt; ++i)
    if (to->elems[i].err)
      logger().error("seeking back ", to->elems[i].topic, " partition ", to->elems[i].partition,
                     " failed: ", errText(to->elems[i].err));
}

void KafkaSource::resetBatch() noexcept {
  batch_.clear();
  positionsUsed_ = 0;
}

}  // namespace sluice::plugins::kafka
