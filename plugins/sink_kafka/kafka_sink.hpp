#pragma once
// Flume's KafkaSink (type org.apache.flume.sink.kafka.KafkaSink, alias kafka): takes batches
// from its channel and produces each event as one Kafka message through librdkafka.
//
// Design (README.md describes what users see):
//  - One librdkafka producer per sink, created by start() and destroyed by stop(). Only the
//    sink runner thread (process()) and the control thread (start/stop, never at the same time
//    as process()) touch it, so nothing here locks.
//  - process() takes up to flumeBatchSize events in one channel transaction and hands each to
//    rd_kafka_produceva() (librdkafka copies the body into its own message: one allocation per
//    event, the one librdkafka makes anyway). It then waits for the delivery reports, served by
//    rd_kafka_flush() on this thread. The take commits only when every message of the batch was
//    acknowledged by the broker; any failed report rolls the whole batch back (at least once).
//  - A batch may take longer than one process() call: process() waits at most kAwaitSlice and
//    then returns READY with the transaction still open, and the next call goes on waiting. So
//    the runner is never blocked for long, a stop is prompt, and a slow or absent broker is
//    waited for as long as librdkafka retries (message.timeout.ms), as Flume waits on its
//    futures. stop() waits up to kStopFlush for the open batch, then purges what is left and
//    rolls back.
//  - Each batch has a generation number, passed as every message's opaque. A report for an
//    older batch (a message still in flight when its batch was rolled back) is ignored.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kafka_client.hpp"
#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/sink.hpp"

namespace sluice::plugins::kafka {

// The keys this sink accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& kafkaSinkSchema();

struct KafkaSinkSettings {
  std::string bootstrapServers;
  // The rest are set by configure(); the defaults live in kafkaSinkSchema() only.
  std::string topic;
  bool topicHasEscapes = false;  // kafka.topic contains %{header}
  std::size_t batchSize = 0;
  bool useFlumeEventFormat = false;
  std::optional<int32_t> defaultPartitionId;
  std::string partitionIdHeader;  // "" = none
  bool allowTopicOverride = false;
  std::string topicHeader;
  std::string timestampHeader;                                 // "" = none
  std::vector<std::pair<std::string, std::string>> headerMap;  // Flume header -> Kafka header
  Properties producer;                                         // librdkafka properties, translated
};

class KafkaSink final : public sdk::AbstractSink {
 public:
  // How long one process() call waits for delivery reports before returning (batch kept open).
  static constexpr std::chrono::milliseconds kAwaitSlice{500};
  // How long stop() waits for an open batch's reports before purging and rolling back.
  static constexpr std::chrono::milliseconds kStopFlush{5000};
  // Topic handles kept (static topic plus header-chosen ones); more are opened per message.
  static constexpr std::size_t kMaxTopicHandles = 64;

  // Counters added to the SinkCounter, with Flume's KafkaSinkCounter names.
  enum : std::size_t {
    kKafkaEventSendTimer = sdk::SinkCounter::ChannelReadFail + 1,
    kRollbackCount,
  };

  KafkaSink();
  ~KafkaSink() override;

  // Control thread. Checks every key and builds (and discards) the librdkafka configuration,
  // so a bad property fails here, naming its key.
  void configure(const sdk::Context& context) override;
  // Creates the producer (no broker needs to be reachable yet). Safe to repeat.
  void start() override;
  // Waits up to kStopFlush for an open batch, rolls back what is not acknowledged, destroys the
  // producer. Safe to repeat.
  void stop() override;
  // Runner thread.
  sdk::Status process() override;

  const KafkaSinkSettings& settings() const noexcept { return s_; }
  // The librdkafka properties the producer is created with (for tests and logs).
  const Properties& producerProperties() const noexcept { return s_.producer; }
  bool batchOpen() const noexcept { return tx_.has_value(); }

 private:
  struct Delivery {
    uint64_t generation = 0;
    int64_t outstanding = 0;  // messages produced whose report has not come
    int64_t failed = 0;
    std::string firstError;
  };

  static void onDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);

  void createProducer();
  void destroyProducer() noexcept;
  // Produces one event; false (and the reason in *error) when librdkafka refused it.
  bool produce(const sdk::Event& event, std::string* error);
  rd_kafka_topic_t* topicHandle(std::string_view name, bool* temporary);
  const std::string& topicFor(const sdk::Event& event);
  // Waits for the open batch's reports up to `budget`; commits or rolls back when they are all
  // in (or one failed). READY while still waiting.
  sdk::Status awaitBatch(std::chrono::milliseconds budget);
  sdk::Status finishBatch();
  sdk::Status failBatch(const std::string& why);
  void closeTx() noexcept;  // ends the open batch, rolling it back unless it committed

  KafkaSinkSettings s_;
  bool configured_ = false;
  std::string path_;  // the component's config path, for messages

  ClientEvents events_{nullptr};
  JavaPartitioner partitioner_;  // kafka.producer.partitioner.class, when a callback does it
  rd_kafka_t* rk_ = nullptr;
  std::vector<std::pair<std::string, rd_kafka_topic_t*>> topics_;

  // The open batch (between its take and its commit or rollback; reset() rolls back).
  std::optional<sdk::SinkBatch> tx_;
  std::size_t batchEvents_ = 0;
  std::chrono::steady_clock::time_point batchStart_{};
  Delivery delivery_;

  // Reused per event.
  std::string scratch_;
  std::string topicScratch_;
  std::vector<rd_kafka_vu_t> vus_;
};

}  // namespace sluice::plugins::kafka
