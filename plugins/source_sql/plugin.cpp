// Registration only, apart from sql_source.cpp so the unit tests link the class without
// exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "sql_source.hpp"

namespace sluice::plugins::sql {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-source-sql",
      "0.1.0",
      {sdk::makeComponent<SqlSource>(
          sdk::ComponentKind::Source, "sql", {"org.keedio.flume.source.SQLSource"},
          sqlSourceSchema(),
          "Incremental, resumable import of a table or query from MySQL/MariaDB or PostgreSQL; "
          "the offset is saved after the channels committed each batch")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::sql

SLUICE_PLUGIN(sluice::plugins::sql::manifest)
SLUICE_PLUGIN_TYPES("source sql org.keedio.flume.source.SQLSource")
