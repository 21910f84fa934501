// Registration only, kept apart from file_channel.cpp so the unit test links the class without
// exporting a second plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "file_channel.hpp"

namespace sluice::plugins::filechannel {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-channel-file",
      "0.1.0",
      {sdk::makeComponent<FileChannel>(
          sdk::ComponentKind::Channel, "file", {"org.apache.flume.channel.file.FileChannel"},
          fileChannelSchema(),
          "Durable channel: a checksummed append-only log with group commit and checkpoints")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::filechannel

SLUICE_PLUGIN(sluice::plugins::filechannel::manifest)
SLUICE_PLUGIN_TYPES("channel file org.apache.flume.channel.file.FileChannel")
