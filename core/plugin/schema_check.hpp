#pragma once
// Checks one component's keys against the schema its plugin declares, before configure(), and
// prepares the Context configure() receives: unknown keys get a "did you mean" hint and are
// errors or warnings by UnknownKeys (below), Flume keys sluice ignores are warnings, values must
// parse as the declared type and fall inside the declared range, required keys must be present, and
// every schema default that was not given is filled in. The schema is so the single place of a
// key's default and range: plugins read their keys without restating either
// (plugins/common/config_keys.hpp).
//
// The Context a user wrote is not changed: /config, `sluice validate` and the reload signature
// use it as written, never the filled-in copy.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/diagnostics.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/plugin.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::core {

// The location of a key the host filled in from the schema default: errors about it end in
// "(default)".
inline constexpr const char* kDefaultLocation = "default";

// What a key no schema knows is. Flume ignores such a key (its components read only the keys they
// know), so a Flume .properties config that Flume runs must start: Warn. In TOML, sluice's own
// format, and under --strict (for CI pipelines) it is an error: Error.
enum class UnknownKeys { Error, Warn };

// Reports an unknown key. `message` names the key and what was found ("a1.sinks.k1.x: unknown
// key for type 'null' (did you mean 'y'?) (f.properties:3)"); `tail` ends it (the `sluice
// describe` hint). As a warning it also says that Flume ignores the key too, and that --strict
// makes it an error.
void reportUnknownKey(Diagnostics& diags, UnknownKeys policy, const std::string& message,
                      const std::string& tail = {});

// The keys the runtime itself consumes for a kind of component, which its schema does not list:
// "type", a source's "channels", "selector.*", "interceptors.*" and back-off keys, a sink's
// "channel". A trailing ".*" covers a family.
const std::vector<std::string>& frameworkKeys(sdk::ComponentKind kind);

// Checks `context` against `schema` (typeName names the type in messages and in the
// `sluice describe` hint; frameworkKeys are skipped) and returns the Context configure()
// receives: `context`'s keys and logger, plus each schema key with a default that `context`
// lacks, located at kDefaultLocation. Families, Flume keys sluice ignores and keys without a
// default are never filled, so a key whose absence means something must not declare a default.
// A schema default that fails its own key's check is reported as the plugin's bug.
// Unknown keys are reported by `unknownKeys`.
sdk::Context checkAgainstSchema(const sdk::Schema& schema, const std::string& typeName,
                                const sdk::Context& context,
                                const std::vector<std::string>& frameworkKeys, Diagnostics& diags,
                                UnknownKeys unknownKeys = UnknownKeys::Error);

// The one call the host makes for a plugin component before configure(): checkAgainstSchema
// with the component's schema, type name and kind's framework keys. Plugin unit tests reach it
// through plugins/testing/host_context.hpp.
sdk::Context prepareContext(const sdk::ComponentInfo& info, const sdk::Context& context,
                            Diagnostics& diags, UnknownKeys unknownKeys = UnknownKeys::Error);
sdk::Context prepareContext(sdk::ComponentKind kind, const std::string& typeName,
                            const sdk::Schema& schema, const sdk::Context& context,
                            Diagnostics& diags, UnknownKeys unknownKeys = UnknownKeys::Error);

// The value a key will have: the configured one, else the schema default.
std::optional<std::string> effectiveValue(const sdk::Schema& schema, const sdk::Context& context,
                                          const std::string& key);

// Whether the full configuration key `key` ("a1.sinks.k1.ssl.password") is one of `secretNames`,
// the key names schemas mark isSecret() ("ssl.password", or a family "kafka.sasl.*"), matched on
// the key's trailing segments whatever component it belongs to: a key one plugin calls secret
// is kept secret everywhere, since knowing the component's type here would mean building it.
bool isSchemaSecret(const std::vector<std::string>& secretNames, const std::string& key);

// Whether `value` of a key declared with Key::component() names a plugin of that kind rather
// than one of the key's built-in values (its oneOf list, matched case-insensitively, blanks
// trimmed). The host then makes that plugin (ComponentFactory) and checks the keys below the key
// ("<key>.x") against the plugin's schema instead of the owner's.
bool namesPlugin(const sdk::Key& key, std::string_view value);

// Whether a key matches a schema/framework key name ("a.b" exactly, or "a.*" as a family).
bool keyMatches(const std::string& pattern, const std::string& key);

// `sluice describe`'s text for a schema: "  keys:" and, per key, its name, type, allowed values,
// required/default, and description.
std::string describeKeys(const sdk::Schema& schema);

// A set of keys the host reads itself (sink processors, monitoring), declared, checked and
// described like a plugin's.
struct HostSchema {
  std::string kind;  // "sink-processor"; empty for monitoring
  std::string type;  // "failover"
  std::vector<std::string> aliases;
  std::string description;
  sdk::Schema schema;
};

// `sluice describe`'s whole text for a HostSchema.
std::string describeHostSchema(const HostSchema& h);

}  // namespace sluice::core
