#pragma once
// An optional StatsD push reporter: every interval it sends the counters of /metrics as plain
// StatsD text over UDP, one "name:value|type" per line, several lines per datagram. Flume's
// cumulative counters go out as StatsD counters (|c) holding the increase since the previous
// push; sizes, capacities and the fill percentage as gauges (|g). Names are
// <prefix>.<agent>.<kind>.<component>.<Attribute>, e.g. sluice.a1.channel.c1.EventPutSuccessCount.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/fwd.h>

#include "core/monitoring/snapshot.hpp"
#include "core/monitoring/udp_reporter.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::core::monitoring {

struct StatsdOptions {
  bool enabled = false;  // monitoring.statsd.host or .port was given
  std::string host = "127.0.0.1";
  int port = 8125;
  std::chrono::milliseconds interval{10000};
  std::string prefix = "sluice";
};

// Whether `key` is one of the monitoring.statsd.* keys (host, port, intervalMs, prefix).
bool isStatsdKey(std::string_view key);
// Reads the monitoring.statsd.* entries of `keys` (other keys are ignored). Returns false with
// `error` naming the key and what was expected.
bool parseStatsdOptions(const std::map<std::string, std::string>& keys, StatsdOptions& out,
                        std::string& error);

// The StatsD lines for one push. `last` holds the counter values sent before (updated here): a
// counter's line carries the increase since then, or its whole value when it went down (the
// component was replaced by a reload). Counters that did not move are left out.
std::vector<std::string> renderStatsd(const Snapshot& s, std::string_view prefix,
                                      std::map<std::string, int64_t>& last);

// Joins lines into datagram payloads of at most maxBytes (a longer line goes alone).
std::vector<std::string> packStatsd(const std::vector<std::string>& lines, std::size_t maxBytes);

class StatsdReporter {
 public:
  // `provider` fills a snapshot or returns false when the agent cannot be read right now; it is
  // called on the reporter's thread.
  StatsdReporter(const StatsdOptions& options, std::function<bool(Snapshot&)> provider,
                 std::shared_ptr<spdlog::logger> log);
  ~StatsdReporter();
  StatsdReporter(const StatsdReporter&) = delete;
  StatsdReporter& operator=(const StatsdReporter&) = delete;

  // Resolves the host and starts the thread.
  sdk::Result start();
  // Pushes once more (so that the last increments are not lost) and joins.
  void stop();

 private:
  // The counter values sent so far, and those of the push being sent: they count only once
  // every datagram went out (a refused first datagram, the usual failure, leaves the increments
  // for the next push). Reporter thread only.
  std::map<std::string, int64_t> last_, next_;
  UdpReporter udp_;
};

}  // namespace sluice::core::monitoring
