#include "core/runtime/lifecycle.hpp"

#include <spdlog/spdlog.h>
#include "sluice/sdk/host_access.hpp"

namespace sluice::core {

namespace {
bool started(const sdk::Component& c) {
  return c.getLifecycleState() == sdk::LifecycleState::START;
}
sdk::Result startFailed(const std::string& what, const sdk::Result& r) {
  return sdk::Result::failure(what + " failed to start: " + r.error());
}
}  // namespace

sdk::Result Lifecycle::startChannelsAndSinks(Pipeline& p) const {
  for (auto& c : p.channels)
    if (sdk::Result r = startChannel(p.config.agent, *c); !r) return r;
  for (auto& s : p.sinks) {
    if (started(*s->sink)) continue;
    if (sdk::Result r = sdk::HostAccess::start(*s->sink); !r)
      return startFailed(p.config.agent + ".sinks." + s->name, r);
  }
  for (auto& r : p.runners)
    if (!r->started) {
      r->runner->start();
      r->started = true;
    }
  return sdk::Result::success();
}

sdk::Result Lifecycle::startSources(Pipeline& p) const {
  for (auto& s : p.sources) {
    if (started(*s->source)) continue;
    sdk::Result r = s->processor->initialize();
    if (r) r = sdk::HostAccess::start(*s->source);
    if (!r) return startFailed(p.config.agent + ".sources." + s->name, r);
    if (sdk::PollableSource* pollable = s->source->asPollable()) {
      s->runner = std::make_unique<PollableSourceRunner>(pollable, s->backoff,
                                                         logs_.core("runner:" + s->name));
      s->runner->start();
    }
  }
  return sdk::Result::success();
}

void Lifecycle::stopSources(Pipeline& p) const {
  for (auto& s : p.sources) {
    if (s->runner) s->runner->stop();
    s->runner.reset();
    if (started(*s->source)) {
      sdk::Result r = sdk::HostAccess::stop(*s->source);
      if (!r) log_->error("{}.sources.{}: stop failed: {}", p.config.agent, s->name, r.error());
      s->processor->close();
    }
  }
}

void Lifecycle::stopSinks(Pipeline& p, std::chrono::milliseconds drain) const {
  for (auto& r : p.runners) {
    if (!r->started) continue;
    int64_t left = r->runner->stop(drain);
    r->started = false;
    if (left > 0 && drain.count() > 0)
      log_->warn("sink runner '{}': {} event(s) still in its channel after the {} ms drain timeout",
                 r->runner->name(), left, drain.count());
  }
  for (auto& s : p.sinks)
    if (started(*s->sink)) {
      sdk::Result r = sdk::HostAccess::stop(*s->sink);
      if (!r) log_->error("{}.sinks.{}: stop failed: {}", p.config.agent, s->name, r.error());
    }
}

void Lifecycle::stopChannels(Pipeline& p) const {
  for (auto& c : p.channels) stopChannel(p.config.agent, *c);
}

sdk::Result Lifecycle::startChannel(const std::string& agent, ChannelEntry& c) const {
  if (started(*c.channel)) return sdk::Result::success();
  if (sdk::Result r = sdk::HostAccess::start(*c.channel); !r)
    return startFailed(agent + ".channels." + c.name, r);
  return sdk::Result::success();
}

void Lifecycle::stopChannel(const std::string& agent, ChannelEntry& c) const {
  if (!started(*c.channel)) return;
  sdk::Result r = sdk::HostAccess::stop(*c.channel);
  if (!r) log_->error("{}.channels.{}: stop failed: {}", agent, c.name, r.error());
}

}  // namespace sluice::core
