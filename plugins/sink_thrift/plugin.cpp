// Registration only, apart from thrift_sink.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "thrift_sink.hpp"

namespace sluice::plugins::thrift_sink {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-sink-thrift",
      "0.1.0",
      {sdk::makeComponent<ThriftSink>(
          sdk::ComponentKind::Sink, "thrift", {"org.apache.flume.sink.ThriftSink"},
          thriftSinkSchema(),
          "Sends events over Flume's Thrift RPC to the next hop's thrift source")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::thrift_sink

SLUICE_PLUGIN(sluice::plugins::thrift_sink::manifest)
SLUICE_PLUGIN_TYPES("sink thrift org.apache.flume.sink.ThriftSink")
