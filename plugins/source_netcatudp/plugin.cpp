// Registration only, apart from netcat_udp_source.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "netcat_udp_source.hpp"

namespace sluice::plugins::netcatudp {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-netcatudp",
      "0.1.0",
      {sdk::makeComponent<NetcatUdpSource>(
          sdk::ComponentKind::Source, "netcatudp", {"org.apache.flume.source.NetcatUdpSource"},
          netcatUdpSourceSchema(),
          "Receives UDP datagrams, like nc -u -k -l, and turns each into an event (its text up "
          "to the first newline)")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::netcatudp

SLUICE_PLUGIN(sluice::plugins::netcatudp::manifest)
SLUICE_PLUGIN_TYPES("source netcatudp org.apache.flume.source.NetcatUdpSource")
