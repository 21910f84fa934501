// Registration only, apart from syslog_tcp_source.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "syslog_tcp_source.hpp"

namespace sluice::plugins::syslogtcp {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-syslogtcp",
      "0.1.0",
      {sdk::makeComponent<SyslogTcpSource>(
          sdk::ComponentKind::Source, "syslogtcp", {"org.apache.flume.source.SyslogTcpSource"},
          syslogTcpSourceSchema(),
          "Listens on a TCP port for syslog messages (RFC 5424 and RFC 3164, newline or octet "
          "counted) and parses each into an event with Flume's headers")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::syslogtcp

SLUICE_PLUGIN(sluice::plugins::syslogtcp::manifest)
SLUICE_PLUGIN_TYPES("source syslogtcp org.apache.flume.source.SyslogTcpSource")
