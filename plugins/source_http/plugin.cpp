// Registration only, apart from http_source.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "http_source.hpp"

namespace sluice::plugins::http_source {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-http",
      "0.1.0",
      {sdk::makeComponent<HttpSource>(
          sdk::ComponentKind::Source, "http", {"org.apache.flume.source.http.HTTPSource"},
          httpSourceSchema(),
          "Accepts events by HTTP POST (JSON arrays of events, or one BLOB per request)")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::http_source

SLUICE_PLUGIN(sluice::plugins::http_source::manifest)
SLUICE_PLUGIN_TYPES("source http org.apache.flume.source.http.HTTPSource")
