// Registration only, apart from multiport_syslog_source.cpp so the unit test links the class
// without exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "multiport_syslog_source.hpp"

namespace sluice::plugins::multiport_syslog {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-multiport-syslogtcp",
      "0.1.0",
      {sdk::makeComponent<MultiportSyslogSource>(
          sdk::ComponentKind::Source, "multiport_syslogtcp",
          {"org.apache.flume.source.MultiportSyslogTCPSource"}, multiportSyslogSourceSchema(),
          "Listens on several TCP ports for syslog messages, decoded with each port's charset and "
          "parsed into events with Flume's headers")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::multiport_syslog

SLUICE_PLUGIN(sluice::plugins::multiport_syslog::manifest)
SLUICE_PLUGIN_TYPES("source multiport_syslogtcp org.apache.flume.source.MultiportSyslogTCPSource")
