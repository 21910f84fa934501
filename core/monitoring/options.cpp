#include "core/monitoring/options.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "core/monitoring/ganglia.hpp"
#include "core/monitoring/render.hpp"
#include "plugins/common/text_util.hpp"

namespace sluice::core::monitoring {

namespace {

constexpr std::string_view kConfigPrefix = "monitoring.";
constexpr std::string_view kFlumePrefix = "flume.monitoring.";
// Flume's HTTPMetricsServer listens here when flume.monitoring.port is not given.
constexpr int kFlumeMonitoringPort = 41414;

// Flume's Prometheus monitor service, lower case: serves its own naming at /metrics.
constexpr const char* kFlumePrometheusServer =
    "org.apache.flume.instrumentation.http.prometheushttpmetricsserver";

bool isHttpType(std::string_view type) {
  const std::string t = plugins::text::lower(type);
  return t == "http" || t == "org.apache.flume.instrumentation.http.httpmetricsserver" ||
         t == "prometheus" || t == kFlumePrometheusServer;
}

// The keys outside every agent (plugins.path, monitoring.*, anything global) as written, then
// the monitoring settings in effect.
std::vector<std::pair<std::string, std::string>> effectiveSettings(const RawConfig& raw,
                                                                   const MonitorOptions& mo) {
  std::map<std::string, std::string> all;
  const auto agents = agentNames(raw);
  for (const auto& [k, p] : raw.entries) {
    const std::string first = k.substr(0, k.find('.'));
    if (std::find(agents.begin(), agents.end(), first) == agents.end()) all[k] = p.value;
  }
  all["monitoring.bind"] = mo.server.bind;
  all["monitoring.port"] = std::to_string(mo.server.port);
  all["monitoring.maxConnections"] = std::to_string(mo.server.maxConnections);
  all["monitoring.requestTimeoutMs"] = std::to_string(mo.server.requestTimeout.count());
  all["monitoring.idleTimeoutMs"] = std::to_string(mo.server.idleTimeout.count());
  all["monitoring.maxHeaderBytes"] = std::to_string(mo.server.limits.maxHeaderBytes);
  all["monitoring.ready.maxChannelFillPercent"] = javaDouble(mo.ready.maxChannelFillPercent);
  all["monitoring.ready.maxSinkFailingMs"] = std::to_string(mo.ready.maxSinkFailingMs);
  return {all.begin(), all.end()};
}

}  // namespace

bool takeFlumeSwitch(const std::string& key, const std::string& value, CommandLine& cli) {
  if (key.rfind(kFlumePrefix, 0) != 0) return false;
  cli.flumeSwitches.emplace_back(key.substr(kFlumePrefix.size()), value);
  return true;
}

const HostSchema& monitoringSchema() {
  static const HostSchema schema{
      "",
      "monitoring",
      {},
      "The monitoring server (/metrics, /metrics/prometheus, /health, /ready, /config, the status "
      "page) and the StatsD push. Each key is written monitoring.<key>, outside every agent (a "
      "[monitoring] table in TOML)",
      {
          sdk::Key("type").string().doc(
              "http (or prometheus, or Flume's HTTPMetricsServer or PrometheusHTTPMetricsServer "
              "class, which serves its Prometheus naming at /metrics) turns monitoring on, on "
              "port 41414 unless port is given; as -Dflume.monitoring.type"),
          sdk::Key("port").integer().range(0, 65535).doc(
              "Port of the monitoring server; setting it turns monitoring on (--monitor-port "
              "wins); 0 picks a free one (logged)"),
          sdk::Key("bind").string().def("127.0.0.1").doc("Listen address (--monitor-bind wins)"),
          sdk::Key("maxConnections")
              .integer()
              .def("64")
              .range(1, 10000)
              .doc("Connections beyond this get a 503 and are closed"),
          sdk::Key("requestTimeoutMs")
              .longValue()
              .def("10000")
              .range(100, 3600000)
              .doc("A request must arrive completely within this time (slow clients are dropped)"),
          sdk::Key("idleTimeoutMs")
              .longValue()
              .def("30000")
              .range(100, 3600000)
              .doc("Idle keep-alive connections are closed after this"),
          sdk::Key("maxHeaderBytes")
              .integer()
              .def("16384")
              .range(1024, 1 << 20)
              .doc("Larger request heads get 431 and the connection is closed"),
          sdk::Key("ready.maxChannelFillPercent")
              .number()
              .def("90")
              .range(0, 100)
              .doc("/ready fails while a channel is fuller than this"),
          sdk::Key("ready.maxSinkFailingMs")
              .longValue()
              .def("60000")
              .range(0, 1099511627776.0)
              .doc("/ready fails while a sink has been failing for longer than this"),
          sdk::Key("statsd.host")
              .string()
              .doc("StatsD server, name or address (127.0.0.1 when only statsd.port is set); "
                   "setting "
                   "it or statsd.port turns the StatsD push on"),
          sdk::Key("statsd.port")
              .integer()
              .range(1, 65535)
              .doc("StatsD UDP port (8125 when only statsd.host is set)"),
          sdk::Key("statsd.intervalMs")
              .longValue()
              .def("10000")
              .range(100, 3600000)
              .doc("Push interval; one more push at shutdown"),
          sdk::Key("statsd.prefix").string().def("sluice").doc("First part of every metric name"),
      }};
  return schema;
}

std::optional<Settings> resolveSettings(const RawConfig& raw, const CommandLine& cli,
                                        Diagnostics& diags) {
  const HostSchema& schema = monitoringSchema();
  sdk::Context given(std::string(kConfigPrefix.substr(0, kConfigPrefix.size() - 1)));
  for (const auto& [k, p] : raw.entries)
    if (k.rfind(kConfigPrefix, 0) == 0) given.put(k.substr(kConfigPrefix.size()), p.value, p.where);
  // Flume's switches: type and port are checked by the same schema, under their own names.
  sdk::Context flume(std::string(kFlumePrefix.substr(0, kFlumePrefix.size() - 1)));
  // The others are the Ganglia reporter's (hosts, pollFrequency, isGanglia3), read below once the
  // type is known.
  std::vector<std::pair<std::string, std::string>> reporterSwitches;
  for (const auto& [name, value] : cli.flumeSwitches) {
    if (name == "type" || name == "port")
      flume.put(name, value, sdk::Location{"-D", 0});
    else
      reporterSwitches.emplace_back(name, value);
  }
  Diagnostics local;
  const sdk::Context ctx = checkAgainstSchema(schema.schema, schema.type, given, {}, local);
  (void)checkAgainstSchema(schema.schema, schema.type, flume, {}, local);
  const auto& portKey = *std::find_if(schema.schema.keys.begin(), schema.schema.keys.end(),
                                      [](const sdk::Key& k) { return k.name == "port"; });
  if (cli.port >= 0 && cli.port > portKey.max)
    local.error("--monitor-port: expected a value between 0 and 65535, got " +
                std::to_string(cli.port));
  diags.append(local);
  if (local.hasErrors()) return std::nullopt;

  Settings out;
  MonitorOptions& mo = out.options;
  std::string type = ctx.getString("type", "");
  if (auto t = flume.getString("type")) type = *t;
  bool http = isHttpType(type);
  mo.flumePrometheus = plugins::text::lower(type) == kFlumePrometheusServer;
  if (isGangliaType(type)) {
    std::string error;
    std::vector<std::string> warnings;
    const bool ok = parseGangliaSwitches(reporterSwitches, mo.ganglia, error, warnings);
    for (const auto& w : warnings) diags.warn(w);
    if (!ok) {
      diags.error(error);
      return std::nullopt;
    }
  } else if (!http && !type.empty()) {
    diags.warn("monitoring type '" + type +
               "' is not provided (JMX is not available); use -Dflume.monitoring.type=http for "
               "the HTTP endpoints (JSON and Prometheus) or =ganglia for Ganglia");
  }
  for (const auto& [name, value] : reporterSwitches)
    if (!mo.ganglia.enabled || !isGangliaSwitch(name))
      diags.warn("-D" + std::string(kFlumePrefix) + name +
                 ": understood are type and port, and hosts, pollFrequency and isGanglia3 with "
                 "type=ganglia; ignored");
  int port = kFlumeMonitoringPort;
  if (auto p = ctx.getInteger("port")) {
    port = *p;
    http = true;
  }
  if (auto p = flume.getInteger("port")) {
    port = *p;
    if (!http)
      diags.warn(
          "-Dflume.monitoring.port needs -Dflume.monitoring.type=http; monitoring stays off");
  }
  if (cli.port >= 0) {
    port = cli.port;
    http = true;
  }
  mo.server.port = port;
  mo.server.bind = !cli.bind.empty() ? cli.bind : *ctx.getString("bind");
  mo.server.maxConnections = static_cast<std::size_t>(*ctx.getInteger("maxConnections"));
  mo.server.requestTimeout = std::chrono::milliseconds(*ctx.getLong("requestTimeoutMs"));
  mo.server.idleTimeout = std::chrono::milliseconds(*ctx.getLong("idleTimeoutMs"));
  mo.server.limits.maxHeaderBytes = static_cast<std::size_t>(*ctx.getInteger("maxHeaderBytes"));
  mo.ready.maxChannelFillPercent = *ctx.getDouble("ready.maxChannelFillPercent");
  mo.ready.maxSinkFailingMs = *ctx.getLong("ready.maxSinkFailingMs");
  // StatsD push: runs with or without the HTTP server; host or port turns it on.
  std::map<std::string, std::string> statsd;
  for (const auto& [k, p] : ctx.parameters())
    if (k.rfind("statsd.", 0) == 0) statsd[std::string(kConfigPrefix) + k] = p.value;
  std::string statsdError;
  if (!parseStatsdOptions(statsd, mo.statsd, statsdError)) {
    diags.error(statsdError);
    return std::nullopt;
  }
  mo.http = http;
  out.enabled = http || mo.statsd.enabled || mo.ganglia.enabled;
  out.effective = effectiveSettings(raw, mo);
  return out;
}

}  // namespace sluice::core::monitoring
