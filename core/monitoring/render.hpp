#pragma once
// Renders monitoring snapshots: Flume's JSON, Prometheus text, health/readiness, the masked
// configuration and the status page's JSON. Pure functions of their inputs.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/monitoring/snapshot.hpp"

namespace sluice::core::monitoring {

// JSON string literal with quotes.
std::string jsonString(std::string_view s);

// A double as Java's Double.toString prints it ("0.0", "12.5", "1.0E-4"), since Flume's JSON
// carries ChannelFillPercentage that way.
std::string javaDouble(double v);

// Whether a configuration key holds a secret: its last dotted segment matches password, passwd,
// secret, token, ends in "key" (but not "HeaderKey", a header name), or is keystorePassword /
// truststorePassword (any case).
bool isSecretKey(std::string_view key);

// Replaces, in free text such as log messages, every occurrence of a secret value (the value of
// any key isSecretKey() names, 3 characters or longer) and the password of any URL's
// "user:password@" part with "******".
std::string maskSecrets(std::string_view text, const std::vector<std::string>& secrets);
// The secret values of a snapshot's configuration and of `extra` (host-level keys).
std::vector<std::string> secretValues(const Snapshot& s,
                                      const std::vector<std::pair<std::string, std::string>>& extra);
// Masks the snapshot's free text (log records, sink runners' last errors) in place, so that no
// renderer can show a configured secret.
void maskSnapshotSecrets(Snapshot& s,
                         const std::vector<std::pair<std::string, std::string>>& extra);

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

// The effective configuration, secrets shown as "******". `extra` holds host-level keys
// (monitoring.*, plugins.path), masked the same way.
std::string renderConfig(const Snapshot& s,
                         const std::vector<std::pair<std::string, std::string>>& extra);

// The status page's data: topology, states, sink runner errors, recent WARN/ERROR log records
// (newest first), plugins, readiness. Free text is shown as in the snapshot: mask it first
// (maskSnapshotSecrets).
std::string renderStatus(const Snapshot& s, const std::vector<PluginSnapshot>& plugins,
                         const ReadyResult& ready, double uptimeSeconds, std::string_view version);

}  // namespace sluice::core::monitoring
