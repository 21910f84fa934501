// Registration only, kept apart from regex_extractor_interceptor.cpp so the unit test links the
// classes without exporting a second plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "regex_extractor_interceptor.hpp"

namespace sluice::plugins::regexextractor {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-interceptor-regex-extractor",
      "0.1.0",
      {sdk::makeComponent<RegexExtractorInterceptorBuilder>(
          sdk::ComponentKind::Interceptor, "regex_extractor",
          {"org.apache.flume.interceptor.RegexExtractorInterceptor$Builder"},
          regexExtractorSchema(),
          "Copies the groups of a regular expression match in the body into headers")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::regexextractor

SLUICE_PLUGIN(sluice::plugins::regexextractor::manifest)
SLUICE_PLUGIN_TYPES(
    "interceptor regex_extractor "
    "org.apache.flume.interceptor.RegexExtractorInterceptor$Builder")
