#pragma once
// Renders monitoring snapshots: Flume's JSON, Prometheus text, health/readiness, the masked
// configuration and the status page's JSON. Pure functions of their inputs.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/log/secrets.hpp"
#include "core/monitoring/snapshot.hpp"

namespace sluice::core::monitoring {

// Secret keys and masking live with the logging (core/log/secrets.hpp): the log sinks mask too.
using core::isSecretKey;
using core::maskSecrets;
using core::maskSecretsInto;

// JSON string literal with quotes.
std::string jsonString(std::string_view s);

// A double as Java's Double.toString prints it ("0.0", "12.5", "1.0E-4"), since Flume's JSON
// carries ChannelFillPercentage that way.
std::string javaDouble(double v);

// The secret values of a snapshot's configuration and of `extra` (host-level keys), by key name
// (isSecretKey), plus `known` (those schemas declare, from the SecretRegistry); longest first.
std::vector<std::string> secretValues(const Snapshot& s,
                                      const std::vector<std::pair<std::string, std::string>>& extra,
                                      const std::vector<std::string>& known = {});
// Masks the snapshot in place so that no renderer can show a configured secret: its free text
// (log records, sink runners' last errors) and its configuration values (secret keys whole,
// secret values and URL passwords wherever they appear).
void maskSnapshotSecrets(Snapshot& s,
                         const std::vector<std::pair<std::string, std::string>>& extra,
                         const std::vector<std::string>& known = {});

// Whether a counter of a group is a level (ChannelSize, ChannelCapacity, OpenConnectionCount,
// SinksInBackoff...) rather than a running total.
bool isGaugeCounter(std::string_view name);
// Flume: (size / (double) capacity) * 100; we answer 0.0 for capacity 0 (Flume: Double.MAX_VALUE).
double channelFillPercent(const ComponentSnapshot& c);

// "EventReceivedCount" -> "event_received_count".
std::string snakeCase(std::string_view camel);

// Flume's /metrics JSON: {"SOURCE.r1": {"Type": "SOURCE", "StartTime": "...", ...}, ...}.
std::string renderFlumeJson(const Snapshot& s);

struct ProcessStats {
  double residentBytes = 0, virtualBytes = 0, cpuSeconds = 0, startTimeSeconds = 0;
  double openFds = 0, maxFds = 0, threads = 0;
  bool ok = false;
};
// Reads /proc/self (Linux).
ProcessStats readProcessStats();

struct ServerCounters {
  int64_t accepted = 0, refused = 0, requests = 0, timedOut = 0, badRequests = 0, open = 0;
};

// Prometheus text exposition format 0.0.4.
std::string renderPrometheus(const Snapshot& s, const ProcessStats& p, const ServerCounters& srv,
                             double uptimeSeconds, std::string_view version);

struct ReadyOptions {
  double maxChannelFillPercent = 90.0;
  int64_t maxSinkFailingMs = 60000;
};
struct ReadyResult {
  bool ready = false;
  std::string json;
};
ReadyResult evaluateReady(const Snapshot& s, const ReadyOptions& o, int64_t nowMs);

std::string renderHealth(const Snapshot& s, double uptimeSeconds, std::string_view version);

// The effective configuration, secrets shown as "******": the values of keys isSecretKey() names,
// occurrences of `secrets` (e.g. values of keys a schema marks secret) and URL passwords in any
// value. `extra` holds host-level keys (monitoring.*, plugins.path), masked the same way.
std::string renderConfig(const Snapshot& s,
                         const std::vector<std::pair<std::string, std::string>>& extra,
                         const std::vector<std::string>& secrets = {});

// The status page's data: topology, states, sink runner errors, recent WARN/ERROR log records
// (newest first), plugins, readiness. Free text is shown as in the snapshot: mask it first
// (maskSnapshotSecrets).
std::string renderStatus(const Snapshot& s, const std::vector<PluginSnapshot>& plugins,
                         const ReadyResult& ready, double uptimeSeconds, std::string_view version);

}  // namespace sluice::core::monitoring
