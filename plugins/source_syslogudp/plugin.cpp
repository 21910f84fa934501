// Registration only, apart from syslog_udp_source.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "syslog_udp_source.hpp"

namespace sluice::plugins::syslogudp {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-syslogudp",
      "0.1.0",
      {sdk::makeComponent<SyslogUdpSource>(
          sdk::ComponentKind::Source, "syslogudp", {"org.apache.flume.source.SyslogUDPSource"},
          syslogUdpSourceSchema(),
          "Receives syslog messages over UDP (RFC 5424 and RFC 3164, one per datagram) and "
          "parses each into an event with Flume's headers")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::syslogudp

SLUICE_PLUGIN(sluice::plugins::syslogudp::manifest)
SLUICE_PLUGIN_TYPES("source syslogudp org.apache.flume.source.SyslogUDPSource")
