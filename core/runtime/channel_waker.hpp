#pragma once
// Wakes sink runners that sleep on an empty channel as soon as a put commits to it. Flume's
// SinkRunner sleeps up to 5 s after an empty poll, which adds seconds of latency to a trickle;
// this keeps Flume's back-off for failing sinks but ends the wait on new data.
//
// notify() is called by the ChannelProcessor once per committed batch: an atomic increment,
// plus a lock only when a runner is actually waiting.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace sluice::core {

class ChannelWaker {
 public:
  void notify() noexcept {
    generation_.fetch_add(1);
    if (waiters_.load() > 0) {
      std::lock_guard lock(mutex_);
      cv_.notify_all();
    }
  }
  uint64_t generation() const noexcept { return generation_.load(); }
  // Waits until the generation moves past `seen`, `stop` or `drain` turns true, or the timeout
  // passes.
  template <class Rep, class Period>
  void waitFor(uint64_t seen, const std::atomic<bool>& stop, const std::atomic<bool>& drain,
               std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock lock(mutex_);
    waiters_.fetch_add(1);
    cv_.wait_for(lock, timeout,
                 [&] { return generation_.load() != seen || stop.load() || drain.load(); });
    waiters_.fetch_sub(1);
  }
  // Ends every wait (used on stop).
  void wakeAll() {
    std::lock_guard lock(mutex_);
    cv_.notify_all();
  }

 private:
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> waiters_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
};

}  // namespace sluice::core
