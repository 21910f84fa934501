#pragma once
// Values computed when a config is loaded, as Flume 1.10+ computes them:
//   - ${VAR}: the environment variable VAR (Flume's EnvVarResolverProperties, which a Flume
//     install turns on with
//     -DpropertiesImplementation=org.apache.flume.node.EnvVarResolverProperties; always on in
//     TOML);
//   - ${f1['KEY']}, ${f1["KEY"]} or ${f1[KEY]}: what the agent's config filter f1 returns for KEY
//     (a1.configfilters = f1, a1.configfilters.f1.type = env | external), anywhere in a value,
//     several per value.
// Run on every load (start and each hot reload), after the -D overrides, before anything reads
// the values. Called on the host's control thread.

#include <chrono>
#include <string>
#include <vector>

#include "core/config/diagnostics.hpp"
#include "core/config/model.hpp"

namespace sluice::core {

struct SubstitutionOptions {
  // ${VAR} in a .properties config (-DpropertiesImplementation=...EnvVarResolverProperties).
  // TOML always substitutes.
  bool propertiesEnvVars = false;
  // A key a config filter does not know is an error (TOML, --strict) instead of a warning.
  bool strict = false;
  // How long an external filter's command may run when its `timeout` key is not given.
  std::chrono::milliseconds externalTimeout{10000};
};

// Substitutes in place. Problems go to diags (an undefined ${VAR} in .properties is a warning
// and becomes empty, as in Flume; in TOML it is an error). Returns the values the filters
// produced: secrets, to be masked everywhere (SecretRegistry) before anything is printed.
std::vector<std::string> applySubstitutions(RawConfig& raw, const SubstitutionOptions& options,
                                            Diagnostics& diags);

// The keys of `raw` an agent's config filters are declared under ("a1.configfilters" and
// "a1.configfilters.*"): not component keys.
bool isConfigFilterKey(const std::string& key);

}  // namespace sluice::core
