#pragma once
// What the Kafka plugins (sink, source, channel) share about librdkafka: turning Flume's
// `kafka.producer.*` / `kafka.consumer.*` keys (Java client property names) into librdkafka
// properties, building and checking an rd_kafka_conf_t so that a bad property is a configuration
// error naming the key, routing librdkafka's log lines and error events to the plugin's logger,
// and Flume's AvroFlumeEvent wire format (useFlumeEventFormat / parseAsFlumeEvent).
//
// Header-only: each Kafka plugin .so compiles its own copy (see meson.build in this folder).
//
// Java client names and librdkafka names are mostly the same (acks, linger.ms, batch.size,
// compression.type, retries, client.id, group.id, session.timeout.ms, ...). The differences:
//  - translated: names and units that differ (buffer.memory -> queue.buffering.max.kbytes,
//    max.request.size -> message.max.bytes, fetch.max.wait.ms -> fetch.wait.max.ms,
//    send/receive.buffer.bytes -> socket.*,
//    auto.offset.reset=none -> error, sasl.jaas.config for PLAIN/SCRAM -> sasl.username and
//    sasl.password, Flume's ssl.disableTLSHostnameVerification);
//  - Kafka's own Java classes done the same way: partitioner.class (DefaultPartitioner,
//    RoundRobinPartitioner, UniformStickyPartitioner: kafka_partitioner.hpp) and the consumer's
//    assignors (Range, RoundRobin, Sticky, CooperativeSticky);
//  - rejected (a configuration error that says why): other Java classes, which would change what
//    is sent (partitioner.class, interceptor.classes, non-default (de)serializers), JKS trust and
//    key stores, transactional.id;
//  - ignored with a warning: Java-only tuning and monitoring (max.block.ms, metric.reporters,
//    metrics.*, max.poll.records, the default String/ByteArray (de)serializers Flume sets);
//  - anything else is handed to librdkafka as is, and librdkafka's own check decides: an
//    unknown name or a bad value fails configure() with librdkafka's message and the key.

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "avro_container.hpp"
#include "kafka_partitioner.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/logger.hpp"
#include "text_util.hpp"

namespace sluice::plugins::kafka {

enum class Role { Producer, Consumer };

// One librdkafka property and the configuration key it came from (for error messages).
struct Property {
  std::string name;
  std::string value;
  std::string key;  // e.g. "kafka.producer.linger.ms"; "" for values sluice sets itself
};

using Properties = std::vector<Property>;

inline void setProperty(Properties& props, std::string name, std::string value,
                        std::string key = {}) {
  for (auto& p : props)
    if (p.name == name) {
      p.value = std::move(value);
      p.key = std::move(key);
      return;
    }
  props.push_back(Property{std::move(name), std::move(value), std::move(key)});
}

inline const Property* findProperty(const Properties& props, std::string_view name) {
  for (const auto& p : props)
    if (p.name == name) return &p;
  return nullptr;
}

inline std::string lowerCopy(std::string_view s) { return text::lower(s); }

inline std::string trimCopy(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

// Whether a property's value must never be echoed (passwords, JAAS text with passwords).
inline bool isSecretProperty(std::string_view name) {
  const std::string n = lowerCopy(name);
  for (const char* w : {"password", "secret", "jaas", "token", "credential"})
    if (n.find(w) != std::string::npos) return true;
  return false;
}

// Splits "a, b ,c" or "a b c" (a TOML list arrives space-separated) into names.
inline std::vector<std::string> splitList(std::string_view list) {
  return text::split(list, ", \t");
}

namespace detail {

// Reads `key="value"` pairs out of a Java JAAS line such as
//   org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";
inline std::string jaasOption(std::string_view jaas, std::string_view option) {
  std::size_t at = 0;
  while ((at = jaas.find(option, at)) != std::string_view::npos) {
    const bool startOk = at == 0 || jaas[at - 1] == ' ' || jaas[at - 1] == '\t';
    std::size_t i = at + option.size();
    while (i < jaas.size() && jaas[i] == ' ') ++i;
    if (startOk && i < jaas.size() && jaas[i] == '=') {
      ++i;
      while (i < jaas.size() && jaas[i] == ' ') ++i;
      if (i < jaas.size() && jaas[i] == '"') {
        std::string out;
        for (++i; i < jaas.size() && jaas[i] != '"'; ++i) {
          if (jaas[i] == '\\' && i + 1 < jaas.size()) ++i;
          out += jaas[i];
        }
        return out;
      }
      std::size_t j = i;
      while (j < jaas.size() && jaas[j] != ' ' && jaas[j] != ';') ++j;
      return std::string(jaas.substr(i, j - i));
    }
    at += option.size();
  }
  return {};
}

inline bool isDefaultSerializer(std::string_view name, std::string_view value, Role role) {
  const std::string v = trimCopy(value);
  if (role == Role::Producer) {
    if (name == "key.serializer")
      return v == "org.apache.kafka.common.serialization.StringSerializer";
    return v == "org.apache.kafka.common.serialization.ByteArraySerializer";
  }
  if (name == "key.deserializer")
    return v == "org.apache.kafka.common.serialization.StringDeserializer";
  return v == "org.apache.kafka.common.serialization.ByteArrayDeserializer";
}

}  // namespace detail

// Translates one Java client property (`name`, given under the full key `key`) into `out`.
// Throws ConfigError through ctx.fail(key, ...) when it cannot apply; logs a warning through
// ctx.logger() when it is ignored.
inline void translateProperty(Role role, const std::string& name, const std::string& rawValue,
                              const std::string& key, const sdk::Context& ctx, Properties& out) {
  const std::string value = trimCopy(rawValue);
  auto warnIgnored = [&](const std::string& why) {
    ctx.logger().warn(ctx.describe(key), ": ignored: ", why);
  };
  auto reject = [&](const std::string& why) { ctx.fail(key, why); };

  // Serializers: sluice always writes the key as its UTF-8 bytes and the value as raw bytes,
  // which is what Flume's defaults (StringSerializer, ByteArraySerializer) do.
  if (name == "key.serializer" || name == "value.serializer" || name == "key.deserializer" ||
      name == "value.deserializer") {
    if (detail::isDefaultSerializer(name, value, role))
      return warnIgnored(
          "sluice always uses what this class does (keys as UTF-8 text, values "
          "as bytes)");
    return reject(
        "Java (de)serializer classes cannot be loaded by sluice; keys are UTF-8 text "
        "and values raw bytes (useFlumeEventFormat adds Flume's Avro envelope)");
  }
  if (name == "partitioner.class") {
    // Kafka's own classes: the same rule, by librdkafka or a callback (kafka_partitioner.hpp).
    const std::string_view rule = javaPartitionerRule(value);
    if (rule == "murmur2_random") return setProperty(out, "partitioner", std::string(rule), key);
    if (!rule.empty())
      return setProperty(out, std::string(kJavaPartitionerProperty), std::string(rule), key);
    return reject(
        "Java partitioner class '" + value +
        "' is not one of Kafka's own (DefaultPartitioner, RoundRobinPartitioner, "
        "UniformStickyPartitioner, which work as in Java) and cannot be loaded by sluice; use "
        "librdkafka's 'partitioner' property (kafka.producer.partitioner = murmur2_random, "
        "Java's default, or murmur2, consistent_random, consistent, fnv1a_random, fnv1a, "
        "random), or defaultPartitionId / partitionIdHeader");
  }
  if (name == "interceptor.classes")
    return reject(
        "Java producer/consumer interceptors cannot be loaded by sluice; use Flume "
        "interceptors on the source instead");
  if (name == "transactional.id")
    return reject(
        "Kafka transactions are not supported by the sluice Kafka plugins; "
        "enable.idempotence = true gives duplicate-free retries per partition");
  if (name == "ssl.truststore.location" || name == "ssl.truststore.password" ||
      name == "ssl.truststore.type")
    return reject(
        "Java (JKS) trust stores are not readable by librdkafka; give the CA "
        "certificate in PEM form as ssl.ca.location");
  if (name == "ssl.keystore.type") {
    if (lowerCopy(value) == "pkcs12") return;  // librdkafka's ssl.keystore.location is PKCS#12
    return reject(
        "only PKCS12 key stores are readable by librdkafka (ssl.keystore.location); "
        "or give ssl.certificate.location and ssl.key.location in PEM form");
  }
  if (name == "sasl.jaas.config") {
    const std::string lower = lowerCopy(value);
    if (lower.find("plainloginmodule") != std::string::npos ||
        lower.find("scramloginmodule") != std::string::npos) {
      setProperty(out, "sasl.username", detail::jaasOption(value, "username"), key);
      setProperty(out, "sasl.password", detail::jaasOption(value, "password"), key);
      return;
    }
    return reject(
        "only PlainLoginModule and ScramLoginModule JAAS lines can be translated "
        "(to sasl.username and sasl.password); for Kerberos set sasl.kerberos.* "
        "properties, for OAUTHBEARER sasl.oauthbearer.*");
  }
  if (name == "ssl.disableTLSHostnameVerification") {  // Flume's own switch
    if (lowerCopy(value) == "true")
      setProperty(out, "ssl.endpoint.identification.algorithm", "none", key);
    return;
  }
  if (name == "max.block.ms" || name == "metric.reporters" || name.rfind("metrics.", 0) == 0 ||
      name == "max.poll.records" || name == "exclude.internal.topics" ||
      name == "default.api.timeout.ms" || name == "allow.auto.create.topics" ||
      name == "security.providers" || name == "client.dns.lookup")
    return warnIgnored("a Java client setting with no librdkafka equivalent");
  if (name == "buffer.memory") {
    int64_t bytes = 0;
    try {
      bytes = std::stoll(value);
    } catch (...) {
      return reject("expected a number of bytes, got '" + value + "'");
    }
    setProperty(out, "queue.buffering.max.kbytes",
                std::to_string(std::max<int64_t>(1, bytes / 1024)), key);
    return;
  }
  if (name == "max.request.size") return setProperty(out, "message.max.bytes", value, key);
  if (name == "fetch.max.wait.ms") return setProperty(out, "fetch.wait.max.ms", value, key);
  if (name == "send.buffer.bytes") return setProperty(out, "socket.send.buffer.bytes", value, key);
  if (name == "receive.buffer.bytes")
    return setProperty(out, "socket.receive.buffer.bytes", value, key);
  if (name == "auto.offset.reset") {
    if (lowerCopy(value) == "none") return setProperty(out, "auto.offset.reset", "error", key);
    return setProperty(out, name, value, key);
  }
  if (name == "partition.assignment.strategy") {
    // Kafka's assignor classes map to librdkafka's assignors of the same rule (and group
    // protocol name); librdkafka's own names (range, roundrobin, cooperative-sticky) pass as
    // they are.
    std::string mapped;
    bool stickyMapped = false;
    for (const std::string& cls : splitList(value)) {
      static constexpr std::string_view kPackage = "org.apache.kafka.clients.consumer.";
      std::string m;
      if (cls == std::string(kPackage) + "RangeAssignor")
        m = "range";
      else if (cls == std::string(kPackage) + "RoundRobinAssignor")
        m = "roundrobin";
      else if (cls == std::string(kPackage) + "CooperativeStickyAssignor")
        m = "cooperative-sticky";
      else if (cls == std::string(kPackage) + "StickyAssignor")
        m = "cooperative-sticky", stickyMapped = true;
      else if (cls == "range" || cls == "roundrobin" || cls == "cooperative-sticky")
        m = cls;
      else
        return reject(
            "'" + cls +
            "' is not one of Kafka's own assignors, and Java classes cannot be loaded by "
            "sluice; use org.apache.kafka.clients.consumer.RangeAssignor, RoundRobinAssignor, "
            "StickyAssignor or CooperativeStickyAssignor, or librdkafka's names range, "
            "roundrobin and cooperative-sticky");
      if (mapped.find(m) != std::string::npos) continue;  // Sticky and CooperativeSticky
      if (!mapped.empty()) mapped += ',';
      mapped += m;
    }
    if (stickyMapped)
      ctx.logger().warn(ctx.describe(key),
                        ": StickyAssignor is done by librdkafka's cooperative-sticky assignor: "
                        "the same assignment, rebalanced incrementally. Every member of the "
                        "group must offer cooperative-sticky (a Java consumer: "
                        "CooperativeStickyAssignor) for the group to agree on it");
    return setProperty(out, name, mapped, key);
  }
  if (name == "enable.auto.commit" && role == Role::Consumer) {
    if (lowerCopy(value) == "true")
      warnIgnored("offsets are committed only after the events are in the channel, as in Flume");
    return;
  }
  if (name == "enable.auto.offset.store" && role == Role::Consumer) return;  // managed
  setProperty(out, name, value, key);
}

// Every `<prefix><name>` key of the context, translated (prefix e.g. "kafka.producer.").
inline void translateAll(Role role, const sdk::Context& ctx, const std::string& prefix,
                         Properties& out) {
  for (const auto& [key, param] : ctx.parameters()) {
    if (key.size() <= prefix.size() || key.compare(0, prefix.size(), prefix) != 0) continue;
    translateProperty(role, key.substr(prefix.size()), param.value, key, ctx, out);
  }
}

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const noexcept { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// Builds a librdkafka configuration from the properties. A property librdkafka refuses is a
// ConfigError naming the key it came from (a secret's value is never quoted).
inline ConfPtr buildConf(const Properties& props, const sdk::Context& ctx) {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const Property& p : props) {
    if (p.name == kJavaPartitionerProperty) continue;  // JavaPartitioner::install() applies it
    if (rd_kafka_conf_set(conf.get(), p.name.c_str(), p.value.c_str(), err, sizeof err) ==
        RD_KAFKA_CONF_OK)
      continue;
    std::string why = isSecretProperty(p.name) || isSecretProperty(p.key)
                          ? "librdkafka refused property '" + p.name + "' (value not shown)"
                          : "librdkafka: " + std::string(err);
    if (p.key.empty()) throw sdk::ConfigError(ctx.path() + ": " + why);
    const std::string suffix = "." + p.name;
    const bool translated = p.key.size() < suffix.size() ||
                            p.key.compare(p.key.size() - suffix.size(), suffix.size(), suffix) != 0;
    if (translated) why += " (the key was translated to librdkafka's '" + p.name + "')";
    ctx.fail(p.key, why);
  }
  return conf;
}

// Installs on `conf` the callback partitioner that `props` ask for (partitioner.class =
// Kafka's RoundRobinPartitioner or UniformStickyPartitioner, see kafka_partitioner.hpp), if any.
// `partitioner` must outlive the producer made from `conf`.
inline void installJavaPartitioner(JavaPartitioner& partitioner, rd_kafka_conf_t* conf,
                                   const Properties& props) {
  const Property* rule = findProperty(props, kJavaPartitionerProperty);
  if (!rule) return;
  int64_t lingerMs = 10;  // librdkafka's default sticky.partitioning.linger.ms
  if (const Property* linger = findProperty(props, "sticky.partitioning.linger.ms")) {
    // buildConf() has checked it with librdkafka: an integer in 0..900000.
    (void)std::from_chars(linger->value.data(), linger->value.data() + linger->value.size(),
                          lingerMs);
  }
  (void)partitioner.install(conf, rule->value, lingerMs);
}

// Log lines and error events of one librdkafka client, routed to the plugin's logger. The
// object is the client's opaque (rd_kafka_conf_set_opaque); it must outlive the client.
// log() runs on librdkafka's threads, error() on the thread that polls; both only use the
// thread-safe Logger and atomics.
class ClientEvents {
 public:
  explicit ClientEvents(sdk::Logger* logger) : logger_(logger) {}

  // The plugin object that owns the client, for callbacks that need more than logging (the
  // producer's delivery reports).
  void* owner = nullptr;

  sdk::Logger& logger() const noexcept { return *logger_; }
  void setLogger(sdk::Logger* logger) noexcept { logger_ = logger; }

  // Installs the callbacks and this object as the opaque.
  void install(rd_kafka_conf_t* conf) {
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_log_cb(conf, &ClientEvents::onLog);
    rd_kafka_conf_set_error_cb(conf, &ClientEvents::onError);
  }

  static ClientEvents& of(rd_kafka_t* rk) noexcept {
    return *static_cast<ClientEvents*>(rd_kafka_opaque(rk));
  }

  // Errors reported since the last call, e.g. all brokers down: the newest message.
  bool brokersDown() const noexcept { return allBrokersDown_.load(std::memory_order_relaxed); }
  void clearBrokersDown() noexcept { allBrokersDown_.store(false, std::memory_order_relaxed); }
  bool fatal() const noexcept { return fatal_.load(std::memory_order_relaxed); }
  void clearFatal() noexcept { fatal_.store(false, std::memory_order_relaxed); }
  int64_t errorCount() const noexcept { return errors_.load(std::memory_order_relaxed); }

 private:
  static void onLog(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    auto* self = static_cast<ClientEvents*>(rd_kafka_opaque(rk));
    if (!self) return;
    sdk::Logger& log = *self->logger_;
    // Connection failures ("FAIL") also come to onError, which reports them at most once per
    // 10 s; librdkafka's own line for each is kept at info so a missing broker does not flood.
    if (level <= 4 && std::strcmp(fac, "FAIL") != 0)
      log.warn("librdkafka ", fac, ": ", buf);
    else if (level <= 6)
      log.info("librdkafka ", fac, ": ", buf);
    else
      log.debug("librdkafka ", fac, ": ", buf);
  }

  static void onError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<ClientEvents*>(opaque);
    if (!self) return;
    self->errors_.fetch_add(1, std::memory_order_relaxed);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
      self->allBrokersDown_.store(true, std::memory_order_relaxed);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char why[512];
      rd_kafka_fatal_error(rk, why, sizeof why);
      self->fatal_.store(true, std::memory_order_relaxed);
      self->logger_->error("Kafka client fatal error: ", why);
      return;
    }
    // Connection errors repeat while a broker is away: one line per 10 s is enough.
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    const auto next = self->nextErrorLog_.load(std::memory_order_relaxed);
    if (now < next) {
      self->suppressed_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    self->nextErrorLog_.store(now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                        std::chrono::seconds(10))
                                        .count(),
                              std::memory_order_relaxed);
    const int64_t held = self->suppressed_.exchange(0, std::memory_order_relaxed);
    self->logger_->warn(
        "Kafka: ", rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err)), ": ", reason,
        held > 0 ? " (" + std::to_string(held) + " more errors since the last report)"
                 : std::string());
  }

  sdk::Logger* logger_;
  std::atomic<bool> allBrokersDown_{false};
  std::atomic<bool> fatal_{false};
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> nextErrorLog_{0};
  std::atomic<int64_t> suppressed_{0};
};

// The partition an event goes to, as Flume's Kafka sink and channel choose it: the value of
// the header partitionIdHeader names (when set and present), else defaultPartitionId, else
// librdkafka's partitioner. False, with Flume's message in *error, for a header value that is
// not a non-negative integer.
inline bool partitionFor(const sdk::Event& event, const std::string& partitionIdHeader,
                         std::optional<int32_t> defaultPartitionId, int32_t* partition,
                         std::string* error) {
  *partition = defaultPartitionId.value_or(RD_KAFKA_PARTITION_UA);
  if (partitionIdHeader.empty()) return true;
  const std::string* v = event.headers.find(partitionIdHeader);
  if (!v) return true;
  int32_t p = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), p);
  if (ec != std::errc() || ptr != v->data() + v->size() || p < 0) {
    *error = "Non integer partition id specified: header " + partitionIdHeader + " = '" + *v + "'";
    return false;
  }
  *partition = p;
  return true;
}

// ---- Flume's AvroFlumeEvent binary encoding --------------------------------------------------
// {"type":"record","name":"AvroFlumeEvent","namespace":"org.apache.flume.source.avro",
//  "fields":[{"name":"headers","type":{"type":"map","values":"string"}},
//            {"name":"body","type":"bytes"}]}
// written by Avro's binary encoder without any container: the same record layout as the
// avro_event serializer's Event (avro_container.hpp), so its encoder is reused.

inline void encodeFlumeEvent(std::string& out, const sdk::Event& event) {
  avro::appendEventRecord(out, event);
}

namespace detail {
inline bool readAvroLong(std::string_view in, std::size_t& pos, int64_t& v) {
  uint64_t n = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= in.size()) return false;
    const auto c = static_cast<unsigned char>(in[pos++]);
    n |= static_cast<uint64_t>(c & 0x7f) << shift;
    if ((c & 0x80) == 0) {
      v = static_cast<int64_t>(n >> 1) ^ -static_cast<int64_t>(n & 1);
      return true;
    }
  }
  return false;
}
inline bool readAvroBytes(std::string_view in, std::size_t& pos, std::string_view& out) {
  int64_t len = 0;
  if (!readAvroLong(in, pos, len) || len < 0 || static_cast<uint64_t>(len) > in.size() - pos)
    return false;
  out = in.substr(pos, static_cast<std::size_t>(len));
  pos += static_cast<std::size_t>(len);
  return true;
}
}  // namespace detail

// Decodes an AvroFlumeEvent into `event` (headers set, body replaced). Returns false, leaving
// the event unspecified, when the bytes are not one whole AvroFlumeEvent.
inline bool decodeFlumeEvent(std::string_view in, sdk::Event& event) {
  std::size_t pos = 0;
  for (;;) {  // map blocks, ended by a count of 0; a negative count is followed by a byte size
    int64_t count = 0;
    if (!detail::readAvroLong(in, pos, count)) return false;
    if (count == 0) break;
    if (count < 0) {
      int64_t size = 0;
      if (!detail::readAvroLong(in, pos, size)) return false;
      count = -count;
    }
    if (static_cast<uint64_t>(count) > in.size()) return false;
    for (int64_t i = 0; i < count; ++i) {
      std::string_view k, v;
      if (!detail::readAvroBytes(in, pos, k) || !detail::readAvroBytes(in, pos, v)) return false;
      event.headers.set(k, v);
    }
  }
  std::string_view body;
  if (!detail::readAvroBytes(in, pos, body) || pos != in.size()) return false;
  event.body.assign(body.data(), body.size());
  return true;
}

// A librdkafka error code as text: "Local: Message timed out (_MSG_TIMED_OUT)".
inline std::string errText(rd_kafka_resp_err_t err) {
  return std::string(rd_kafka_err2str(err)) + " (" + rd_kafka_err2name(err) + ")";
}

}  // namespace sluice::plugins::kafka
