#pragma once
// What the agent and validate commands share: the common options, logging, the -D overrides,
// the plugin registry and the loaded config, and prepare(), which turns them into a built agent.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/config/diagnostics.hpp"
#include "core/config/model.hpp"
#include "core/log/logging.hpp"
#include "core/monitoring/options.hpp"
#include "core/plugin/registry.hpp"
#include "core/runtime/agent.hpp"

namespace sluice::core::cli {

struct CommonOptions {
  std::string agent;
  std::string confFile;
  std::string confDir;
  std::vector<std::string> pluginsPaths;
  std::vector<std::string> defines;
  std::string logLevel;
  std::string logFileMaxSize;    // --log-file-max-size; empty: Flume's 100 MB
  int64_t logFileMaxFiles = -1;  // --log-file-max-files; -1: Flume's 20
  bool lenient = false;
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
  RawConfig raw;  // the config file as loaded, with the -D overrides applied
};

// Diagnostics quote configuration values: secrets are masked (see LogHub::secrets()).
void printDiagnostics(const Diagnostics& d, std::ostream& os, const SecretRegistry& secrets);

// The configuration's secret values: those of keys named like secrets (isSecretKey) and of keys
// a loaded plugin's schema marks isSecret(). Registered before anything is configured, so that
// no log line, error or status page shows them.
std::vector<std::string> configSecrets(const RawConfig& raw, const PluginRegistry& registry);

// Logging and the plugins, for commands without a config (plugins, describe). Returns false
// after printing why.
bool openSession(const CommonOptions& o, Session& s);

// --conf-file, looked up in --conf when relative and not found as given.
std::string resolveConfFile(const CommonOptions& o);

// Loads, checks and builds the agent into `holder`. Returns the exit code on failure, or -1
// when the agent is ready (built, not started). Prints what it found; with quietOk, nothing
// when all is well.
int prepare(const CommonOptions& o, Session& s, std::unique_ptr<Agent>& holder, AgentOptions aopts,
            bool quietOk);

}  // namespace sluice::core::cli
