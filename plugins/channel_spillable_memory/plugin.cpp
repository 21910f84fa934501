// Registration only, kept apart from spillable_memory_channel.cpp so the unit test links the
// class without exporting a second plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "spillable_memory_channel.hpp"

namespace sluice::plugins::spillable {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-channel-spillable-memory",
      "0.1.0",
      {sdk::makeComponent<SpillableMemoryChannel>(
          sdk::ComponentKind::Channel, "SPILLABLEMEMORY",
          {"org.apache.flume.channel.SpillableMemoryChannel"}, spillableChannelSchema(),
          "In-memory queue that spills to a durable file-channel overflow when memory is full",
          sdk::Stability::Evolving)}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::spillable

SLUICE_PLUGIN(sluice::plugins::spillable::manifest)
SLUICE_PLUGIN_TYPES("channel SPILLABLEMEMORY org.apache.flume.channel.SpillableMemoryChannel")
