#include "core/cli/session.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <spdlog/spdlog.h>

#include "core/cli/config_sources.hpp"
#include "core/plugin/schema_check.hpp"

namespace sluice::core::cli {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> splitPath(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ":") {
    if (c == ':') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

// Applies the Flume switches among the -D values and returns the rest as config overrides.
// Returns false (after printing why) on a malformed -D.
bool splitDefines(const CommonOptions& o, FlumeLogSwitches& logSwitches, Session& s) {
  auto& overrides = s.overrides;
  for (const auto& d : o.defines) {
    auto eq = d.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "error: -D" << d << ": expected -Dkey=value\n";
      return false;
    }
    std::string key = d.substr(0, eq), value = d.substr(eq + 1);
    if (logSwitches.take(key, value) || monitoring::takeFlumeSwitch(key, value, s.monitoring)) {
      // Taken: flume.root.logger (LEVEL,appender...), flume.log.dir, flume.log.file (see
      // startSession); flume.monitoring.* (monitoring::resolveSettings reads them).
    } else if (key == "propertiesImplementation") {
      // Flume's EnvVarResolverProperties: ${VAR} from the environment in .properties values.
      if (value == "org.apache.flume.node.EnvVarResolverProperties")
        s.substitution.propertiesEnvVars = true;
      else
        std::cerr << "warning: -DpropertiesImplementation=" << value
                  << ": sluice knows only org.apache.flume.node.EnvVarResolverProperties; "
                     "ignored\n";
    } else if (key.rfind("flume.", 0) == 0) {
      std::cerr << "warning: -D" << key << " is a Flume switch sluice does not use yet; ignored\n";
    } else {
      overrides.emplace_back(key, value);
    }
  }
  return true;
}

// Where the logs go: Flume's switches, and the rotation options. False after printing why.
bool logOutputs(const CommonOptions& o, const FlumeLogSwitches& logSwitches, LogOutputs& out) {
  if (!o.logFileMaxSize.empty() && !parseFileSize(o.logFileMaxSize, out.maxFileBytes)) {
    std::cerr << "error: --log-file-max-size: expected a size such as 100MB, 512KB or 1048576 "
                 "(bytes; 0 turns rotation off), got '"
              << o.logFileMaxSize << "'\n";
    return false;
  }
  if (o.logFileMaxFiles >= 0) {
    if (o.logFileMaxFiles < 1 || o.logFileMaxFiles > 200000) {
      std::cerr << "error: --log-file-max-files: expected 1..200000, got " << o.logFileMaxFiles
                << "\n";
      return false;
    }
    out.maxFiles = static_cast<std::size_t>(o.logFileMaxFiles);
  }
  std::vector<std::string> warnings;
  std::string error;
  const bool ok = logSwitches.apply(out, warnings, error);
  for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
  if (!ok) std::cerr << "error: " << error << "\n";
  return ok;
}

// Parses -D (once: its overrides are reused on every reload) and sets up logging.
bool startSession(const CommonOptions& o, Session& s) {
  FlumeLogSwitches logSwitches;
  if (!splitDefines(o, logSwitches, s)) return false;
  // -Dflume.root.logger's level wins over --log-level, as the last word of a Flume command line.
  const std::string level = logSwitches.level().empty() ? o.logLevel : logSwitches.level();
  LogOutputs outputs;
  if (!logOutputs(o, logSwitches, outputs)) return false;
  sdk::LogLevel lv = sdk::LogLevel::info;
  if (!level.empty()) {
    try {
      lv = LogHub::parseLevel(level);
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what() << "\n";
      return false;
    }
  }
  try {
    s.logs = std::make_unique<LogHub>(lv, outputs);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return false;
  }
  return true;
}

// Scans every plugin directory: built-in, --plugins-path, SLUICE_PLUGINS_PATH, plugins.path.
void loadPlugins(const CommonOptions& o, Session& s, const RawConfig* raw) {
  LoaderOptions lo;
  lo.allowInsecurePermissions = o.allowInsecurePlugins;
  s.registry = std::make_unique<PluginRegistry>(lo);
  std::vector<std::string> dirs{builtinPluginDir().string()};
  for (const auto& p : o.pluginsPaths)
    for (const auto& d : splitPath(p)) dirs.push_back(d);
  if (const char* env = std::getenv("SLUICE_PLUGINS_PATH"))
    for (const auto& d : splitPath(env)) dirs.push_back(d);
  if (raw) {
    auto it = raw->entries.find("plugins.path");
    if (it != raw->entries.end())
      for (const auto& d : splitPath(it->second.value)) dirs.push_back(d);
  }
  for (const auto& d : dirs) s.registry->addDirectory(d, s.pluginDiags);
  auto lg = s.logs->core("loader");
  for (const auto& e : s.registry->catalog()) {
    std::string types;
    for (const auto& t : e.types) types += (types.empty() ? "" : ", ") + t;
    if (e.loaded)
      lg->debug("{} {} from {}: {}", e.pluginName, e.pluginVersion, e.file.string(), types);
    else
      lg->debug("{}: {} (loaded when a configuration names one)", e.file.string(), types);
  }
}

}  // namespace

void printDiagnostics(const Diagnostics& d, std::ostream& os, const SecretRegistry& secrets) {
  for (const auto& item : d.items())
    os << (item.severity == Diagnostic::Severity::Error ? "error: " : "warning: ")
       << secrets.mask(item.message) << "\n";
}

std::vector<std::string> configSecrets(const RawConfig& raw, const PluginRegistry& registry) {
  // The plugins the config names are loaded first, so that their schemas' secret keys count.
  for (const auto& [k, p] : raw.entries) {
    const std::string_view last = std::string_view(k).substr(k.rfind('.') + 1);
    if (last == "type" || last == "serializer" || last == "handler")
      registry.loadDeclaring(p.value);
  }
  const std::vector<std::string> schemaSecrets = registry.secretKeyNames();
  std::vector<std::string> out;
  for (const auto& [k, p] : raw.entries)
    if (isSecretKey(k) || isSchemaSecret(schemaSecrets, k)) out.push_back(p.value);
  return out;
}

RawConfig loadSessionConfig(const std::vector<ConfigDocument>& docs, Session& s,
                            Diagnostics& diags) {
  RawConfig raw = parseDocuments(docs);
  applyOverrides(raw, s.overrides);
  // Before any value is checked or quoted: a filter's value is a secret wherever it lands.
  std::vector<std::string> secrets = applySubstitutions(raw, s.substitution, diags);
  if (s.registry) {
    std::vector<std::string> keys = configSecrets(raw, *s.registry);
    secrets.insert(secrets.end(), keys.begin(), keys.end());
  }
  s.logs->secrets().add(secrets);
  return raw;
}

bool openSession(const CommonOptions& o, Session& s) {
  if (!startSession(o, s)) return false;
  loadPlugins(o, s, nullptr);
  return true;
}

std::string resolveConfFile(const CommonOptions& o, const std::string& file) {
  fs::path f(file);
  if (f.is_relative() && !o.confDir.empty() && !fs::exists(f) &&
      fs::exists(fs::path(o.confDir) / f))
    return (fs::path(o.confDir) / f).string();
  return file;
}

int prepare(const CommonOptions& o, Session& s, std::unique_ptr<Agent>& holder, AgentOptions aopts,
            bool quietOk) {
  if (o.confFiles.empty() && o.confUris.empty() && o.zkConnect.empty()) {
    std::cerr << "error: no configuration: pass -f/--conf-file, -u/--conf-uri or "
                 "-z/--zkConnString\n";
    return 2;
  }
  if (!startSession(o, s)) return 2;
  s.logs->secrets().add({o.confPassword});
  RawConfig& raw = s.raw;
  Diagnostics diags;
  s.substitution.strict = o.strict;
  // The plugins first: their schemas say which keys are secrets. plugins.path is a key of the
  // file, read before any substitution.
  try {
    s.source = makeConfigSource(o, *s.logs);
    const std::vector<ConfigDocument> docs = s.source->fetch();
    RawConfig plain = parseDocuments(docs);
    applyOverrides(plain, s.overrides);
    loadPlugins(o, s, &plain);
    raw = loadSessionConfig(docs, s, diags);
  } catch (const std::exception& e) {
    // Nothing is known of the file's secrets yet; a URL's password still goes.
    std::cerr << "error: " << s.logs->secrets().mask(e.what()) << "\n";
    return 1;
  }
  // Refused plugin libraries are reported, but only fail the run when a type is missing.
  for (const auto& d : s.pluginDiags.items()) std::cerr << "warning: " << d.message << "\n";

  std::string agent = o.agent;
  if (agent.empty()) {
    auto names = agentNames(raw);
    if (names.size() == 1) {
      agent = names.front();
    } else {
      std::cerr << "error: " << raw.file << ": pass -n/--name to pick an agent";
      if (names.empty()) std::cerr << " (the file defines none)";
      for (std::size_t i = 0; i < names.size(); ++i)
        std::cerr << (i ? ", " : " (defined: ") << names[i];
      if (!names.empty()) std::cerr << ")";
      std::cerr << "\n";
      return 2;
    }
  }
  AgentConfig cfg = buildAgentConfig(raw, agent, diags, o.strict);
  if (!diags.hasErrors()) {
    aopts.lenient = o.lenient;
    aopts.strict = o.strict;
    holder = std::make_unique<Agent>(*s.registry, *s.logs, aopts);
    holder->build(cfg, diags);
  }
  printDiagnostics(diags, std::cerr, s.logs->secrets());
  if (diags.hasErrors()) {
    std::cerr << raw.file << ": agent '" << agent << "': " << diags.errorCount()
              << " error(s); nothing was started\n";
    return 1;
  }
  if (!quietOk)
    std::cout << raw.file << ": agent '" << agent << "' is valid: " << cfg.sources.size()
              << " source(s), " << cfg.channels.size() << " channel(s), " << cfg.sinks.size()
              << " sink(s), " << cfg.sinkgroups.size() << " sink group(s)\n";
  return -1;
}

}  // namespace sluice::core::cli
