#include "core/runtime/runners.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "sluice/sdk/host_access.hpp"

namespace sluice::core {

using std::chrono::milliseconds;

namespace {

int64_t nowNs() { return std::chrono::steady_clock::now().time_since_epoch().count(); }

}  // namespace

PollableSourceRunner::Backoff PollableSourceRunner::backoffFrom(const sdk::Context& c) {
  constexpr int64_t kMaxMs = 3600000;
  auto read = [&](const char* key) {
    std::optional<int64_t> v = c.getLong(key);
    if (v && (*v < 1 || *v > kMaxMs))
      c.fail(key, "expected milliseconds between 1 and " + std::to_string(kMaxMs) + ", got " +
                      std::to_string(*v));
    return v;
  };
  Backoff b;
  b.incrementMs = read("backoffSleepIncrement");
  b.maxMs = read("maxBackoffSleep");
  return b;
}

PollableSourceRunner::PollableSourceRunner(sdk::PollableSource* source, Backoff backoff,
                                           std::shared_ptr<spdlog::logger> log)
    : source_(source), backoff_(backoff), log_(std::move(log)) {}

PollableSourceRunner::~PollableSourceRunner() { stop(); }

void PollableSourceRunner::start() {
  if (thread_.joinable()) return;
  stop_.reset();
  thread_ = std::thread([this] { run(); });
}

void PollableSourceRunner::stop() {
  stop_.requestStop();
  if (thread_.joinable()) thread_.join();
}

void PollableSourceRunner::run() {
  int64_t backoffs = 0;
  while (!stop_.stopRequested()) {
    busy_.enter();
    sdk::ProcessOutcome out = sdk::HostAccess::process(*source_);
    busy_.leave();
    if (out.status == sdk::Status::READY && !out.failed) {
      backoffs = 0;
      continue;
    }
    ++backoffs;
    // The config's keys were range-checked when it was loaded; a source's own defaults are
    // plugin code, so a negative one counts as 0.
    const int64_t inc =
        backoff_.incrementMs.value_or(std::max<int64_t>(0, source_->getBackOffSleepIncrement()));
    const int64_t max =
        backoff_.maxMs.value_or(std::max<int64_t>(0, source_->getMaxBackOffSleepInterval()));
    if (out.failed) {
      // Flume sleeps the maximum after an exception.
      stop_.sleepFor(milliseconds(max));
    } else {
      stop_.sleepFor(milliseconds(std::min(backoffs * inc, max)));
    }
  }
}

SinkRunner::SinkRunner(std::string name, std::unique_ptr<SinkProcessor> processor,
                       std::vector<std::pair<sdk::Channel*, ChannelWaker*>> channels,
                       std::shared_ptr<spdlog::logger> log, Options options)
    : name_(std::move(name)),
      processor_(std::move(processor)),
      channels_(std::move(channels)),
      seen_(channels_.size(), 0),
      log_(std::move(log)),
      options_(options) {}

SinkRunner::~SinkRunner() { stop(milliseconds(0)); }

void SinkRunner::start() {
  if (thread_.joinable()) return;
  stop_.reset();
  draining_ = false;
  processor_->counters().markStarted();
  thread_ = std::thread([this] { run(); });
}

sdk::Backlog SinkRunner::backlog() const noexcept {
  sdk::Backlog out = sdk::Backlog::Empty;
  for (const auto& [ch, w] : channels_) {
    const sdk::Backlog b = ch->backlog();
    if (b == sdk::Backlog::Events) return b;
    if (b == sdk::Backlog::Unknown) out = b;
  }
  return out;
}

int64_t SinkRunner::stop(milliseconds drainTimeout) {
  if (thread_.joinable()) {
    drainDeadlineNs_ = (std::chrono::steady_clock::now() + drainTimeout).time_since_epoch().count();
    draining_ = true;
    if (drainTimeout.count() <= 0) stop_.requestStop();
    wakeup_.poke();
    thread_.join();
    processor_->counters().markStopped();
  }
  stop_.requestStop();
  int64_t left = 0;
  for (const auto& [ch, w] : channels_) left += ch->channelCounter().getChannelSize();
  return left;
}

std::pair<std::string, int64_t> SinkRunner::lastError() const {
  std::lock_guard lock(errorMutex_);
  return {lastError_, lastErrorMs_};
}

void SinkRunner::waitForPut(milliseconds timeout) {
  // Subscribe first, then compare: see ChannelWaker::subscribe.
  wakeup_.reset();
  bool woken = true;  // every channel with a waker will poke us
  for (const auto& [ch, w] : channels_)
    if (!w || !w->subscribe(&wakeup_)) woken = false;
  bool putSince = false;
  for (std::size_t i = 0; i < channels_.size(); ++i)
    if (ChannelWaker* w = channels_[i].second; w && w->generation() != seen_[i]) putSince = true;
  if (!putSince) {
    if (woken)
      wakeup_.waitFor(stop_.flag(), draining_, timeout);
    else
      stop_.sleepFor(timeout);
  }
  for (const auto& [ch, w] : channels_)
    if (w) w->unsubscribe(&wakeup_);
}

void SinkRunner::run() {
  int64_t failures = 0;
  int64_t emptyPolls = 0;
  auto deadlinePassed = [&] { return nowNs() >= drainDeadlineNs_; };
  while (!stop_.stopRequested()) {
    // Draining ends when no channel reports waiting events: a channel that cannot tell (Kafka)
    // keeps its events in the topic anyway.
    if (draining_ && (deadlinePassed() || backlog() != sdk::Backlog::Events)) break;
    for (std::size_t i = 0; i < channels_.size(); ++i)
      seen_[i] = channels_[i].second ? channels_[i].second->generation() : 0;
    const sdk::Backlog before = backlog();
    busy_.enter();
    sdk::ProcessOutcome out = processor_->process();
    busy_.leave();
    if (out.status == sdk::Status::READY && !out.failed) {
      if (failures) failingSinceMs_.store(0, std::memory_order_relaxed);
      failures = 0;
      emptyPolls = 0;
      continue;
    }
    if (out.failed) {
      int64_t nowMs = std::chrono::duration_cast<milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
      if (failures == 0) failingSinceMs_.store(nowMs, std::memory_order_relaxed);
      failureCount_.fetch_add(1, std::memory_order_relaxed);
      {
        std::lock_guard lock(errorMutex_);
        lastError_ = out.error;
        lastErrorMs_ = nowMs;
      }
      ++failures;
      emptyPolls = 0;
      if (draining_ && deadlinePassed()) break;
      stop_.sleepFor(std::min(options_.backoffIncrement * failures, options_.maxBackoff));
      continue;
    }
    if (failures) failingSinceMs_.store(0, std::memory_order_relaxed);
    failures = 0;
    const sdk::Backlog now = backlog();
    if (draining_ && now != sdk::Backlog::Events) break;
    // BACKOFF after taking events is a short batch (Flume's sinks report it so): the sink kept
    // up. Sleeping then, as Flume does, stalls a source that is waiting for room; so go on at
    // once if events wait, else wait for the next put.
    if (out.taken > 0) {
      emptyPolls = 0;
      if (now == sdk::Backlog::Events) continue;
      waitForPut(now == sdk::Backlog::Unknown ? kUnknownBacklogPause : options_.maxBackoff);
      continue;
    }
    // Nothing taken. A channel that cannot tell whether it has events waits in its take: call
    // again soon. Events that came in while the sink looked: look again at once.
    if (now == sdk::Backlog::Unknown) {
      waitForPut(kUnknownBacklogPause);
      continue;
    }
    if (now == sdk::Backlog::Events && before == sdk::Backlog::Empty) continue;
    // Empty channels: wait for the next put. Events left untaken (on the channel of a standby
    // sink of the group, or a sink that declined them): back off as Flume does.
    ++emptyPolls;
    const auto wait = std::min(options_.backoffIncrement * emptyPolls, options_.maxBackoff);
    if (now == sdk::Backlog::Empty)
      waitForPut(wait);
    else
      stop_.sleepFor(wait);
  }
}

}  // namespace sluice::core
