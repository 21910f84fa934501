// Registration only, apart from hdfs_sink.cpp so the unit test links the class without exporting
// a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "hdfs_sink.hpp"

namespace sluice::plugins::hdfs {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-sink-hdfs",
      "0.1.0",
      {sdk::makeComponent<HdfsSink>(
          sdk::ComponentKind::Sink, "hdfs", {"org.apache.flume.sink.hdfs.HDFSEventSink"},
          hdfsSinkSchema(),
          "Writes events into time-bucketed files under a local or mounted directory, Flume's "
          "HDFS sink semantics")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::hdfs

SLUICE_PLUGIN(sluice::plugins::hdfs::manifest)
SLUICE_PLUGIN_TYPES("sink hdfs org.apache.flume.sink.hdfs.HDFSEventSink")
