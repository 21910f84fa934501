#pragma once
// Renders monitoring snapshots as Prometheus text, and the helpers every renderer shares (secret
// masking, counter lookups). The JSON renderers are in json.hpp, readiness in readiness.hpp, the
// /proc figures in process_stats.hpp; this header includes them for the server and the CLI.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/log/secrets.hpp"
#include "core/monitoring/json.hpp"
#include "core/monitoring/process_stats.hpp"
#include "core/monitoring/readiness.hpp"
#include "core/monitoring/snapshot.hpp"

namespace sluice::core::monitoring {

// Secret keys and masking live with the logging (core/log/secrets.hpp): the log sinks mask too.
using core::isSecretKey;
using core::maskSecrets;
using core::maskSecretsInto;

// The secret values of a snapshot's configuration and of `extra` (host-level keys), by key name
// (isSecretKey), plus `known` (those schemas declare, from the SecretRegistry); longest first.
std::vector<std::string> secretValues(const Snapshot& s,
                                      const std::vector<std::pair<std::string, std::string>>& extra,
                                      const std::vector<std::string>& known = {});
// Masks the snapshot in place so that no renderer can show a configured secret: its free text
// (log records, sink runners' last errors) and its configuration values (secret keys whole,
// secret values and URL passwords wherever they appear).
void maskSnapshotSecrets(Snapshot& s, const std::vector<std::pair<std::string, std::string>>& extra,
                         const std::vector<std::string>& known = {});

// Whether a counter of a group is a level (ChannelSize, ChannelCapacity, OpenConnectionCount,
// SinksInBackoff...) rather than a running total.
bool isGaugeCounter(std::string_view name);
// Flume: (size / (double) capacity) * 100; we answer 0.0 for capacity 0 (Flume: Double.MAX_VALUE).
double channelFillPercent(const ComponentSnapshot& c);
// The value of a component's counter, def when it has none of that name.
int64_t counterValue(const ComponentSnapshot& c, std::string_view name, int64_t def = 0);
// The component's group in Flume's /metrics: "SOURCE.r1", "CHANNEL.c1" (its counter type first).
std::string groupKey(const ComponentSnapshot& c);

// "EventReceivedCount" -> "event_received_count".
std::string snakeCase(std::string_view camel);

struct ServerCounters {
  int64_t accepted = 0, refused = 0, requests = 0, timedOut = 0, badRequests = 0, open = 0;
};

// Prometheus text exposition format 0.0.4.
std::string renderPrometheus(const Snapshot& s, const ProcessStats& p, const ServerCounters& srv,
                             double uptimeSeconds, std::string_view version);

}  // namespace sluice::core::monitoring
