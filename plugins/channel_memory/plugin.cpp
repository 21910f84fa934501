// Registration only, kept apart from memory_channel.cpp so the unit test links the class
// without exporting a second plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "memory_channel.hpp"

namespace sluice::plugins::memory {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-channel-memory",
      "0.1.0",
      {sdk::makeComponent<MemoryChannel>(
          sdk::ComponentKind::Channel, "memory", {"org.apache.flume.channel.MemoryChannel"},
          memoryChannelSchema(),
          "Bounded in-memory queue with transactions; fast, not durable across restarts")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::memory

SLUICE_PLUGIN(sluice::plugins::memory::manifest)
SLUICE_PLUGIN_TYPES("channel memory org.apache.flume.channel.MemoryChannel")
