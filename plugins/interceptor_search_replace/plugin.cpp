// Registration only, kept apart from search_replace_interceptor.cpp so the unit test links the
// classes without exporting a second plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "search_replace_interceptor.hpp"

namespace sluice::plugins::searchreplace {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-interceptor-search-replace",
      "0.1.0",
      {sdk::makeComponent<SearchAndReplaceInterceptorBuilder>(
          sdk::ComponentKind::Interceptor, "search_replace",
          {"org.apache.flume.interceptor.SearchAndReplaceInterceptor$Builder"},
          searchReplaceSchema(),
          "Replaces every match of a regular expression in the event body")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::searchreplace

SLUICE_PLUGIN(sluice::plugins::searchreplace::manifest)
SLUICE_PLUGIN_TYPES(
    "interceptor search_replace "
    "org.apache.flume.interceptor.SearchAndReplaceInterceptor$Builder")
