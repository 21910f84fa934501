#pragma once
// Sources take events in and hand them to their ChannelProcessor, as in Flume.

#include <cstdint>
#include <exception>

#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/component.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::sdk {

// Implemented by the host. Runs the interceptor chain, asks the channel selector where each event
// goes, and puts the batch into every required channel in one transaction per channel.
// May be called from several threads at once (an event-driven source's connection threads).
class SLUICE_SDK_API ChannelProcessor {
 public:
  virtual ~ChannelProcessor() = default;
  // Consumes the events: on return the vector is empty (capacity kept), success or not.
  // Failure means a required channel did not accept the batch (full, or an error): the source
  // must not acknowledge that input and should re-read or re-request it later. Failures on
  // optional channels are logged and counted, not reported.
  virtual Result processEventBatch(EventBatch& events) noexcept = 0;
  virtual Result processEvent(Event&& event) noexcept = 0;
};

class PollableSource;

class SLUICE_SDK_API Source : public Component {
 public:
  ChannelProcessor& getChannelProcessor() const noexcept { return *processor_; }
  // Host entry point: set before start(), outlives the source.
  void setChannelProcessor(ChannelProcessor* processor) noexcept { processor_ = processor; }
  // Lets the host pick a runner without RTTI across the boundary.
  virtual PollableSource* asPollable() noexcept { return nullptr; }

 private:
  ChannelProcessor* processor_ = nullptr;
};

// Flume's AbstractSource, with its SourceCounter.
class SLUICE_SDK_API AbstractSource : public Source {
 public:
  SourceCounter& sourceCounter() noexcept { return counter_; }
  CounterGroup* counters() noexcept override { return &counter_; }

 private:
  SourceCounter counter_;
};

// A source the host polls: a PollableSourceRunner thread calls process() in a loop. On BACKOFF
// it sleeps getBackOffSleepIncrement() more each time, up to getMaxBackOffSleepInterval(); READY
// resets the sleep. The defaults are Flume's (1000 ms, 5000 ms) and the keys
// backoffSleepIncrement and maxBackoffSleep override them for every pollable source.
class SLUICE_SDK_API PollableSource : public AbstractSource {
 public:
  static constexpr int64_t kDefaultBackOffSleepIncrement = 1000;
  static constexpr int64_t kDefaultMaxBackOffSleep = 5000;

  // Runs on the runner thread only. Must not block for long: stop() waits for it to return.
  virtual Status process() = 0;

  virtual int64_t getBackOffSleepIncrement() const noexcept { return backOffSleepIncrement_; }
  virtual int64_t getMaxBackOffSleepInterval() const noexcept { return maxBackOffSleep_; }

  PollableSource* asPollable() noexcept final { return this; }

  // Host entry points.
  Result hostConfigure(const Context& context) noexcept override {
    return detail::guarded([&] {
      backOffSleepIncrement_ = context.getLong("backoffSleepIncrement", kDefaultBackOffSleepIncrement);
      maxBackOffSleep_ = context.getLong("maxBackoffSleep", kDefaultMaxBackOffSleep);
      configure(context);
    });
  }
  // An exception from process() becomes BACKOFF plus an error log line, as Flume's runner does.
  ProcessOutcome hostProcess() noexcept {
    ProcessOutcome out;
    try {
      failure_.clear();
      out.status = process();
      if (!failure_.empty()) {
        out.failed = true;
        out.error = std::move(failure_);
        failure_.clear();
      }
      return out;
    } catch (const std::exception& e) {
      out.error = e.what();
    } catch (...) {
      out.error = "unknown exception";
    }
    out.status = Status::BACKOFF;
    out.failed = true;
    logger().error("process() failed: ", out.error);
    return out;
  }

 protected:
  // The non-throwing way to report a failed delivery: `return deliveryFailed("disk full");`
  // after rolling back. Same effect as throwing EventDeliveryException.
  Status deliveryFailed(std::string why) {
    logger().error(why);
    failure_ = why.empty() ? std::string("delivery failed") : std::move(why);
    return Status::BACKOFF;
  }

 private:
  std::string failure_;
  int64_t backOffSleepIncrement_ = kDefaultBackOffSleepIncrement;
  int64_t maxBackOffSleep_ = kDefaultMaxBackOffSleep;
};

// A source that runs its own threads (listeners, watchers), started in start() and joined in
// stop().
class SLUICE_SDK_API EventDrivenSource : public AbstractSource {};

}  // namespace sluice::sdk
