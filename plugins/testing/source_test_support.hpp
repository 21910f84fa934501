#pragma once
// Helpers for source unit tests (exec, spooldir, taildir): a ChannelProcessor that records what
// the channels would have accepted and can refuse batches like a full channel, a Logger that
// keeps the text, and waiting on a condition with a deadline.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::plugins::testing {

// Records the events of accepted batches. Refuses every batch while `refuse` is set (counted in
// refusedCalls); calls onBatch, outside the lock, after each accepted one. Set onBatch before
// the source starts. Fields are read under mu (or through the accessors) while the source runs.
class RecordingProcessor final : public sdk::ChannelProcessor {
 public:
  sdk::Result processEventBatch(sdk::EventBatch& events) noexcept override {
    std::function<void()> hook;
    {
      std::lock_guard<std::mutex> lock(mu);
      ++calls;
      if (refuse) {
        events.clear();
        refusedCalls.fetch_add(1);
        return sdk::Result::failure("channel c1 is full");
      }
      batchSizes.push_back(events.size());
      for (auto& e : events) {
        bodies.push_back(std::move(e.body));
        headers.push_back(std::move(e.headers));
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

  std::size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return bodies.size();
  }
  std::vector<std::string> snapshot() {
    std::lock_guard<std::mutex> lock(mu);
    return bodies;
  }
  sdk::Headers headersOf(std::size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    return headers.at(i);
  }

  std::mutex mu;
  std::vector<std::string> bodies;
  std::vector<sdk::Headers> headers;
  std::vector<std::size_t> batchSizes;
  std::atomic<bool> refuse{false};
  std::atomic<int> refusedCalls{0};
  std::function<void()> onBatch;
  int calls = 0;
};

// Keeps every message, one per line.
class CaptureLogger final : public sdk::Logger {
 public:
  bool shouldLog(sdk::LogLevel) const noexcept override { return true; }
  void log(sdk::LogLevel, std::string_view m) noexcept override {
    std::lock_guard<std::mutex> lock(mu);
    text += std::string(m) + "\n";
  }
  bool has(const std::string& s) {
    std::lock_guard<std::mutex> lock(mu);
    return text.find(s) != std::string::npos;
  }
  std::mutex mu;
  std::string text;
};

// Polls cond every few milliseconds until it holds or the timeout passes; returns its last value.
template <class F>
bool waitFor(F cond, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

}  // namespace sluice::plugins::testing
