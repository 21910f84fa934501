// Registration only, kept apart from regex_filter_interceptor.cpp so the unit test links the
// classes without exporting a second plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "regex_filter_interceptor.hpp"

namespace sluice::plugins::regexfilter {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-interceptor-regex-filter",
      "0.1.0",
      {sdk::makeComponent<RegexFilteringInterceptorBuilder>(
          sdk::ComponentKind::Interceptor, "regex_filter",
          {"org.apache.flume.interceptor.RegexFilteringInterceptor$Builder"}, regexFilterSchema(),
          "Keeps or drops events whose body matches a regular expression")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::regexfilter

SLUICE_PLUGIN(sluice::plugins::regexfilter::manifest)
SLUICE_PLUGIN_TYPES(
    "interceptor regex_filter "
    "org.apache.flume.interceptor.RegexFilteringInterceptor$Builder")
