#pragma once
// Wakes sink runners that sleep on empty channels as soon as a put commits to one of them.
// Flume's SinkRunner sleeps up to 5 s after an empty poll, which adds seconds of latency to a
// trickle; this keeps Flume's back-off for failing sinks but ends the wait on new data.
//
// One ChannelWaker per channel, one Wakeup per sink runner. A runner whose sinks read several
// channels (a sink group) subscribes its Wakeup to every one of them while it waits, so a put to
// any of them ends the wait.
//
// notify() is called by the ChannelProcessor once per committed batch: an atomic increment,
// plus a lock only while a runner is actually waiting on the channel.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

namespace sluice::core {

// What one sink runner sleeps on.
class Wakeup {
 public:
  void poke() noexcept {
    std::lock_guard lock(mutex_);
    poked_ = true;
    cv_.notify_all();
  }
  // Forgets a poke that came before the caller's last look at its channels.
  void reset() noexcept {
    std::lock_guard lock(mutex_);
    poked_ = false;
  }
  // Waits until poked, `stop` or `drain` turns true (set them, then poke), or the timeout passes.
  template <class Rep, class Period>
  void waitFor(const std::atomic<bool>& stop, const std::atomic<bool>& drain,
               std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return poked_ || stop.load() || drain.load(); });
    poked_ = false;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool poked_ = false;  // guarded by mutex_
};

class ChannelWaker {
 public:
  ChannelWaker() { waiting_.reserve(4); }

  void notify() noexcept {
    generation_.fetch_add(1);
    if (waiters_.load() > 0) {
      std::lock_guard lock(mutex_);
      for (Wakeup* w : waiting_) w->poke();
    }
  }
  // Counts the puts committed so far; a runner compares it before and after a look.
  uint64_t generation() const noexcept { return generation_.load(); }

  // A runner about to wait subscribes first and then compares generation() with what it saw
  // before its last take: a put in between is then either seen by that comparison or pokes the
  // Wakeup (notify() bumps the generation before it looks for waiters). Returns false when out of
  // memory; the runner then sleeps without being woken.
  bool subscribe(Wakeup* w) noexcept {
    std::lock_guard lock(mutex_);
    try {
      waiting_.push_back(w);
    } catch (...) {
      return false;
    }
    waiters_.fetch_add(1);
    return true;
  }
  void unsubscribe(Wakeup* w) noexcept {
    std::lock_guard lock(mutex_);
    auto it = std::find(waiting_.begin(), waiting_.end(), w);
    if (it == waiting_.end()) return;
    waiting_.erase(it);
    waiters_.fetch_sub(1);
  }

 private:
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> waiters_{0};
  std::mutex mutex_;
  std::vector<Wakeup*> waiting_;  // guarded by mutex_
};

}  // namespace sluice::core
