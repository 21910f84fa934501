#pragma once
// Checks one component's keys against the schema its plugin declares, before configure():
// unknown keys are errors with a hint, Flume keys sluice ignores are warnings, values must parse
// as the declared type and fall inside the declared range, required keys must be present.

#include <optional>
#include <string>
#include <vector>

#include "core/config/diagnostics.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::core {

// frameworkKeys: keys the runtime itself consumes for this kind of component ("type",
// "channels", "selector.*"...); a trailing ".*" covers a family.
void checkAgainstSchema(const sdk::Schema& schema, const std::string& typeName,
                        const sdk::Context& context, const std::vector<std::string>& frameworkKeys,
                        Diagnostics& diags);

// The value a key will have: the configured one, else the schema default.
std::optional<std::string> effectiveValue(const sdk::Schema& schema, const sdk::Context& context,
                                          const std::string& key);

// Whether the full configuration key `key` ("a1.sinks.k1.ssl.password") is one of `secretNames`,
// the key names schemas mark isSecret() ("ssl.password", or a family "kafka.sasl.*"), matched on
// the key's trailing segments whatever component it belongs to: a key one plugin calls secret
// is kept secret everywhere, since knowing the component's type here would mean building it.
bool isSchemaSecret(const std::vector<std::string>& secretNames, const std::string& key);

// Whether a key matches a schema/framework key name ("a.b" exactly, or "a.*" as a family).
bool keyMatches(const std::string& pattern, const std::string& key);

}  // namespace sluice::core
