#pragma once
// Flume's StressSource: a load generator whose events have no headers and a fixed body of
// `size` bytes, optionally limited in total count and in rate.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::plugins::stress {

const sdk::Schema& stressSourceSchema();

class StressSource final : public sdk::PollableSource {
 public:
  // A rate-limited process() sleeps at most this long, then returns to the runner, so stop()
  // is never held up by a low maxEventsPerSecond.
  static constexpr std::chrono::milliseconds kMaxRateSleep{50};

  StressSource();

  void configure(const sdk::Context& context) override;
  // Runner thread. Sends one batch, or sleeps briefly when the rate limit says to wait.
  sdk::Status process() override;

  // Flume's StressSource counters (events.total, events.successful, events.failed), kept in the
  // SOURCE counter group next to the standard ones.
  int64_t totalEvents() noexcept { return sourceCounter().get(totalIdx_); }
  int64_t successfulEvents() noexcept { return sourceCounter().get(successfulIdx_); }
  int64_t failedEvents() noexcept { return sourceCounter().get(failedIdx_); }

 private:
  using Clock = std::chrono::steady_clock;

  // Token bucket: refills at maxEventsPerSecond, holds at most one second of tokens (or one
  // batch, when that is more), as Guava's RateLimiter that Flume uses. Returns whether `n`
  // tokens were taken; otherwise it slept (briefly) and the caller retries later.
  bool acquire(int64_t n);

  std::string body_;  // the fixed payload every event copies
  int64_t maxTotalEvents_ = -1;
  int64_t maxSuccessfulEvents_ = -1;
  std::size_t batchSize_ = 1;
  int64_t maxEventsPerSecond_ = 0;

  double tokens_ = 0;
  Clock::time_point lastRefill_{};
  bool bucketStarted_ = false;

  sdk::EventBatch batch_;  // reused across calls
  std::size_t totalIdx_;
  std::size_t successfulIdx_;
  std::size_t failedIdx_;
};

}  // namespace sluice::plugins::stress
