// Registration only, apart from null_sink.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "null_sink.hpp"

namespace sluice::plugins::null {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-sink-null",
      "0.1.0",
      {sdk::makeComponent<NullSink>(sdk::ComponentKind::Sink, "null",
                                    {"org.apache.flume.sink.NullSink"}, nullSinkSchema(),
                                    "Discards every event (for benchmarks and draining)")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::null

SLUICE_PLUGIN(sluice::plugins::null::manifest)
SLUICE_PLUGIN_TYPES("sink null org.apache.flume.sink.NullSink")
