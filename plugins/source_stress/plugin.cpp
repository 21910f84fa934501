// Registration only, apart from stress_source.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "stress_source.hpp"

namespace sluice::plugins::stress {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-stress",
      "0.1.0",
      {sdk::makeComponent<StressSource>(
          sdk::ComponentKind::Source, "org.apache.flume.source.StressSource", {"stress"},
          stressSourceSchema(),
          "Load generator: fixed-size events, optionally limited in count and rate")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::stress

SLUICE_PLUGIN(sluice::plugins::stress::manifest)
SLUICE_PLUGIN_TYPES("source org.apache.flume.source.StressSource stress")
