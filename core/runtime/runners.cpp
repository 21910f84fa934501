#include "core/runtime/runners.hpp"

#include <spdlog/spdlog.h>

namespace sluice::core {

using std::chrono::milliseconds;

PollableSourceRunner::PollableSourceRunner(sdk::PollableSource* source,
                                           std::shared_ptr<spdlog::logger> log)
    : source_(source), log_(std::move(log)) {}

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
    sdk::ProcessOutcome out = source_->hostProcess();
    busy_.leave();
    if (out.status == sdk::Status::READY && !out.failed) {
      backoffs = 0;
      continue;
    }
    ++backoffs;
    int64_t inc = std::max<int64_t>(0, source_->getBackOffSleepIncrement());
    int64_t max = std::max<int64_t>(0, source_->getMaxBackOffSleepInterval());
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

int64_t SinkRunner::pending() const {
  int64_t n = 0;
  for (const auto& [ch, w] : channels_) n += ch->channelCounter().getChannelSize();
  return n;
}

int64_t SinkRunner::takenSoFar() const {
  int64_t n = 0;
  for (const auto& [ch, w] : channels_)
    n += ch->channelCounter().get(sdk::ChannelCounter::EventTakeSuccessCount);
  return n;
}

int64_t SinkRunner::stop(milliseconds drainTimeout) {
  if (thread_.joinable()) {
    drainDeadlineNs_ = (std::chrono::steady_clock::now() + drainTimeout).time_since_epoch().count();
    draining_ = true;
    if (drainTimeout.count() <= 0) stop_.requestStop();
    for (const auto& [ch, w] : channels_)
      if (w) w->wakeAll();
    thread_.join();
    processor_->counters().markStopped();
  }
  stop_.requestStop();
  return pending();
}

std::pair<std::string, int64_t> SinkRunner::lastError() const {
  std::lock_guard lock(errorMutex_);
  return {lastError_, lastErrorMs_};
}

void SinkRunner::run() {
  int64_t failures = 0;
  int64_t emptyPolls = 0;
  auto drainOver = [&] {
    if (!draining_) return false;
    if (std::chrono::steady_clock::now().time_since_epoch().count() >= drainDeadlineNs_) return true;
    return pending() == 0;
  };
  while (!stop_.stopRequested()) {
    if (drainOver()) break;
    uint64_t seen = channels_.empty() || !channels_.front().second
                        ? 0
                        : channels_.front().second->generation();
    const int64_t takenBefore = takenSoFar();
    const bool wasEmpty = pending() == 0;
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
      if (draining_ && std::chrono::steady_clock::now().time_since_epoch().count() >= drainDeadlineNs_)
        break;
      stop_.sleepFor(std::min(options_.backoffIncrement * failures, options_.maxBackoff));
      continue;
    }
    if (failures) failingSinceMs_.store(0, std::memory_order_relaxed);
    failures = 0;
    if (draining_ && pending() == 0) break;
    // BACKOFF after taking events is an underflow (Flume's sinks report a short batch so): the
    // sink kept up and emptied the channel. Sleeping then, as Flume does, stalls a source that is
    // waiting for room; so go on at once if puts came in meanwhile, else wait for the next put.
    if (takenSoFar() != takenBefore) {
      emptyPolls = 0;
      if (pending() > 0) continue;
      if (!channels_.empty() && channels_.front().second)
        channels_.front().second->waitFor(seen, stop_.flag(), draining_, options_.maxBackoff);
      continue;
    }
    // Nothing taken. If the channel really is empty, wait for the next put. If it was empty when
    // the sink looked and events came in since, look again at once. Otherwise (another sink took
    // the events, or a sink reports BACKOFF with events left) back off as Flume does.
    const bool nowEmpty = pending() == 0;
    if (wasEmpty && !nowEmpty) continue;
    ++emptyPolls;
    auto wait = std::min(options_.backoffIncrement * emptyPolls, options_.maxBackoff);
    if (nowEmpty && !channels_.empty() && channels_.front().second) {
      channels_.front().second->waitFor(seen, stop_.flag(), draining_, wait);
    } else {
      stop_.sleepFor(wait);
    }
  }
}

}  // namespace sluice::core
