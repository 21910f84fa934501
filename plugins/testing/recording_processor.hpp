#pragma once
// The one fake ChannelProcessor for source unit tests: records what the channels would have
// accepted, and refuses batches like a full channel when told to.

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sluice/sdk/source.hpp"

namespace sluice::plugins::testing {

// Records the events of accepted batches. Refuses every batch while `refuse` is set, and the
// next `failNext` batches (counting down), consuming them as the real processor does; refusals
// are counted in refusedCalls. Calls onBatch, outside the lock, after each accepted batch: set
// it before the source starts. Safe to read through the accessors while the source runs.
class RecordingProcessor final : public sdk::ChannelProcessor {
 public:
  std::atomic<bool> refuse{false};
  std::atomic<int> failNext{0};
  std::atomic<int> refusedCalls{0};
  std::function<void()> onBatch;

  sdk::Result processEventBatch(sdk::EventBatch& events) noexcept override {
    std::function<void()> hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++calls_;
      if (refuse.load() || takeFailure()) {
        events.clear();
        refusedCalls.fetch_add(1);
        return sdk::Result::failure("channel c1 is full");
      }
      batchSizes_.push_back(events.size());
      for (auto& e : events) {
        bodies_.push_back(std::move(e.body));
        headers_.push_back(std::move(e.headers));
      }
      events.clear();
      hook = onBatch;
    }
    if (hook) hook();
    return sdk::Result::success();
  }
  sdk::Result processEvent(sdk::Event&& event) noexcept override {
    sdk::EventBatch one;
    one.push_back(std::move(event));
    return processEventBatch(one);
  }

  // Events accepted so far.
  std::size_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_.size();
  }
  // Their bodies, in order.
  std::vector<std::string> snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  // The headers of the i-th accepted event.
  sdk::Headers headersOf(std::size_t i) const {
    std::lock_guard<std::mutex> lock(mu_);
    return headers_.at(i);
  }
  // The size of each accepted batch, in order.
  std::vector<std::size_t> batchSizes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return batchSizes_;
  }
  // Reserves room for n events, so that recording allocates nothing (allocation-counting tests).
  void reserve(std::size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    bodies_.reserve(n);
    headers_.reserve(n);
    batchSizes_.reserve(n);
  }
  // Batches offered, accepted or refused.
  int calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  bool takeFailure() {
    int n = failNext.load();
    while (n > 0 && !failNext.compare_exchange_weak(n, n - 1)) {
    }
    return n > 0;
  }

  mutable std::mutex mu_;
  std::vector<std::string> bodies_;
  std::vector<sdk::Headers> headers_;
  std::vector<std::size_t> batchSizes_;
  int calls_ = 0;
};

}  // namespace sluice::plugins::testing
