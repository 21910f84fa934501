#pragma once
// Flume's Ganglia reporter (org.apache.flume.instrumentation.GangliaServer), started by
//   -Dflume.monitoring.type=ganglia -Dflume.monitoring.hosts=h1:8649,h2:8649
//   [-Dflume.monitoring.pollFrequency=60] [-Dflume.monitoring.isGanglia3=false]
// Every pollFrequency seconds (and once at start) it sends every attribute of /metrics to every
// host, named and typed as Flume does: the name is "flume.<group>.<attribute>"
// (flume.CHANNEL.c1.EventPutSuccessCount), the value its /metrics text, the type "float" when
// Java's Float.parseFloat accepts the text and "string" otherwise; units "", slope both (3),
// tmax 60, dmax 0.
//
// The wire is Ganglia's XDR (lib/gm_protocol.x). Ganglia 3.1 (the default), per metric two
// datagrams: a metadata message (gmetadata_full = 128: metric_id {host, name, spoof false},
// {type, name, units, slope, tmax, dmax, extra data [GROUP=flume]}) and a string value message
// (gmetric_string = 133: metric_id, format "%s", value). Ganglia 3.0 (isGanglia3=true), one
// datagram: metric_user_defined = 0, {type, name, value, units, slope, tmax, dmax}, with the
// name prefixed by the host name, as Flume writes it. gmond 3.1 and later ignore 3.0 datagrams.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/fwd.h>

#include "core/monitoring/snapshot.hpp"
#include "core/monitoring/udp_reporter.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::core::monitoring {

struct GangliaOptions {
  bool enabled = false;  // -Dflume.monitoring.type=ganglia
  std::vector<UdpTarget> hosts;
  std::chrono::seconds pollFrequency{60};
  bool isGanglia3 = false;
};

// Whether a monitoring type names the Ganglia reporter: "ganglia" or Flume's class name
// (case-insensitive, as Flume's MonitoringType).
bool isGangliaType(std::string_view type);
// Whether `name` (a -Dflume.monitoring.<name> switch) is one of the reporter's: hosts,
// pollFrequency, isGanglia3.
bool isGangliaSwitch(std::string_view name);

// Reads the reporter's switches from `switches` ((name, value) of -Dflume.monitoring.<name>;
// others are skipped) into `out` and sets out.enabled. As Flume: hosts is required, a comma
// list of host:port whose malformed entries are skipped with a warning (added to `warnings`) as
// long as one is left. Unlike Flume, a pollFrequency or isGanglia3 that is not a positive
// integer or a boolean is an error instead of a fallback. Returns false with `error` naming the
// switch and what was expected.
bool parseGangliaSwitches(const std::vector<std::pair<std::string, std::string>>& switches,
                          GangliaOptions& out, std::string& error,
                          std::vector<std::string>& warnings);

// Whether Java's Float.parseFloat accepts `text` (Flume sends such a value typed "float").
bool isJavaFloat(std::string_view text);

// The datagrams of one report: for each /metrics attribute, Ganglia 3.1's metadata and value
// messages, or with ganglia3 Ganglia 3.0's one message. `host` is this machine's name.
std::vector<std::string> renderGanglia(const Snapshot& s, std::string_view host, bool ganglia3);

class GangliaReporter {
 public:
  // `provider` as for UdpReporter; called on the reporter's thread.
  GangliaReporter(const GangliaOptions& options, std::function<bool(Snapshot&)> provider,
                  std::shared_ptr<spdlog::logger> log);
  sdk::Result start();
  void stop();

 private:
  std::string host_;
  UdpReporter udp_;
};

}  // namespace sluice::core::monitoring
