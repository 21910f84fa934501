// Registration only, apart from kafka_sink.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "kafka_sink.hpp"

namespace sluice::plugins::kafka {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-sink-kafka",
      "0.1.0",
      {sdk::makeComponent<KafkaSink>(
          sdk::ComponentKind::Sink, "kafka", {"org.apache.flume.sink.kafka.KafkaSink"},
          kafkaSinkSchema(),
          "Produces each event as a Kafka message (librdkafka); a batch commits once Kafka "
          "acknowledged all of it")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::kafka

SLUICE_PLUGIN(sluice::plugins::kafka::manifest)
SLUICE_PLUGIN_TYPES("sink kafka org.apache.flume.sink.kafka.KafkaSink")
