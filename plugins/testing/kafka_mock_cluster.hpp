#pragma once
// For the Kafka plugins' unit tests only: librdkafka's mock cluster (a Kafka-protocol cluster
// served from this process on 127.0.0.1 ports), plus a plain librdkafka producer and reader to
// put messages in and read them back independently of the plugin under test.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::plugins::testing {

class MockKafka {
 public:
  explicit MockKafka(int brokers = 3) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);  // the cluster's own chatter
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE_MESSAGE(rk_ != nullptr, err);
    mc_ = rd_kafka_mock_cluster_new(rk_, brokers);
    REQUIRE(mc_ != nullptr);
    bootstraps_ = rd_kafka_mock_cluster_bootstraps(mc_);
  }
  ~MockKafka() {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;

  const std::string& bootstraps() const { return bootstraps_; }
  rd_kafka_mock_cluster_t* cluster() { return mc_; }

  void createTopic(const std::string& name, int partitions, int replication = 3) {
    REQUIRE(rd_kafka_mock_topic_create(mc_, name.c_str(), partitions, replication) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  // Every broker refuses connections (and drops the open ones) until up().
  void down() { rd_kafka_mock_broker_set_down(mc_, -1); }
  void up() { rd_kafka_mock_broker_set_up(mc_, -1); }
  // The next `n` requests of the API (0 = Produce, 8 = OffsetCommit) fail with `err`.
  void failRequests(int16_t apiKey, std::size_t n, rd_kafka_resp_err_t err) {
    std::vector<rd_kafka_resp_err_t> errs(n, err);
    rd_kafka_mock_push_request_errors_array(mc_, apiKey, n, errs.data());
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
  std::string bootstraps_;
};

// One message as read back.
struct KafkaRecord {
  std::string topic;
  int32_t partition = RD_KAFKA_PARTITION_UA;
  int64_t offset = 0;
  std::string key;
  bool hasKey = false;
  std::string value;
  int64_t timestamp = 0;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Reads every partition of a topic from the beginning (no consumer group) until `want` records
// came or the timeout passed.
inline std::vector<KafkaRecord> readTopic(
    const std::string& bootstraps, const std::string& topic, int partitions, std::size_t want,
    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "test-reader", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  REQUIRE_MESSAGE(rk != nullptr, err);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::vector<KafkaRecord> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (!m->err) {
      KafkaRecord r;
      r.topic = rd_kafka_topic_name(m->rkt);
      r.partition = m->partition;
      r.offset = m->offset;
      r.hasKey = m->key != nullptr;
      if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      r.value.assign(static_cast<const char*>(m->payload), m->len);
      r.timestamp = rd_kafka_message_timestamp(m, nullptr);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* val;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0; ++i)
          r.headers.emplace_back(name, std::string(static_cast<const char*>(val), size));
      }
      out.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

// Produces messages (value, key; empty key = none) and waits until all are acknowledged.
inline void produceTo(const std::string& bootstraps, const std::string& topic,
                      const std::vector<std::pair<std::string, std::string>>& messages,
                      int32_t partition = RD_KAFKA_PARTITION_UA) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  REQUIRE_MESSAGE(rk != nullptr, err);
  for (const auto& [value, key] : messages) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()), RD_KAFKA_V_END);
    while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 10);
      e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                            RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
                            RD_KAFKA_V_END);
    }
    REQUIRE(e == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  REQUIRE(rd_kafka_flush(rk, 20000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

// Produces records with their key (hasKey), value, headers and partition (-1 = any).
inline void produceRecords(const std::string& bootstraps, const std::vector<KafkaRecord>& records) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  REQUIRE_MESSAGE(rk != nullptr, err);
  for (const KafkaRecord& r : records) {
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(r.headers.size());
    for (const auto& [n, v] : r.headers)
      rd_kafka_header_add(hdrs, n.c_str(), -1, v.data(), static_cast<ssize_t>(v.size()));
    rd_kafka_resp_err_t e =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(r.topic.c_str()), RD_KAFKA_V_PARTITION(r.partition),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
                          RD_KAFKA_V_KEY(r.hasKey ? r.key.data() : nullptr, r.key.size()),
                          RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    REQUIRE(e == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  REQUIRE(rd_kafka_flush(rk, 20000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

}  // namespace sluice::plugins::testing
