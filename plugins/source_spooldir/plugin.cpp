// Registration only, apart from spooldir_source.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "spooldir_source.hpp"

namespace sluice::plugins::spooldir {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-spooldir",
      "0.1.0",
      {sdk::makeComponent<SpoolDirSource>(
          sdk::ComponentKind::Source, "spooldir", {"org.apache.flume.source.SpoolDirectorySource"},
          spoolDirSourceSchema(),
          "Reads each file dropped into a directory once, then renames, tracks or deletes it")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::spooldir

SLUICE_PLUGIN(sluice::plugins::spooldir::manifest)
SLUICE_PLUGIN_TYPES("source spooldir org.apache.flume.source.SpoolDirectorySource")
