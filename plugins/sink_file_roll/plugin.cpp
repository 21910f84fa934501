// Registration only, apart from rolling_file_sink.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "rolling_file_sink.hpp"

namespace sluice::plugins::file_roll {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-sink-file-roll",
      "0.1.0",
      {sdk::makeComponent<RollingFileSink>(
          sdk::ComponentKind::Sink, "file_roll", {"org.apache.flume.sink.RollingFileSink"},
          rollingFileSinkSchema(),
          "Writes events to files in a directory, starting a new file every rollInterval")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::file_roll

SLUICE_PLUGIN(sluice::plugins::file_roll::manifest)
SLUICE_PLUGIN_TYPES("sink file_roll org.apache.flume.sink.RollingFileSink")
