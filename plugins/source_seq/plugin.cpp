// Registration only, apart from seq_source.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "seq_source.hpp"

namespace sluice::plugins::seq {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-seq",
      "0.1.0",
      {sdk::makeComponent<SequenceSource>(
          sdk::ComponentKind::Source, "seq", {"org.apache.flume.source.SequenceGeneratorSource"},
          seqSourceSchema(),
          "Generates events with bodies 0, 1, 2, ... (for tests and benchmarks)")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::seq

SLUICE_PLUGIN(sluice::plugins::seq::manifest)
SLUICE_PLUGIN_TYPES("source seq org.apache.flume.source.SequenceGeneratorSource")
