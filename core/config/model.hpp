#pragma once
// The configuration model. Both file formats (Flume .properties and TOML) are first flattened into
// a RawConfig of dotted keys with Flume's spellings ("a1.sources.r1.type"), then one builder turns
// that into an AgentConfig. So the two formats cannot drift apart.

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config/diagnostics.hpp"
#include "sluice/sdk/context.hpp"

namespace sluice::core {

// Every key of a config file, flattened, with the file:line it came from.
struct RawConfig {
  std::string file;
  std::map<std::string, sdk::Parameter> entries;
  // Read from a Flume .properties file: an unknown key is a warning there, as Flume ignores it
  // (see UnknownKeys in core/plugin/schema_check.hpp); TOML is sluice's own, strict, format.
  bool flumeProperties = false;
};

// Thrown by the parsers on a syntax error; the message names file:line.
class ConfigParseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Java .properties syntax as Flume reads it (java.util.Properties): `key = value`, `key: value`,
// `key value`, # and ! comments, backslash line continuation, \t \n \r \f \uXXXX escapes.
// A repeated key: the last one wins, as in Java (a warning is added to diags when given).
RawConfig parseProperties(std::string_view text, const std::string& file,
                          Diagnostics* diags = nullptr);

// TOML, flattened to dotted keys: tables nest with '.', scalars become text (true/false, decimal
// numbers), arrays of scalars become space-separated lists, and an array of tables becomes a
// name list plus one sub-table per element, named by the element's `id` key or its 1-based index
// ([[a1.sources.r1.interceptors]] -> interceptors = "1 2", interceptors.1.type = ...). The `id`
// key only names its element and is not kept. Anything the flat form cannot say faithfully (an
// array of arrays, a list element with spaces, two keys that flatten alike) is a ConfigParseError.
RawConfig parseToml(std::string_view text, const std::string& file);

// Reads a file and picks the parser: .toml -> TOML; .properties/.conf/anything else ->
// properties. Throws ConfigParseError (unreadable file, syntax error).
RawConfig loadConfigFile(const std::string& path);
// Same, and keeps the parser's warnings (a repeated key in a .properties file).
RawConfig loadConfigFile(const std::string& path, Diagnostics& diags);

// True when loadConfigFile reads `path` as TOML (it ends in .toml, any case).
bool isTomlPath(std::string_view path);

// Applies `key=value` overrides (from -D), recording them with location "-D". Keys and values
// are trimmed like file values; an empty key throws ConfigParseError.
void applyOverrides(RawConfig& raw, const std::vector<std::pair<std::string, std::string>>& overrides);

// The sections under an agent that hold components: sources, channels, sinks, sinkgroups.
inline bool isComponentSection(std::string_view section) {
  return section == "sources" || section == "channels" || section == "sinks" ||
         section == "sinkgroups";
}

// The agent names that appear in a file (the first segment of keys with a known component
// section: sources, channels, sinks, sinkgroups), sorted, each once.
std::vector<std::string> agentNames(const RawConfig& raw);

// One source, channel, sink, interceptor or selector as written in the config.
struct ComponentConfig {
  std::string name;         // "r1"; a selector carries its source's name, a processor its group's
  std::string type;         // as written; resolved against the plugin registry later
  sdk::Location typeWhere;  // where `type` was written (or the component's first key)
  // Every key of the component with the component prefix removed ("port", "selector.header",
  // "type"...), path() = "a1.sources.r1". The framework keys (type, channels, channel,
  // selector.*, interceptors*) stay in it, so a plugin sees what Flume would pass it.
  sdk::Context context;
};

struct SourceConfig : ComponentConfig {
  std::vector<std::string> channels;
  ComponentConfig selector;  // type "replicating" when not given; context: "selector." stripped
  std::vector<ComponentConfig> interceptors;  // in chain order; context: "interceptors.<i>." stripped
};

struct SinkConfig : ComponentConfig {
  std::string channel;
};

struct SinkGroupConfig {
  std::string name;
  std::vector<std::string> sinks;
  ComponentConfig processor;  // type "default" when not given; context: "processor." stripped
};

struct AgentConfig {
  std::string agent;  // "a1"
  std::string file;
  bool flumeProperties = false;  // RawConfig::flumeProperties of the file it was built from
  std::vector<SourceConfig> sources;
  std::vector<ComponentConfig> channels;
  std::vector<SinkConfig> sinks;
  std::vector<SinkGroupConfig> sinkgroups;

  const ComponentConfig* findChannel(std::string_view name) const {
    for (const auto& c : channels)
      if (c.name == name) return &c;
    return nullptr;
  }
};

// Builds one agent's model and checks its structure: the agent exists, each listed component has
// a type, sources name existing channels, each sink names exactly one existing channel, a sink
// group's sinks exist and belong to one group only, a channel nobody uses is a warning, and a
// component with keys that is not listed in `a1.sources` etc. is a warning (Flume ignores it).
// Lists come from `a1.sources = r1 r2` when present, otherwise from the component tables
// (sdk::Context::getNames). Problems go to diags; the model holds what could be built: a
// component (or interceptor) whose own framework keys are wrong is left out, but its name still
// counts as defined so that one mistake is reported once, not again by everything naming it.
// Run nothing when diags.hasErrors(). An agent-level section no one knows ("a1.sourcse") is a
// warning in a Flume .properties config and an error in TOML or with strict (--strict).
AgentConfig buildAgentConfig(const RawConfig& raw, const std::string& agent, Diagnostics& diags,
                             bool strict = false);

// " (file:line)" to end a config message with, or "" where the place is unknown.
inline std::string atLocation(const sdk::Location& where) {
  const std::string s = where.str();
  return s.empty() ? std::string() : " (" + s + ")";
}

}  // namespace sluice::core
