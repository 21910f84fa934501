// Registration only, apart from kafka_channel.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "kafka_channel.hpp"

namespace sluice::plugins::kafka {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-channel-kafka",
      "0.1.0",
      {sdk::makeComponent<KafkaChannel>(
          sdk::ComponentKind::Channel, "kafka", {"org.apache.flume.channel.kafka.KafkaChannel"},
          kafkaChannelSchema(),
          "Keeps events in a Kafka topic: a put commits once Kafka acknowledged it, a take "
          "commits the consumer offsets")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::kafka

SLUICE_PLUGIN(sluice::plugins::kafka::manifest)
SLUICE_PLUGIN_TYPES("channel kafka org.apache.flume.channel.kafka.KafkaChannel")
