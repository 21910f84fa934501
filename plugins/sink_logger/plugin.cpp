// Registration only, apart from logger_sink.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "logger_sink.hpp"

namespace sluice::plugins::logger {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-sink-logger",
      "0.1.0",
      {sdk::makeComponent<LoggerSink>(sdk::ComponentKind::Sink, "logger",
                                      {"org.apache.flume.sink.LoggerSink"}, loggerSinkSchema(),
                                      "Logs each event at INFO (for testing and debugging)")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::logger

SLUICE_PLUGIN(sluice::plugins::logger::manifest)
SLUICE_PLUGIN_TYPES("sink logger org.apache.flume.sink.LoggerSink")
