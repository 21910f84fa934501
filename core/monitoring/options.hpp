#pragma once
// The monitoring settings: the config file's monitoring.* keys (checked against a schema like a
// plugin's, so `sluice describe monitoring` prints them and a misspelled key gets a hint and its
// file:line), Flume's -Dflume.monitoring.* switches, and the agent's --monitor-port and
// --monitor-bind options. The CLI only forwards what it parsed; the rules live here.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config/diagnostics.hpp"
#include "core/config/model.hpp"
#include "core/monitoring/monitor.hpp"
#include "core/plugin/schema_check.hpp"

namespace sluice::core::monitoring {

// What the command line says about monitoring, as parsed by the CLI.
struct CommandLine {
  int port = -1;     // --monitor-port; -1: not given
  std::string bind;  // --monitor-bind; empty: not given
  // -Dflume.monitoring.<name>=<value>, in command-line order: <name> and <value>.
  std::vector<std::pair<std::string, std::string>> flumeSwitches;
};

// Takes a -D switch if it is one of Flume's monitoring switches (flume.monitoring.*) and returns
// true; false leaves it to the caller.
bool takeFlumeSwitch(const std::string& key, const std::string& value, CommandLine& cli);

// The monitoring.* keys without their prefix ("port", "statsd.host"), as `sluice describe
// monitoring` prints them.
const HostSchema& monitoringSchema();

struct Settings {
  bool enabled = false;  // something asks for the HTTP server or the StatsD push
  MonitorOptions options;
  // What /config shows under "host": the keys outside every agent as written, and the
  // monitoring settings in effect.
  std::vector<std::pair<std::string, std::string>> effective;
};

// The monitoring settings from (highest first) --monitor-port/--monitor-bind, Flume's
// -Dflume.monitoring.type=http -Dflume.monitoring.port=N, and the config's monitoring.* keys
// (which -Dmonitoring.x=y overrides, through `raw`). Returns nothing after reporting an error to
// diags; warnings go there too.
std::optional<Settings> resolveSettings(const RawConfig& raw, const CommandLine& cli,
                                        Diagnostics& diags);

}  // namespace sluice::core::monitoring
