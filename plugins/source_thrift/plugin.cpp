// Registration only, apart from thrift_source.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "thrift_source.hpp"

namespace sluice::plugins::thrift_source {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-thrift",
      "0.1.0",
      {sdk::makeComponent<ThriftSource>(
          sdk::ComponentKind::Source, "thrift", {"org.apache.flume.source.ThriftSource"},
          thriftSourceSchema(),
          "Receives events over Flume's Thrift RPC (from a thrift sink of Flume or sluice, or any "
          "Thrift client of flume.thrift)")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::thrift_source

SLUICE_PLUGIN(sluice::plugins::thrift_source::manifest)
SLUICE_PLUGIN_TYPES("source thrift org.apache.flume.source.ThriftSource")
