#pragma once
// One throttled logger for repeated per-connection problems (a client that keeps sending bad
// frames, a flood of refused connections, TLS handshakes that fail): the first occurrence is
// logged, then at most one line per interval, carrying how many were held back. The counters
// hold the exact numbers; the log only has to say that it happens, without flooding.
//
// Lock-free and safe from any thread, so one throttle can serve every I/O thread of a listener.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "sluice/sdk/logger.hpp"

namespace sluice::plugins::net {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LogThrottle(Clock::duration every) noexcept : every_(every.count()) {}

  // True when this occurrence (of `n` events) may be logged; *suppressed is then the number of
  // events held back since the last line that was let through.
  bool admit(Clock::time_point now, int64_t* suppressed, int64_t n = 1) noexcept {
    const int64_t t = now.time_since_epoch().count();
    int64_t next = next_.load(std::memory_order_relaxed);
    while (t >= next) {
      if (next_.compare_exchange_weak(next, t + every_, std::memory_order_relaxed)) {
        *suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
        return true;
      }
    }
    suppressed_.fetch_add(n, std::memory_order_relaxed);
    return false;
  }
  bool admit(int64_t* suppressed, int64_t n = 1) noexcept {
    return admit(Clock::now(), suppressed, n);
  }

 private:
  const int64_t every_;                   // in Clock ticks
  std::atomic<int64_t> next_{INT64_MIN};  // the first occurrence always passes
  std::atomic<int64_t> suppressed_{0};
};

// " (N similar since the last report)", or "" for none: appended to a throttled line.
inline std::string suppressedNote(int64_t n) {
  return n > 0 ? " (" + std::to_string(n) + " similar since the last report)" : std::string();
}

// A throttle bound to a logger and a level: log.emit("refused ", peer, ": ", why) writes the
// line when the throttle admits it, with the suppressed note at the end.
class ThrottledLog {
 public:
  ThrottledLog(sdk::Logger& log, sdk::LogLevel level, LogThrottle::Clock::duration every) noexcept
      : log_(&log), level_(level), throttle_(every) {}

  template <class... A>
  void emit(A&&... a) noexcept {
    if (!log_->shouldLog(level_)) return;
    int64_t suppressed = 0;
    if (!throttle_.admit(&suppressed)) return;
    switch (level_) {
      case sdk::LogLevel::error:
        log_->error(std::forward<A>(a)..., suppressedNote(suppressed));
        break;
      case sdk::LogLevel::warn:
        log_->warn(std::forward<A>(a)..., suppressedNote(suppressed));
        break;
      case sdk::LogLevel::info:
        log_->info(std::forward<A>(a)..., suppressedNote(suppressed));
        break;
      default:
        log_->debug(std::forward<A>(a)..., suppressedNote(suppressed));
        break;
    }
  }

 private:
  sdk::Logger* log_;
  sdk::LogLevel level_;
  LogThrottle throttle_;
};

}  // namespace sluice::plugins::net
