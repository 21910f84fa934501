#pragma once
// The monitoring server's JSON: Flume's /metrics, /health, the masked /config and the status
// page's /api/status, built with nlohmann::json (Debian's nlohmann-json3-dev), plus the number
// formats they and the Prometheus text share. Pure functions of their inputs.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/monitoring/readiness.hpp"
#include "core/monitoring/snapshot.hpp"

namespace sluice::core::monitoring {

// Shortest round-trip text of a double; null for NaN and infinities (JSON has neither). Also the
// sample values of the Prometheus exposition.
std::string jsonNumber(double v);

// A double as Java's Double.toString prints it ("0.0", "12.5", "1.0E-4"), since Flume's JSON
// carries ChannelFillPercentage that way.
std::string javaDouble(double v);

// Flume's /metrics JSON: {"SOURCE.r1": {"Type": "SOURCE", "StartTime": "...", ...}, ...}.
std::string renderFlumeJson(const Snapshot& s);

std::string renderHealth(const Snapshot& s, double uptimeSeconds, std::string_view version);

// /ready's document: status, the thresholds, the reasons and every check made.
std::string renderReady(const ReadyResult& r);

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
