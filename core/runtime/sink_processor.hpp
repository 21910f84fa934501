#pragma once
// Sink processors decide which sink of a group handles the next batch (Flume's SinkProcessor).
// A lone sink runs under DefaultSinkProcessor. Built in here rather than as plugins because
// they hold references into the runtime's sinks; their keys are Flume's.

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/fwd.h>

#include "core/config/diagnostics.hpp"
#include "core/plugin/registry.hpp"
#include "core/plugin/schema_check.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/counters.hpp"
#include "sluice/sdk/sink.hpp"
#include "sluice/sdk/sink_selector.hpp"

namespace sluice::core {

// Durations of a sink's process() calls that delivered a batch (READY), in fixed buckets of
// relaxed atomics: written by the sink runner's thread only, read by monitoring at any time.
class LatencyHistogram {
 public:
  // Upper bounds of the buckets in microseconds; one more bucket counts the rest (+Inf).
  static constexpr std::array<int64_t, 14> kBoundsUs = {100,    250,    500,     1000,   2500,
                                                        5000,   10000,  25000,   50000,  100000,
                                                        250000, 500000, 1000000, 5000000};
  static constexpr std::size_t kBuckets = kBoundsUs.size() + 1;

  void record(int64_t ns) noexcept {
    std::size_t i = 0;
    while (i < kBoundsUs.size() && ns > kBoundsUs[i] * 1000) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sumNs_.fetch_add(ns, std::memory_order_relaxed);
  }
  // Events in bucket i alone (not cumulative); i == kBoundsUs.size() is the +Inf bucket.
  int64_t bucket(std::size_t i) const noexcept {
    return buckets_[i].load(std::memory_order_relaxed);
  }
  int64_t sumNs() const noexcept { return sumNs_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<int64_t>, kBuckets> buckets_{};
  std::atomic<int64_t> sumNs_{0};
};

class SinkProcessor {
 public:
  using Clock = std::chrono::steady_clock;
  // The group's counters (Flume's MonitoredCounterGroup type SINK_PROCESSOR; Flume declares the
  // type but defines no attributes, so these names are ours, see the README).
  enum : std::size_t { SinkFailureCount, FailoverCount };

  virtual ~SinkProcessor() = default;
  // Runs on the group's SinkRunner thread only.
  virtual sdk::ProcessOutcome process() = 0;
  const std::vector<sdk::Sink*>& sinks() const { return sinks_; }

  // For monitoring; safe from any thread (relaxed atomics, no locks).
  // Batch latency of sinks()[i].
  const LatencyHistogram& batchLatency(std::size_t i) const { return stats_[i].latency; }
  sdk::CounterGroup& counters() { return counters_; }
  const sdk::CounterGroup& counters() const { return counters_; }
  // Index into sinks() of the sink that handled the last call without failing; -1 before any.
  int activeSink() const { return active_.load(std::memory_order_relaxed); }
  // Sinks left out after failures (failover's penalty, load_balance's backoff) right now.
  int64_t sinksInBackoff() const;
  // Replaces the clock that penalties and backoff are measured with, so tests can step time
  // instead of sleeping through 2^n-second penalties. Set before the runner starts.
  void setClock(std::function<Clock::time_point()> now) { now_ = std::move(now); }

 protected:
  Clock::time_point now() const { return now_ ? now_() : Clock::now(); }
  // Sets the sinks (in the order process() knows them) and their statistics.
  void setSinks(std::vector<sdk::Sink*> sinks);
  // Runs sinks_[i] through HostAccess::process, timed: a READY outcome goes into i's latency
  // histogram, and any outcome that did not fail makes i the active sink.
  sdk::ProcessOutcome processSink(std::size_t i);
  // Counts a failure of sinks_[i]; it is left out until `until` (a past time: not left out).
  void sinkFailed(std::size_t i, Clock::time_point until);
  void sinkRecovered(std::size_t i);

  std::vector<sdk::Sink*> sinks_;

 private:
  struct SinkStats {
    LatencyHistogram latency;
    std::atomic<int64_t> backoffUntilNs{0};  // steady clock; 0 = not backed off
  };
  std::unique_ptr<SinkStats[]> stats_;
  std::function<Clock::time_point()> now_;  // empty: steady_clock
  std::atomic<int> active_{-1};
  sdk::CounterGroup counters_{"SINK_PROCESSOR", {"SinkFailureCount", "FailoverCount"}};
};

// Makes a plugin sink selector for load_balance: `type` is the processor.selector value (not
// round_robin or random, which are built in), `context` its "processor.selector." keys, stripped.
// The selector comes back configured, with setSinks() done; nullptr after reporting to diags.
using SinkSelectorFactory = std::function<PluginPtr<sdk::SinkSelector>(
    const std::string& type, const sdk::Context& context, const std::vector<sdk::Sink*>& sinks,
    Diagnostics& diags)>;

// The keys of each sink processor (default, failover, load_balance), checked like a plugin's
// schema and printed by `sluice describe failover`.
const std::vector<HostSchema>& sinkProcessorSchemas();
// The schema of a sink processor type or Flume class name (case-insensitive), or nullptr.
const HostSchema* findSinkProcessorSchema(std::string_view type);

// Creates the processor for a group. type: default | failover | load_balance (case-insensitive,
// Flume class names accepted). context holds the group's "processor." keys, stripped, as written:
// they are checked against the type's schema (hints, file:line) and its defaults filled in here.
// Returns nullptr and reports to diags on a bad configuration.
std::unique_ptr<SinkProcessor> makeSinkProcessor(const std::string& type, const sdk::Context& context,
                                                 std::vector<sdk::Sink*> sinks,
                                                 const std::shared_ptr<spdlog::logger>& log,
                                                 Diagnostics& diags,
                                                 const SinkSelectorFactory& makeSelector = {});

}  // namespace sluice::core
