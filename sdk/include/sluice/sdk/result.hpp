#pragma once
// Error values for the plugin boundary: configuration, lifecycle and data-path calls report
// failure by value, never by an exception crossing a shared-object boundary.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

#include "sluice/sdk/visibility.hpp"

namespace sluice::sdk {

class [[nodiscard]] SLUICE_SDK_API Result {
 public:
  Result() = default;  // success
  static Result success() { return Result(); }
  static Result failure(std::string message) {
    Result r;
    r.failed_ = true;
    r.message_ = std::move(message);
    return r;
  }
  bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return !failed_; }
  const std::string& error() const noexcept { return message_; }

 private:
  bool failed_ = false;
  std::string message_;
};

// What PollableSource::process() and Sink::process() return, as in Flume.
// READY: work was done, call again at once. BACKOFF: nothing to do or a failure; the runner
// sleeps with a growing back-off before calling again.
enum class Status { READY, BACKOFF };

// Flume's EventDeliveryException: a sink (or pollable source) throws it from process() when a
// batch could not be delivered, after rolling back. It never leaves the plugin: the host entry
// point catches it and reports a failed ProcessOutcome, which failover and back-off act on.
class SLUICE_SDK_API EventDeliveryException : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the host learns from one process() call. BACKOFF alone means "nothing to do" (an empty
// channel); failed means the call tried and failed (a write error, a full channel).
struct SLUICE_SDK_API ProcessOutcome {
  Status status = Status::READY;
  bool failed = false;
  std::string error;
  // Events a sink took from its channel in this call, as its SinkBatch counted them (0 for a
  // sink that takes without SinkBatch, and for sources). A BACKOFF after taking some is a short
  // batch: the sink runner then goes on at once if more events wait, instead of sleeping.
  std::size_t taken = 0;
};

}  // namespace sluice::sdk
