#pragma once
// Flume's KafkaSource (type org.apache.flume.source.kafka.KafkaSource, alias kafka): a
// consumer-group member that turns Kafka messages into events.
//
// Design (README.md describes what users see):
//  - One librdkafka consumer per source, created by start(), closed (leaving the group) by
//    stop(). It is used only on the source runner thread (process()) and by start()/stop() on
//    the control thread, never at the same time, so nothing here locks. Rebalance and error
//    callbacks are served inside rd_kafka_consume_batch_queue(), i.e. on the runner thread.
//  - process() collects up to batchSize messages or for batchDurationMillis, whichever comes
//    first (rd_kafka_consume_batch_queue: one librdkafka queue lock per call, not per message),
//    builds the events into a reused batch, hands the batch to the channels, and only after
//    the channels accepted it commits the next offset of every partition it read, synchronously.
//    Auto-commit is off, so a crash re-reads at most the batch whose commit had not happened.
//  - A batch the channels refuse is dropped and every partition it read is sought back to the
//    batch's first offset, so the same messages come again (nothing is skipped).
//  - Rebalance: when partitions are revoked while a batch is being collected, the callback
//    delivers the batch collected so far and commits it before the partitions are given up (a
//    revoked partition is never committed later, by this member, after someone else owns it),
//    and messages of revoked partitions that the same consume call already returned are
//    dropped: their next owner reads them from the committed offset.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kafka_client.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::plugins::kafka {

// The keys this source accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& kafkaSourceSchema();

struct KafkaSourceSettings {
  std::string bootstrapServers;
  std::vector<std::string> topics;  // subscription: names, or one "^(regex)$" pattern
  std::string topicsRegex;          // as configured ("" = topic list)
  // The rest are set by configure(); the defaults live in kafkaSourceSchema() only.
  std::string groupId;
  std::size_t batchSize = 0;
  std::chrono::milliseconds batchDuration{};
  bool useFlumeEventFormat = false;
  bool setTopicHeader = false;
  std::string topicHeader;
  std::vector<std::pair<std::string, std::string>> headerMap;  // Flume header <- Kafka header
  Properties consumer;                                         // librdkafka properties, translated
};

class KafkaSource final : public sdk::PollableSource {
 public:
  // Counters added to the SourceCounter, with Flume's KafkaSourceCounter names.
  enum : std::size_t {
    kKafkaEventGetTimer = sdk::SourceCounter::GenericProcessingFail + 1,
    kKafkaCommitTimer,
    kKafkaEmptyCount,
    kKafkaCommitFailCount,
  };

  KafkaSource();
  ~KafkaSource() override;

  void configure(const sdk::Context& context) override;
  // Creates the consumer and subscribes; the group join happens in the first process() calls.
  void start() override;
  // Leaves the group and destroys the consumer. Safe to repeat.
  void stop() override;
  sdk::Status process() override;
  // process() itself waits up to batchDurationMillis for messages, so after an empty poll the
  // runner need not sleep as well: unless the config sets the back-off keys, 1 ms instead of
  // Flume's 1000-5000 ms, which left fetched messages waiting in librdkafka's queue. After a
  // refused batch or a failure the runner backs off as Flume's does.
  int64_t getBackOffSleepIncrement() const noexcept override;
  int64_t getMaxBackOffSleepInterval() const noexcept override;

  const KafkaSourceSettings& settings() const noexcept { return s_; }
  const Properties& consumerProperties() const noexcept { return s_.consumer; }
  // Partitions currently assigned to this member (runner thread / tests after process()).
  std::size_t assignedPartitions() const noexcept { return assigned_; }

 private:
  // Where the batch being collected stands in one partition.
  struct Position {
    std::string topic;
    int32_t partition = 0;
    int64_t first = 0;  // offset of the batch's first message from it
    int64_t next = 0;   // offset after the batch's last message from it
  };

  static void onRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);
  void revoke(const rd_kafka_topic_partition_list_t* partitions);

  // Appends one message to the batch (as an event) and advances its partition's position.
  void addMessage(const rd_kafka_message_t* msg);
  Position& positionOf(const char* topic, int32_t partition, int64_t offset);
  // Hands the batch to the channels; commits on success, seeks back on failure. Empties the
  // batch either way. Returns whether the channels accepted it.
  bool deliver(const rd_kafka_topic_partition_list_t* revoking);
  void commitPositions();
  void seekBack(const rd_kafka_topic_partition_list_t* except);
  void resetBatch() noexcept;

  KafkaSourceSettings s_;
  bool configured_ = false;
  std::string path_;

  ClientEvents events_{nullptr};
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;
  std::size_t assigned_ = 0;

  // The batch being collected; reused.
  sdk::EventBatch batch_;
  std::vector<Position> positions_;
  std::size_t positionsUsed_ = 0;
  std::vector<rd_kafka_message_t*> msgs_;
  // Partitions revoked during the current consume call (their returned messages are dropped).
  std::vector<std::pair<std::string, int32_t>> revokedNow_;
  bool inConsume_ = false;
  bool lastPollEmpty_ = false;  // the last process() found no message (runner thread)
  std::chrono::steady_clock::time_point nextReadFailLog_{};
};

}  // namespace sluice::plugins::kafka
