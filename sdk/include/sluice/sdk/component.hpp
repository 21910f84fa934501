#pragma once
// The base of every plugin object, and the lifecycle of the long-lived ones.
//
// Plugin authors override configure(), start() and stop() and may throw from them (ConfigError
// for bad keys). The host never calls those directly: it goes through sdk::HostAccess
// (host_access.hpp), whose entry points wrap each call in a guard that turns any exception into
// a Result at once, so none propagates into the host's own frames. The entry points are not
// virtual and the state they keep is private, so a plugin cannot override or bypass the guard.

#include <cstddef>
#include <exception>
#include <string>
#include <utility>

#include "sluice/sdk/context.hpp"
#include "sluice/sdk/counters.hpp"
#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/result.hpp"
#include "sluice/sdk/visibility.hpp"

namespace sluice::sdk {

// Flume's org.apache.flume.lifecycle.LifecycleState.
enum class LifecycleState { IDLE, START, STOP, ERROR };

inline const char* nameOf(LifecycleState s) noexcept {
  switch (s) {
    case LifecycleState::IDLE: return "IDLE";
    case LifecycleState::START: return "START";
    case LifecycleState::STOP: return "STOP";
    case LifecycleState::ERROR: return "ERROR";
  }
  return "?";
}

namespace detail {
template <class F>
Result guarded(F&& f) noexcept {
  try {
    f();
    return Result::success();
  } catch (const std::exception& e) {
    return Result::failure(e.what());
  } catch (...) {
    return Result::failure("unknown exception");
  }
}

// The outcome bookkeeping of process() shared by PollableSource and Sink: how deliveryFailed()
// reports a failure without throwing, and how the host's call turns an exception into BACKOFF
// plus an error log line, as Flume's runners do.
class SLUICE_SDK_API Delivery {
 public:
  Status fail(Logger& log, std::string why) {
    log.error(why);
    failure_ = why.empty() ? std::string("delivery failed") : std::move(why);
    return Status::BACKOFF;
  }
  void noteTaken(std::size_t n) noexcept { taken_ += n; }

  template <class F>
  ProcessOutcome run(Logger& log, F&& process) noexcept {
    ProcessOutcome out;
    try {
      failure_.clear();
      taken_ = 0;
      out.status = process();
      out.taken = taken_;
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
    out.taken = taken_;
    log.error("process() failed: ", out.error);
    return out;
  }

 private:
  std::string failure_;
  std::size_t taken_ = 0;
};
}  // namespace detail

struct HostAccess;

// Root of everything a plugin factory creates. Owned by the host; destroyed through the virtual
// destructor while the plugin's library is still loaded.
class SLUICE_SDK_API PluginObject {
 public:
  PluginObject() = default;
  PluginObject(const PluginObject&) = delete;
  PluginObject& operator=(const PluginObject&) = delete;
  virtual ~PluginObject() = default;

  // Flume's Configurable.configure. Called once, before start, on the host's control thread.
  virtual void configure(const Context& context) { (void)context; }

  const std::string& getName() const noexcept { return name_; }
  // The logger the host made for this object (<kind>:<type>:<instance>).
  Logger& logger() const noexcept { return logger_ ? *logger_ : NullLogger::instance(); }

  // Counters the host publishes for this object, or nullptr.
  virtual CounterGroup* counters() noexcept { return nullptr; }

 private:
  friend struct HostAccess;
  std::string name_;
  Logger* logger_ = nullptr;
};

// Flume's LifecycleAware + Configurable + NamedComponent: sources, channels and sinks.
class SLUICE_SDK_API Component : public PluginObject {
 public:
  // start() and stop() run on the host's control thread. stop() must make every thread the
  // component started finish before it returns. Both must be safe to call again.
  virtual void start() {}
  virtual void stop() {}

  LifecycleState getLifecycleState() const noexcept { return state_; }

 private:
  friend struct HostAccess;
  LifecycleState state_ = LifecycleState::IDLE;
};

}  // namespace sluice::sdk
