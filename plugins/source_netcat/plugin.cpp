// Registration only, apart from netcat_source.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "netcat_source.hpp"

namespace sluice::plugins::netcat {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-netcat",
      "0.1.0",
      {sdk::makeComponent<NetcatSource>(
          sdk::ComponentKind::Source, "netcat", {"org.apache.flume.source.NetcatSource"},
          netcatSourceSchema(),
          "Listens on a TCP port and turns each line a client sends into an event")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::netcat

SLUICE_PLUGIN(sluice::plugins::netcat::manifest)
SLUICE_PLUGIN_TYPES("source netcat org.apache.flume.source.NetcatSource")
