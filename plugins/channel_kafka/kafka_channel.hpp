#pragma once
// Flume's KafkaChannel (type org.apache.flume.channel.kafka.KafkaChannel, alias kafka): the
// channel's events live in a Kafka topic. A put commit produces the transaction's events and
// returns once Kafka acknowledged all of them; a take reads from the topic as a member of a
// consumer group and commits the offsets when the take commits.
//
// Design (README.md describes what users see):
//  - One producer per channel, shared by every put transaction (librdkafka's producer is
//    thread-safe). A commit produces the staged events, each message carrying a pointer to the
//    transaction's delivery state, and polls until every report for it came back. Whichever
//    thread serves a report updates the state it points to (atomics), so concurrent put
//    commits never wait on each other's messages.
//  - Takes: one consumer per taking thread (as Flume's thread-local consumers), created on the
//    first take from that thread: a consumer's offset commit covers the partitions it owns,
//    so two threads sharing one could commit each other's unfinished takes. The thread looks
//    up its consumer under a mutex once per takeBatch(), not per event.
//  - A take transaction keeps the events it took and their (partition, offset). Commit commits
//    the next offset of every partition the transaction took from, synchronously; rollback
//    puts the events back at the head of that consumer's redelivery list, taken again first
//    (Flume's failedEvents). On a revocation the redelivery list's events of the revoked
//    partitions are dropped: their next owner reads them from the committed offset.
//  - Transaction bookkeeping (state, put staging, Flume's messages) is channel_transaction.hpp.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "channel_transaction.hpp"
#include "kafka_client.hpp"
#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::kafka {

const sdk::Schema& kafkaChannelSchema();

struct KafkaChannelSettings {
  std::string bootstrapServers;
  // The rest are set by configure(); the defaults live in kafkaChannelSchema() only.
  std::string topic;
  std::string groupId;
  bool parseAsFlumeEvent = false;
  std::chrono::milliseconds pollTimeout{};
  std::optional<int32_t> defaultPartitionId;
  std::string partitionIdHeader;
  std::size_t transactionCapacity = 0;
  Properties producer;
  Properties consumer;
};

// Where a taken event came from.
struct Origin {
  int32_t partition = 0;
  int64_t offset = 0;
};

// One taking thread's consumer and the events its rolled-back takes hand out again first.
struct TakeConsumer {
  std::thread::id thread;
  ClientEvents events{nullptr};
  rd_kafka_t* rk = nullptr;
  rd_kafka_queue_t* queue = nullptr;
  std::deque<std::pair<sdk::Event, Origin>> redeliver;
  std::vector<rd_kafka_message_t*> msgs;
  std::vector<int32_t> revokedNow;  // partitions revoked during the current consume call
  bool inConsume = false;
};

// The delivery state of one put commit; reports may be served by any putting thread.
struct PutDelivery {
  std::atomic<int64_t> outstanding{0};
  std::atomic<int64_t> failed{0};
  std::mutex errorMutex;  // taken only when a report failed
  std::string firstError;
};

class KafkaTransaction;

class KafkaChannel final : public sdk::Channel {
 public:
  // Counters added to the ChannelCounter, with Flume's KafkaChannelCounter names.
  enum : std::size_t {
    kKafkaEventGetTimer = sdk::ChannelCounter::EventTakeSuccessCount + 1,
    kKafkaEventSendTimer,
    kKafkaCommitTimer,
    kRollbackCount,
  };

  KafkaChannel();
  ~KafkaChannel() override;

  void configure(const sdk::Context& context) override;
  // Creates the producer; consumers are created by the first take of each thread.
  void start() override;
  // Closes every consumer (leaving the group) and flushes the producer (10 s at most).
  void stop() override;
  std::unique_ptr<sdk::Transaction> getTransaction() override;
  // Unknown: the topic's events may come from anywhere, and only a consumer's poll can tell.
  // takeBatch() waits for them itself, up to pollTimeout.
  sdk::Backlog backlog() const noexcept override { return sdk::Backlog::Unknown; }

  const KafkaChannelSettings& settings() const noexcept { return s_; }
  const Properties& producerProperties() const noexcept { return s_.producer; }
  const Properties& consumerProperties() const noexcept { return s_.consumer; }

 private:
  friend class KafkaTransaction;

  static void onDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void onRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);

  // The calling thread's consumer, created on first use. nullptr (and *error) on failure.
  TakeConsumer* consumerForThisThread(std::string* error);
  sdk::Result produceAndWait(sdk::EventBatch& events, std::string& scratch);
  bool decode(const rd_kafka_message_t* msg, sdk::Event& out);

  KafkaChannelSettings s_;
  bool configured_ = false;
  std::string path_;

  ClientEvents producerEvents_{nullptr};
  JavaPartitioner partitioner_;  // kafka.producer.partitioner.class, when a callback does it
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_topic_t* topic_ = nullptr;

  std::mutex consumersMutex_;  // guards consumers_ (the list, not what each consumer does)
  std::vector<std::unique_ptr<TakeConsumer>> consumers_;
  std::atomic<bool> running_{false};
  std::atomic<int64_t> nextDecodeWarn_{0};
};

}  // namespace sluice::plugins::kafka
