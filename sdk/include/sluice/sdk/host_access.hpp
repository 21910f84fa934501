#pragma once
// The host's entry points into plugin objects: the only way the host configures, starts, stops
// and drives them. Plugins neither call nor see these; plugin unit tests, which play the host,
// do. Each entry point wraps the plugin's virtual call in a guard that turns any exception into
// an error value right there, so none propagates into the host's own frames (host and plugin
// share one C++ runtime: the loader checks the toolchain tag). The entry points are not virtual
// and the state they set is private to the SDK classes, so a plugin can neither override the
// guard nor skip it.

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/component.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/interceptor.hpp"
#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/result.hpp"
#include "sluice/sdk/selector.hpp"
#include "sluice/sdk/sink.hpp"
#include "sluice/sdk/sink_selector.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::sdk {

struct HostAccess {
  // ---- Every plugin object ----
  // Names the object and gives it the host's logger, which outlives it (nullptr: NullLogger).
  static void attach(PluginObject& o, std::string name, Logger* logger) noexcept {
    o.name_.swap(name);
    o.logger_ = logger;
  }
  // Hands a sub-component to its owner's Context under the key that named it (Key::component).
  static void setComponent(Context& context, std::string key,
                           std::shared_ptr<PluginObject> object) {
    context.components_[std::move(key)] = std::move(object);
  }
  static Result configure(PluginObject& o, const Context& context) noexcept {
    return detail::guarded([&] { o.configure(context); });
  }

  // ---- Sources, channels and sinks ----
  static Result start(Component& c) noexcept {
    Result r = detail::guarded([&] { c.start(); });
    c.state_ = r ? LifecycleState::START : LifecycleState::ERROR;
    if (r)
      if (CounterGroup* g = c.counters()) g->markStarted();
    return r;
  }
  static Result stop(Component& c) noexcept {
    Result r = detail::guarded([&] { c.stop(); });
    c.state_ = r ? LifecycleState::STOP : LifecycleState::ERROR;
    if (CounterGroup* g = c.counters()) g->markStopped();
    return r;
  }

  // ---- Wiring, before configure(); the targets outlive the object ----
  static void setChannelProcessor(Source& s, ChannelProcessor* p) noexcept { s.processor_ = p; }
  static void setChannel(Sink& s, Channel* c) noexcept { s.channel_ = c; }
  static void setChannels(ChannelSelector& s, std::vector<Channel*> channels) noexcept {
    s.channels_.swap(channels);
  }
  static void setSinks(SinkSelector& s, std::vector<Sink*> sinks) noexcept { s.sinks_.swap(sinks); }

  // ---- The data path: one call per batch, on the runner's thread ----
  // An exception from process() becomes a failed BACKOFF plus an error log line, as in Flume.
  static ProcessOutcome process(PollableSource& s) noexcept {
    return s.delivery_.run(s.logger(), [&] { return s.process(); });
  }
  static ProcessOutcome process(Sink& s) noexcept {
    return s.delivery_.run(s.logger(), [&] { return s.process(); });
  }

  // ---- Interceptors ----
  static std::unique_ptr<Interceptor> build(InterceptorBuilder& b, Result& result) noexcept {
    std::unique_ptr<Interceptor> out;
    result = detail::guarded([&] { out = b.build(); });
    if (result && !out) result = Result::failure("build() returned no interceptor");
    return out;
  }
  static Result initialize(Interceptor& i) noexcept {
    return detail::guarded([&] { i.initialize(); });
  }
  // On failure the batch is left in an unspecified state and the host fails the put.
  static Result intercept(Interceptor& i, EventBatch& events) noexcept {
    return detail::guarded([&] { i.intercept(events); });
  }
  static void close(Interceptor& i) noexcept {
    (void)detail::guarded([&] { i.close(); });
  }

  // ---- Sink selectors (load_balance); on a failed order() the host keeps config order ----
  static Result order(SinkSelector& s, std::vector<std::size_t>& candidates) noexcept {
    return detail::guarded([&] { s.order(candidates); });
  }
  static void inform(SinkSelector& s, std::size_t index, bool delivered) noexcept {
    (void)detail::guarded([&] {
      if (delivered)
        s.informSinkSucceeded(index);
      else
        s.informSinkFailed(index);
    });
  }
};

}  // namespace sluice::sdk
