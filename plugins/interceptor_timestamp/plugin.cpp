// Registration only, kept apart from timestamp_interceptor.cpp so the unit test links the classes
// without exporting a second plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "timestamp_interceptor.hpp"

namespace sluice::plugins::timestamp {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-interceptor-timestamp",
      "0.1.0",
      {sdk::makeComponent<TimestampInterceptorBuilder>(
          sdk::ComponentKind::Interceptor, "timestamp",
          {"org.apache.flume.interceptor.TimestampInterceptor$Builder"}, timestampSchema(),
          "Puts the current time in milliseconds since the epoch into a header")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::timestamp

SLUICE_PLUGIN(sluice::plugins::timestamp::manifest)
SLUICE_PLUGIN_TYPES(
    "interceptor timestamp "
    "org.apache.flume.interceptor.TimestampInterceptor$Builder")
