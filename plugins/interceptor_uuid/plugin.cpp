// Registration only, kept apart from uuid_interceptor.cpp so the unit test links the classes
// without exporting a second plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "uuid_interceptor.hpp"

namespace sluice::plugins::uuid {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-interceptor-uuid",
      "0.1.0",
      {sdk::makeComponent<UuidInterceptorBuilder>(
          sdk::ComponentKind::Interceptor, "uuid",
          {"org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder"}, uuidSchema(),
          "Puts a random version 4 UUID, optionally prefixed, into a header")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::uuid

SLUICE_PLUGIN(sluice::plugins::uuid::manifest)
SLUICE_PLUGIN_TYPES("interceptor uuid org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder")
