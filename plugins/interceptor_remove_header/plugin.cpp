// Registration only, kept apart from remove_header_interceptor.cpp so the unit test links the
// classes without exporting a second plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "remove_header_interceptor.hpp"

namespace sluice::plugins::removeheader {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-interceptor-remove-header",
      "0.1.0",
      {sdk::makeComponent<RemoveHeaderInterceptorBuilder>(
          sdk::ComponentKind::Interceptor, "remove_header",
          {"org.apache.flume.interceptor.RemoveHeaderInterceptor$Builder"}, removeHeaderSchema(),
          "Removes headers by name, by a list of names or by a regular expression")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::removeheader

SLUICE_PLUGIN(sluice::plugins::removeheader::manifest)
SLUICE_PLUGIN_TYPES(
    "interceptor remove_header "
    "org.apache.flume.interceptor.RemoveHeaderInterceptor$Builder")
