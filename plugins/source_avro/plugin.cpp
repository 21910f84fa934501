// Registration only, apart from avro_source.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "avro_source.hpp"

namespace sluice::plugins::avro_source {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-avro",
      "0.1.0",
      {sdk::makeComponent<AvroSource>(
          sdk::ComponentKind::Source, "avro", {"org.apache.flume.source.AvroSource"},
          avroSourceSchema(),
          "Receives events over Flume's Avro RPC (from an avro sink of Flume or sluice)")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::avro_source

SLUICE_PLUGIN(sluice::plugins::avro_source::manifest)
SLUICE_PLUGIN_TYPES("source avro org.apache.flume.source.AvroSource")
