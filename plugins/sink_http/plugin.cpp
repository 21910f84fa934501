// Registration only, apart from http_sink.cpp so the unit test links the class without exporting
// a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "http_sink.hpp"

namespace sluice::plugins::http_sink {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-sink-http",
      "0.1.0",
      {sdk::makeComponent<HttpSink>(sdk::ComponentKind::Sink, "http",
                                    {"org.apache.flume.sink.http.HttpSink"}, httpSinkSchema(),
                                    "POSTs each event's body to an HTTP or HTTPS endpoint")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::http_sink

SLUICE_PLUGIN(sluice::plugins::http_sink::manifest)
SLUICE_PLUGIN_TYPES("sink http org.apache.flume.sink.http.HttpSink")
