#pragma once
// Kafka's own Java partitioner classes, which Flume configs name in
// kafka.producer.partitioner.class, done with librdkafka:
//
//   org.apache.kafka.clients.producer.internals.DefaultPartitioner
//       librdkafka's murmur2_random (kafka_client.hpp sets it): a key is hashed with Java's
//       murmur2, so it lands on the partition Java picks; keyless messages stick to one partition
//       for sticky.partitioning.linger.ms, as Java's sticky partitioning does.
//   org.apache.kafka.clients.producer.RoundRobinPartitioner
//       every message to the next partition of its topic in turn (0, 1, 2, ... per topic),
//       keys ignored.
//   org.apache.kafka.clients.producer.UniformStickyPartitioner
//       keys ignored; all messages of a topic go to one partition until
//       sticky.partitioning.linger.ms (librdkafka's, default 10 ms) has passed since it was picked,
//       then to another one picked at random among those with a leader (librdkafka's rule for
//       keyless messages, applied to every message).
//
// librdkafka has no partitioner for the last two, so they are partitioner callbacks (this file).
// translateProperty() records the choice as the property "partitioner.class" (value roundrobin
// or uniform_sticky), which buildConf() does not hand to librdkafka; the producer's owner calls
// JavaPartitioner::install() on the conf before rd_kafka_new().

#include <librdkafka/rdkafka.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace sluice::plugins::kafka {

// The pseudo property that carries a callback partitioner's name from translateProperty() to
// JavaPartitioner::install().
inline constexpr std::string_view kJavaPartitionerProperty = "partitioner.class";
inline constexpr std::string_view kRoundRobinRule = "roundrobin";
inline constexpr std::string_view kUniformStickyRule = "uniform_sticky";

// For a Java partitioner class of Kafka's: librdkafka's partitioner name ("murmur2_random"), or
// one of the callback rules above; "" for a class that is not Kafka's.
inline std::string_view javaPartitionerRule(std::string_view cls) {
  if (cls == "org.apache.kafka.clients.producer.internals.DefaultPartitioner")
    return "murmur2_random";
  if (cls == "org.apache.kafka.clients.producer.RoundRobinPartitioner") return kRoundRobinRule;
  if (cls == "org.apache.kafka.clients.producer.UniformStickyPartitioner")
    return kUniformStickyRule;
  return {};
}

// The callback partitioner of one producer. Must outlive the producer it is installed on. The
// callback runs on the thread that produces and on librdkafka's main thread (messages produced
// before the topic's metadata came), so its per-topic state is atomics only: no lock per message.
class JavaPartitioner {
 public:
  // Installs the partitioner `rule` names (kRoundRobinRule, kUniformStickyRule; anything else:
  // nothing to install, returns false) on `conf`, as its default topic configuration's
  // partitioner. `stickyLingerMs` is librdkafka's sticky.partitioning.linger.ms as configured;
  // the conf's own is set to 0, since librdkafka otherwise picks keyless messages' partitions
  // itself without asking the callback. Call before rd_kafka_new(), with no producer of this
  // object alive.
  bool install(rd_kafka_conf_t* conf, std::string_view rule, int64_t stickyLingerMs) {
    if (rule == kRoundRobinRule)
      rule_ = Rule::RoundRobin;
    else if (rule == kUniformStickyRule)
      rule_ = Rule::UniformSticky;
    else
      return false;
    lingerUs_ = stickyLingerMs * 1000;
    for (Slot& s : slots_) {  // a new producer: its topic handles are new
      s.topic.store(nullptr, std::memory_order_relaxed);
      s.next.store(0, std::memory_order_relaxed);
      s.sticky.store(-1, std::memory_order_relaxed);
      s.since.store(0, std::memory_order_relaxed);
    }
    char err[256];
    (void)rd_kafka_conf_set(conf, "sticky.partitioning.linger.ms", "0", err, sizeof err);
    rd_kafka_topic_conf_t* tconf = rd_kafka_conf_get_default_topic_conf(conf);
    if (!tconf) {
      tconf = rd_kafka_topic_conf_new();
      rd_kafka_conf_set_default_topic_conf(conf, tconf);  // conf owns it now
      tconf = rd_kafka_conf_get_default_topic_conf(conf);
    }
    rd_kafka_topic_conf_set_opaque(tconf, this);
    rd_kafka_topic_conf_set_partitioner_cb(tconf, &JavaPartitioner::partition);
    return true;
  }

 private:
  enum class Rule { RoundRobin, UniformSticky };

  // Per-topic state, found by the topic handle. A producer writes to few topics; past kSlots the
  // last slot is shared (round-robin then cycles over the topics' messages together).
  struct Slot {
    std::atomic<const rd_kafka_topic_t*> topic{nullptr};
    std::atomic<uint32_t> next{0};    // round-robin: the next message's turn
    std::atomic<int32_t> sticky{-1};  // uniform sticky: the current partition
    std::atomic<int64_t> since{0};    // ... and when it was picked (steady clock, us)
  };
  static constexpr std::size_t kSlots = 64;

  Slot& slotOf(const rd_kafka_topic_t* rkt) {
    for (std::size_t i = 0; i < kSlots - 1; ++i) {
      Slot& s = slots_[i];
      const rd_kafka_topic_t* t = s.topic.load(std::memory_order_acquire);
      if (t == rkt) return s;
      if (t == nullptr) {
        const rd_kafka_topic_t* expected = nullptr;
        if (s.topic.compare_exchange_strong(expected, rkt, std::memory_order_acq_rel) ||
            expected == rkt)
          return s;
      }
    }
    return slots_[kSlots - 1];
  }

  // The first available partition from `from` on (wrapping), or `from` if none is (while
  // librdkafka is still learning the topic's leaders none may be).
  static int32_t availableFrom(const rd_kafka_topic_t* rkt, int32_t from, int32_t count) {
    for (int32_t i = 0; i < count; ++i) {
      const int32_t p = (from + i) % count;
      if (rd_kafka_topic_partition_available(rkt, p)) return p;
    }
    return from;
  }

  static int64_t nowUs() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  static int32_t randomBelow(int32_t n) {
    thread_local std::minstd_rand rng(std::random_device{}());
    return static_cast<int32_t>(rng() % static_cast<uint32_t>(n));
  }

  int32_t pickSticky(const rd_kafka_topic_t* rkt, int32_t count) {
    Slot& s = slotOf(rkt);
    const int64_t now = nowUs();
    const int32_t current = s.sticky.load(std::memory_order_relaxed);
    // As Java's sticky partition cache: kept until its time is up, whatever its leader does (its
    // messages wait for one in librdkafka's queue).
    if (current >= 0 && current < count &&
        now - s.since.load(std::memory_order_relaxed) < lingerUs_)
      return current;
    // Another partition than the one before, when there is another.
    int32_t p = randomBelow(count);
    if (count > 1 && p == current) p = (p + 1 + randomBelow(count - 1)) % count;
    p = availableFrom(rkt, p, count);
    s.sticky.store(p, std::memory_order_relaxed);
    s.since.store(now, std::memory_order_relaxed);
    return p;
  }

  // Strictly in turn. Java skips partitions without a leader; librdkafka learns leaders one by
  // one after a topic's metadata came, so skipping would scatter the first messages, and a
  // message for a leaderless partition waits in librdkafka's queue instead of being lost.
  int32_t pickRoundRobin(const rd_kafka_topic_t* rkt, int32_t count) {
    const uint32_t n = slotOf(rkt).next.fetch_add(1, std::memory_order_relaxed);
    return static_cast<int32_t>(n % static_cast<uint32_t>(count));
  }

  static int32_t partition(const rd_kafka_topic_t* rkt, const void* /*key*/, size_t /*keylen*/,
                           int32_t count, void* rktOpaque, void* /*msgOpaque*/) {
    auto* self = static_cast<JavaPartitioner*>(rktOpaque);
    if (count <= 0) return RD_KAFKA_PARTITION_UA;
    return self->rule_ == Rule::RoundRobin ? self->pickRoundRobin(rkt, count)
                                           : self->pickSticky(rkt, count);
  }

  Rule rule_ = Rule::RoundRobin;
  int64_t lingerUs_ = 10000;
  std::array<Slot, kSlots> slots_;
};

}  // namespace sluice::plugins::kafka
