#pragma once
// What the agent and validate commands share: the common options, logging, the -D overrides,
// the plugin registry and the loaded config, and prepare(), which turns them into a built agent.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/config/config_source.hpp"
#include "core/config/diagnostics.hpp"
#include "core/config/model.hpp"
#include "core/config/substitution.hpp"
#include "core/log/logging.hpp"
#include "core/monitoring/options.hpp"
#include "core/plugin/registry.hpp"
#include "core/runtime/agent.hpp"

namespace sluice::core::cli {

struct CommonOptions {
  std::string agent;
  std::vector<std::string> confFiles;  // -f, may repeat: merged in order
  std::string confDir;
  // Flume 1.10+'s other config sources (config_sources.hpp): -u URIs (merged before the -f
  // files), their credentials, -i, -b; -z/-p (a znode, which wins over -u and -f).
  std::vector<std::string> confUris;
  std::string confUser;
  std::string confPassword;     // a secret: registered before anything can print it
  int64_t pollIntervalSec = 0;  // -i; 0: 300 s for URIs, --reload-interval for files
  std::string backupDir;
  std::string zkConnect;
  std::string zkBasePath;
  std::vector<std::string> pluginsPaths;
  std::vector<std::string> defines;
  std::string logLevel;
  std::string logFileMaxSize;    // --log-file-max-size; empty: Flume's 100 MB
  int64_t logFileMaxFiles = -1;  // --log-file-max-files; -1: Flume's 20
  bool lenient = false;
  bool strict = false;  // --strict: unknown keys in a .properties config are errors
  bool allowInsecurePlugins = false;
  int64_t drainTimeoutMs = 5000;
  bool noReload = false;
  int64_t reloadIntervalSec = 30;
  int monitorPort = -1;  // --monitor-port; -1 = not given
  std::string monitorBind;
};

struct Session {
  std::unique_ptr<LogHub> logs;
  std::unique_ptr<PluginRegistry> registry;
  std::vector<std::pair<std::string, std::string>> overrides;
  Diagnostics pluginDiags;
  // Flume's monitoring switches (-Dflume.monitoring.type=http), for the monitoring module.
  monitoring::CommandLine monitoring;
  RawConfig raw;  // the config file as loaded, with the -D overrides and substitutions applied
  // ${VAR} and config filters (-DpropertiesImplementation, --strict), for every load.
  SubstitutionOptions substitution;
  // Where the config comes from (-f, -u, -z); reloads fetch from it again.
  std::unique_ptr<ConfigSource> source;
};

// Parses `docs` (as fetched from s.source), applies the -D overrides, ${VAR} and the config
// filters, and registers the config's secrets (those of secret keys and every value a filter
// produced) before anything can print them. Throws ConfigParseError; other problems go to diags.
// The agent's start and every hot reload load through here.
RawConfig loadSessionConfig(const std::vector<ConfigDocument>& docs, Session& s,
                            Diagnostics& diags);

// Diagnostics quote configuration values: secrets are masked (see LogHub::secrets()).
void printDiagnostics(const Diagnostics& d, std::ostream& os, const SecretRegistry& secrets);

// The configuration's secret values: those of keys named like secrets (isSecretKey) and of keys
// a loaded plugin's schema marks isSecret(). Registered before anything is configured, so that
// no log line, error or status page shows them.
std::vector<std::string> configSecrets(const RawConfig& raw, const PluginRegistry& registry);

// Logging and the plugins, for commands without a config (plugins, describe). Returns false
// after printing why.
bool openSession(const CommonOptions& o, Session& s);

// A --conf-file, looked up in --conf when relative and not found as given.
std::string resolveConfFile(const CommonOptions& o, const std::string& file);

// Loads, checks and builds the agent into `holder`. Returns the exit code on failure, or -1
// when the agent is ready (built, not started). Prints what it found; with quietOk, nothing
// when all is well.
int prepare(const CommonOptions& o, Session& s, std::unique_ptr<Agent>& holder, AgentOptions aopts,
            bool quietOk);

}  // namespace sluice::core::cli
