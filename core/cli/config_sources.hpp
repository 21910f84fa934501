#pragma once
// Turns the command line's config options into the ConfigSource the agent loads and reloads
// from, with Flume 1.10+'s precedence: -z/--zkConnString (the znode <zkBasePath>/<agent>) wins
// over everything else; otherwise every -u/--conf-uri in order, then every -f/--conf-file in
// order, merged (a later key wins).

#include <memory>

#include "core/cli/session.hpp"
#include "core/config/config_source.hpp"

namespace sluice::core::cli {

// Throws ConfigParseError when the options contradict each other or a URI is malformed.
std::unique_ptr<ConfigSource> makeConfigSource(const CommonOptions& o, LogHub& logs);

}  // namespace sluice::core::cli
