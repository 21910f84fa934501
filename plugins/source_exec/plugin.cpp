// Registration only, apart from exec_source.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "exec_source.hpp"

namespace sluice::plugins::exec {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-exec",
      "0.1.0",
      {sdk::makeComponent<ExecSource>(
          sdk::ComponentKind::Source, "exec", {"org.apache.flume.source.ExecSource"},
          execSourceSchema(), "Runs a command and turns each line of its stdout into an event")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::exec

SLUICE_PLUGIN(sluice::plugins::exec::manifest)
SLUICE_PLUGIN_TYPES("source exec org.apache.flume.source.ExecSource")
