#pragma once
// The host's sdk::ChannelProcessor: interceptors, then the selector, then one put transaction
// per channel. Thread-safe: event-driven sources call it from many threads at once, so all
// per-call state lives on the caller's stack.

#include <memory>
#include <string>
#include <vector>

#include <spdlog/fwd.h>

#include "core/plugin/registry.hpp"
#include "core/runtime/channel_waker.hpp"
#include "sluice/sdk/counters.hpp"
#include "sluice/sdk/interceptor.hpp"
#include "sluice/sdk/selector.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::core {

class ChannelProcessorImpl final : public sdk::ChannelProcessor {
 public:
  struct Target {
    sdk::Channel* channel;
    ChannelWaker* waker;  // may be null
  };

  ChannelProcessorImpl(std::string sourcePath, PluginPtr<sdk::ChannelSelector> selector,
                       std::vector<std::unique_ptr<sdk::Interceptor>> interceptors,
                       std::vector<Target> targets, std::shared_ptr<spdlog::logger> log);
  ~ChannelProcessorImpl() override;

  sdk::Result processEventBatch(sdk::EventBatch& events) noexcept override;
  sdk::Result processEvent(sdk::Event&& event) noexcept override;

  // Interceptors' initialize()/close(), called by the agent around the source's lifetime.
  sdk::Result initialize();
  void close();

  sdk::ChannelSelector& selector() { return *selector_; }

  // Counters of the i-th interceptor in chain order (Flume's MonitoredCounterGroup type
  // INTERCEPTOR, which Flume declares without attributes; the names are ours, see the README).
  // Added to once per batch with relaxed atomics; readable from any thread.
  enum : std::size_t {
    EventReceivedCount,   // events handed to the interceptor
    EventAcceptedCount,   // events it passed on
    EventDroppedCount,    // events it removed (received - passed on, when positive)
    InterceptFailCount,   // intercept() calls that failed (the whole batch is refused)
  };
  std::size_t interceptorCount() const { return interceptors_.size(); }
  const sdk::CounterGroup& interceptorCounters(std::size_t i) const { return *counters_[i]; }

 private:
  sdk::Result putInto(sdk::Channel* channel, sdk::EventBatch& batch) noexcept;
  ChannelWaker* wakerFor(sdk::Channel* channel) const noexcept;

  std::string sourcePath_;
  PluginPtr<sdk::ChannelSelector> selector_;
  std::vector<std::unique_ptr<sdk::Interceptor>> interceptors_;
  std::vector<std::unique_ptr<sdk::CounterGroup>> counters_;  // one per interceptor
  std::vector<Target> targets_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace sluice::core
