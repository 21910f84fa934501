// Registration only, kept apart from static_interceptor.cpp so the unit test links the classes
// without exporting a second plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "static_interceptor.hpp"

namespace sluice::plugins::staticheader {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-interceptor-static",
      "0.1.0",
      {sdk::makeComponent<StaticInterceptorBuilder>(
          sdk::ComponentKind::Interceptor, "static",
          {"org.apache.flume.interceptor.StaticInterceptor$Builder"}, staticSchema(),
          "Puts one fixed header into every event")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::staticheader

SLUICE_PLUGIN(sluice::plugins::staticheader::manifest)
SLUICE_PLUGIN_TYPES("interceptor static org.apache.flume.interceptor.StaticInterceptor$Builder")
