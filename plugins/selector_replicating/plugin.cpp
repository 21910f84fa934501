// Registration only, apart from replicating_selector.cpp so the unit test links the class
// without exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "replicating_selector.hpp"

namespace sluice::plugins::replicating {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-selector-replicating",
      "0.1.0",
      {sdk::makeComponent<ReplicatingSelector>(
          sdk::ComponentKind::ChannelSelector, "replicating",
          {"org.apache.flume.channel.ReplicatingChannelSelector"}, replicatingSelectorSchema(),
          "Sends every event to all of the source's channels (the default selector)")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::replicating

SLUICE_PLUGIN(sluice::plugins::replicating::manifest)
SLUICE_PLUGIN_TYPES("selector replicating org.apache.flume.channel.ReplicatingChannelSelector")
