// Registration only, apart from kafka_source.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "kafka_source.hpp"

namespace sluice::plugins::kafka {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-kafka",
      "0.1.0",
      {sdk::makeComponent<KafkaSource>(
          sdk::ComponentKind::Source, "kafka", {"org.apache.flume.source.kafka.KafkaSource"},
          kafkaSourceSchema(),
          "Reads Kafka topics as a consumer group member (librdkafka); offsets are committed "
          "after the channels took the batch")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::kafka

SLUICE_PLUGIN(sluice::plugins::kafka::manifest)
SLUICE_PLUGIN_TYPES("source kafka org.apache.flume.source.kafka.KafkaSource")
