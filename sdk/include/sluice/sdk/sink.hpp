#pragma once
// Sinks take events from one channel and write them out, as in Flume.

#include <exception>

#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/component.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::sdk {

// A SinkRunner thread calls process() in a loop (through a sink processor when the sink is in a
// group). process() takes a batch in one transaction, writes it, and commits only after the write
// succeeded; on failure it rolls back (TransactionGuard does) and returns BACKOFF.
class SLUICE_SDK_API Sink : public Component {
 public:
  virtual Status process() = 0;

  Channel* getChannel() const noexcept { return channel_; }
  // Host entry point: set before start(), outlives the sink.
  void setChannel(Channel* channel) noexcept { channel_ = channel; }

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
  Channel* channel_ = nullptr;
};

// Flume's AbstractSink, with its SinkCounter.
class SLUICE_SDK_API AbstractSink : public Sink {
 public:
  SinkCounter& sinkCounter() noexcept { return counter_; }
  CounterGroup* counters() noexcept override { return &counter_; }

 private:
  SinkCounter counter_;
};

}  // namespace sluice::sdk
