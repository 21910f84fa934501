// Registration only, apart from avro_sink.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "avro_sink.hpp"

namespace sluice::plugins::avro_sink {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-sink-avro",
      "0.1.0",
      {sdk::makeComponent<AvroSink>(
          sdk::ComponentKind::Sink, "avro", {"org.apache.flume.sink.AvroSink"}, avroSinkSchema(),
          "Sends events over Flume's Avro RPC to the next hop's avro source")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::avro_sink

SLUICE_PLUGIN(sluice::plugins::avro_sink::manifest)
SLUICE_PLUGIN_TYPES("sink avro org.apache.flume.sink.AvroSink")
