#pragma once
// The host's sdk::ChannelProcessor: interceptors, then the selector, then one put transaction
// per channel. Thread-safe: event-driven sources call it from many threads at once, so all
// per-call state lives on the caller's stack.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
  // The state goes under sourcePath_ into every channel of the selector that keeps source state
  // (see the SDK's contract); committedState() asks the same channels.
  sdk::Result processEventBatchWithState(sdk::EventBatch& events,
                                         std::string_view state) noexcept override;
  std::optional<std::string> committedState() noexcept override;

  // Interceptors' initialize()/close(), called by the agent around the source's lifetime.
  sdk::Result initialize();
  void close();

  sdk::ChannelSelector& selector() { return *selector_; }

  // Counters of the i-th interceptor in chain order (Flume's MonitoredCounterGroup type
  // INTERCEPTOR, which Flume declares without attributes; the names are ours, see the README).
  // Added to once per batch with relaxed atomics; readable from any thread.
  enum : std::size_t {
    EventReceivedCount,  // events handed to the interceptor
    EventAcceptedCount,  // events it passed on
    EventDroppedCount,   // events it removed (received - passed on, when positive)
    InterceptFailCount,  // intercept() calls that failed (the whole batch is refused)
  };
  std::size_t interceptorCount() const { return interceptors_.size(); }
  const sdk::CounterGroup& interceptorCounters(std::size_t i) const { return *counters_[i]; }

 private:
  // state: null, or the source state to record in the same transaction (channels that keep
  // none ignore it). With a state, an empty batch is still a transaction.
  sdk::Result putInto(sdk::Channel* channel, sdk::EventBatch& batch,
                      const std::string_view* state) noexcept;
  sdk::Result route(sdk::EventBatch& events, const std::string_view* state) noexcept;
  // After the puts of a batch with a state: a state-only transaction into each channel that
  // keeps source state and was not among `done`, so its state stays current. Failures warn.
  void putStateElsewhere(const std::vector<sdk::Channel*>& done, std::string_view state) noexcept;
  ChannelWaker* wakerFor(sdk::Channel* channel) const noexcept;

  std::string sourcePath_;
  PluginPtr<sdk::ChannelSelector> selector_;
  std::vector<std::unique_ptr<sdk::Interceptor>> interceptors_;
  std::vector<std::unique_ptr<sdk::CounterGroup>> counters_;  // one per interceptor
  std::vector<Target> targets_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace sluice::core
