#pragma once
// For plugin unit tests and benches: the Context a plugin's configure() receives from the host,
// made by the host's own code (core's prepareContext; the implementation is
// core/plugin/test_host_context.cpp, since plugins include nothing from core/): the keys
// checked against the schema (unknown keys, types, ranges, required keys) and every schema
// default filled in. Unknown keys are errors here, as in TOML and under --strict: a plugin's
// tests assert them so; in a .properties config the host only warns (UnknownKeys::Warn, tested
// once for every plugin in tests/unit/test_config.cpp). A plugin reads its keys without restating
// defaults or ranges, so a test that configured it with a hand-built Context would not see its real
// defaults; through here it does, exactly as in production.

#include <string>
#include <vector>

#include "sluice/sdk/component.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/plugin.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::testing {

struct HostContext {
  sdk::Context context;             // what configure() receives; meaningful when errors is empty
  std::vector<std::string> errors;  // the host's messages, as `sluice validate` prints them
  std::vector<std::string> warnings;
};

// `given` checked and filled as the host does for a component of `kind` (whose framework keys,
// such as a source's back-off keys, pass as in the host) and type name `type` (for messages).
HostContext prepareAsHost(sdk::ComponentKind kind, const std::string& type,
                          const sdk::Schema& schema, const sdk::Context& given);

// Prepares `given` as the host does for `object` (its kind is read from its class) and, when the
// host's check passes, configures `object` with the result through its host entry point. Returns
// the host's first error, else configure()'s result.
sdk::Result configureAsHost(sdk::PluginObject& object, const sdk::Schema& schema,
                            const sdk::Context& given, const std::string& type = "test");

}  // namespace sluice::plugins::testing
