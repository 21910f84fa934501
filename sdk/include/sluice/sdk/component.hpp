#pragma once
// The base of every plugin object, and the lifecycle of the long-lived ones.
//
// Plugin authors override configure(), start() and stop() and may throw from them (ConfigError
// for bad keys). The host never calls those directly: it calls the host*() entry points, which
// are defined here, inline, so they are compiled into the plugin and catch every exception on
// the plugin's side of the boundary.

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
}  // namespace detail

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
  void setName(std::string name) { name_ = std::move(name); }
  // The logger the host made for this object (<kind>:<type>:<instance>).
  Logger& logger() const noexcept { return logger_ ? *logger_ : NullLogger::instance(); }

  // Counters the host publishes for this object, or nullptr.
  virtual CounterGroup* counters() noexcept { return nullptr; }

  // ---- Host entry points. Plugins do not override or call these. ----
  // The logger outlives this object.
  void hostAttach(std::string name, Logger* logger) noexcept {
    try {
      name_ = std::move(name);
    } catch (...) {
    }
    logger_ = logger;
  }
  virtual Result hostConfigure(const Context& context) noexcept {
    return detail::guarded([&] { configure(context); });
  }

 private:
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

  Result hostStart() noexcept {
    Result r = detail::guarded([&] { start(); });
    state_ = r ? LifecycleState::START : LifecycleState::ERROR;
    if (r)
      if (CounterGroup* c = counters()) c->markStarted();
    return r;
  }
  Result hostStop() noexcept {
    Result r = detail::guarded([&] { stop(); });
    state_ = r ? LifecycleState::STOP : LifecycleState::ERROR;
    if (CounterGroup* c = counters()) c->markStopped();
    return r;
  }

 private:
  LifecycleState state_ = LifecycleState::IDLE;
};

}  // namespace sluice::sdk
