#pragma once
// The threads that drive pollable sources and sinks (Flume's PollableSourceRunner and
// SinkRunner). Event-driven sources run their own threads and need no runner.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/fwd.h>

#include "core/runtime/channel_waker.hpp"
#include "core/runtime/sink_processor.hpp"
#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::core {

// Sleeps that end early on stop.
class StopToken {
 public:
  void requestStop() {
    stop_.store(true);
    std::lock_guard lock(mutex_);
    cv_.notify_all();
  }
  bool stopRequested() const { return stop_.load(); }
  const std::atomic<bool>& flag() const { return stop_; }
  // Returns false if stop was requested before the time passed.
  bool sleepFor(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    return !cv_.wait_for(lock, d, [&] { return stop_.load(); });
  }
  void reset() { stop_.store(false); }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
};

// When a runner's current process() call began (steady clock, ns since its epoch), 0 between
// calls: the liveness the service watchdog reads (Agent::stalledRunner, AgentLoop). Written by
// the runner's thread only, read from any thread; one clock read per process() call.
class BusyClock {
 public:
  void enter() {
    ns_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
              std::memory_order_relaxed);
  }
  void leave() { ns_.store(0, std::memory_order_relaxed); }
  // How long the current process() call has run at `now`; zero between calls.
  std::chrono::nanoseconds busyFor(std::chrono::steady_clock::time_point now) const {
    const int64_t since = ns_.load(std::memory_order_relaxed);
    return since == 0 ? std::chrono::nanoseconds(0)
                      : now.time_since_epoch() - std::chrono::nanoseconds(since);
  }

 private:
  std::atomic<int64_t> ns_{0};
};

// Calls process() in a loop; on BACKOFF sleeps min(n * increment, max) for the n-th BACKOFF in a
// row, as Flume does; READY resets n.
class PollableSourceRunner {
 public:
  // Flume's keys backoffSleepIncrement and maxBackoffSleep, read by the host from the source's
  // config. Unset keys fall back to the source's getBackOffSleepIncrement() and
  // getMaxBackOffSleepInterval() (Flume's defaults, which a source may override).
  struct Backoff {
    std::optional<int64_t> incrementMs;
    std::optional<int64_t> maxMs;
  };
  // Reads and range-checks the keys (1 ms to 1 h: 0 would make the runner spin). Throws
  // sdk::ConfigError naming the key and where it was set.
  static Backoff backoffFrom(const sdk::Context& sourceConfig);

  PollableSourceRunner(sdk::PollableSource* source, Backoff backoff,
                       std::shared_ptr<spdlog::logger> log);
  ~PollableSourceRunner();
  void start();
  void stop();  // joins
  const BusyClock& busy() const { return busy_; }

 private:
  void run();
  sdk::PollableSource* source_;
  Backoff backoff_;
  std::shared_ptr<spdlog::logger> log_;
  StopToken stop_;
  BusyClock busy_;
  std::thread thread_;
};

// Drives a sink processor. After an empty poll it waits for the next put to any of its channels
// (up to the back-off time) instead of sleeping blindly; after a failure it backs off as Flume
// does (1 s more per failure in a row, at most 5 s). What it decides it learns from the channels'
// backlog() and from how many events the sinks took, never from the monitoring counters.
class SinkRunner {
 public:
  struct Options {
    std::chrono::milliseconds backoffIncrement{1000};
    std::chrono::milliseconds maxBackoff{5000};
  };
  // After a BACKOFF on a channel whose backlog is Unknown (its take waits for events itself):
  // the pause before the next call, so that a group that also reads a channel whose take does
  // not wait cannot spin.
  static constexpr std::chrono::milliseconds kUnknownBacklogPause{10};

  SinkRunner(std::string name, std::unique_ptr<SinkProcessor> processor,
             std::vector<std::pair<sdk::Channel*, ChannelWaker*>> channels,
             std::shared_ptr<spdlog::logger> log, Options options);
  ~SinkRunner();
  void start();
  // Stops after the channels are drained (no channel reports waiting events) or the timeout
  // passes, whichever is first; then joins. Returns the events the channels' ChannelSize
  // counters still report, for the caller's log line.
  int64_t stop(std::chrono::milliseconds drainTimeout);
  SinkProcessor& processor() { return *processor_; }
  const std::string& name() const { return name_; }

  const SinkProcessor& processor() const { return *processor_; }

  // Read-only state for monitoring; safe from any thread. Batch latencies are kept per sink by
  // the processor (SinkProcessor::batchLatency).
  // Wall-clock ms since the epoch at which the current run of failed batches began; 0 while the
  // last process() call did not fail.
  int64_t failingSinceMs() const { return failingSinceMs_.load(std::memory_order_relaxed); }
  int64_t failureCount() const { return failureCount_.load(std::memory_order_relaxed); }
  // The last failure's message and time (ms since the epoch; 0 = none yet).
  std::pair<std::string, int64_t> lastError() const;
  const BusyClock& busy() const { return busy_; }

 private:
  void run();
  // Events if any channel has some, else Unknown if any cannot tell, else Empty.
  sdk::Backlog backlog() const noexcept;
  // Sleeps until a put to any of the channels since the generations in seen_, stop, drain or
  // the timeout.
  void waitForPut(std::chrono::milliseconds timeout);

  std::string name_;
  std::unique_ptr<SinkProcessor> processor_;
  std::vector<std::pair<sdk::Channel*, ChannelWaker*>> channels_;
  std::vector<uint64_t> seen_;  // the wakers' generations before the last process() call
  std::shared_ptr<spdlog::logger> log_;
  Options options_;
  StopToken stop_;
  Wakeup wakeup_;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> drainDeadlineNs_{0};
  std::atomic<int64_t> failingSinceMs_{0};
  std::atomic<int64_t> failureCount_{0};
  mutable std::mutex errorMutex_;  // taken on failures only, never on the delivery path
  std::string lastError_;
  int64_t lastErrorMs_ = 0;
  BusyClock busy_;
  std::thread thread_;
};

}  // namespace sluice::core
