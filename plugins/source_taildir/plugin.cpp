// Registration only, apart from taildir_source.cpp so the unit test links the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "taildir_source.hpp"

namespace sluice::plugins::taildir {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-taildir",
      "0.1.0",
      {sdk::makeComponent<TaildirSource>(
          sdk::ComponentKind::Source, "TAILDIR",
          {"taildir", "org.apache.flume.source.taildir.TaildirSource"}, taildirSourceSchema(),
          "Follows files matching a regex in fixed directories, line by line, surviving rotation "
          "and restarts")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::taildir

SLUICE_PLUGIN(sluice::plugins::taildir::manifest)
SLUICE_PLUGIN_TYPES("source TAILDIR taildir org.apache.flume.source.taildir.TaildirSource")
