// Registration only, kept apart from host_interceptor.cpp so the unit test links the classes
// without exporting a second plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "host_interceptor.hpp"

namespace sluice::plugins::host {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-interceptor-host",
      "0.1.0",
      {sdk::makeComponent<HostInterceptorBuilder>(
          sdk::ComponentKind::Interceptor, "host",
          {"org.apache.flume.interceptor.HostInterceptor$Builder"}, hostSchema(),
          "Puts this agent's IP address or host name into a header")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::host

SLUICE_PLUGIN(sluice::plugins::host::manifest)
SLUICE_PLUGIN_TYPES("interceptor host org.apache.flume.interceptor.HostInterceptor$Builder")
