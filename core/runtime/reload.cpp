#include "core/runtime/reload.hpp"

#include <algorithm>
#include <exception>
#include <new>
#include <thread>
#include <type_traits>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/runtime/reload_plan.hpp"

namespace sluice::core {

// The switch-over swaps whole pipelines, which must not be able to fail half way.
static_assert(std::is_nothrow_move_constructible_v<Pipeline> &&
              std::is_nothrow_move_assignable_v<Pipeline>);

namespace {

constexpr auto kMoveTimeout = std::chrono::seconds(30);

bool started(const sdk::Component& c) {
  return c.getLifecycleState() == sdk::LifecycleState::START;
}

// Runs a rollback or clean-up step that must not stop the ones after it: an exception is
// logged and swallowed. Returns whether the step finished.
template <class F>
bool attempt(spdlog::logger& log, const char* what, F&& f) noexcept {
  try {
    f();
    return true;
  } catch (const std::exception& e) {
    try {
      log.error("reload: {} failed: {}", what, e.what());
    } catch (...) {
    }
  } catch (...) {
    try {
      log.error("reload: {} failed: unknown exception", what);
    } catch (...) {
    }
  }
  return false;
}

// The text of the exception being handled; empty if even that cannot be made.
std::string currentError() noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    try {
      return e.what();
    } catch (...) {
    }
  } catch (...) {
    try {
      return "unknown exception";
    } catch (...) {
    }
  }
  return {};
}

void reportError(Diagnostics& diags, const char* prefix, const std::string& why) noexcept {
  try {
    diags.error(prefix + why);
  } catch (...) {
  }
}

// Phase 2 of a reload: the switch-over from `running` to `next`, with its rollback.
class SwitchOver {
 public:
  // Sorts the entries into what stops and what starts. May throw (allocation); touches nothing.
  SwitchOver(Pipeline& running, Pipeline next, const ReloadPlan& plan, const ReloadHost& host)
      : running_(running), next_(std::move(next)), host_(host), log_(*host.log) {
    retiring_.config.agent = running.config.agent;
    fresh_.config.agent = next_.config.agent;
    auto split = [](const auto& from, auto& to, auto&& keeps) {
      for (const auto& e : from)
        if (!keeps(e->name)) to.push_back(e);
    };
    auto ch = [&](std::string_view n) { return plan.keepsChannel(n); };
    auto sk = [&](std::string_view n) { return plan.keepsSink(n); };
    auto rn = [&](std::string_view n) { return plan.keepsRunner(n); };
    auto sr = [&](std::string_view n) { return plan.keepsSource(n); };
    for (Pipeline* p : {&running_, &next_}) {
      Pipeline& to = p == &running_ ? retiring_ : fresh_;
      split(p->channels, to.channels, ch);
      split(p->sinks, to.sinks, sk);
      split(p->runners, to.runners, rn);
      split(p->sources, to.sources, sr);
    }
    kept_ = plan.kept();
    for (const auto& k : kept_) keptText_ += (keptText_.empty() ? "" : ", ") + k;
    changes_ = plan.changes();
  }

  bool run(Diagnostics& diags, std::vector<std::string>& kept) noexcept {
    std::string why;
    try {
      sdk::Result r = forward();
      if (r) {
        commit(kept);
        return true;
      }
      why = r.error();
    } catch (...) {
      why = currentError();
    }
    rollBack(why, diags);
    return false;
  }

 private:
  void step(const std::string& what) const {
    if (host_.build.step && *host_.build.step) (*host_.build.step)(what);
  }

  // Every step that may fail; a failure returns (or throws) before the pipelines are swapped.
  sdk::Result forward() {
    const Lifecycle& lc = host_.lifecycle;
    log_.info("reloading: {}", changes_);
    // Sinks stop without draining: their events stay in the channel (a kept one, or one whose
    // events move below).
    step("stop replaced sources");
    lc.stopSources(retiring_);
    step("stop replaced sinks");
    lc.stopSinks(retiring_, std::chrono::milliseconds(0));
    // A durable channel (file, spillable overflow) locks its directories, so its replacement on
    // the same directories cannot start beside it: then the old one stops first and the
    // replacement finds the stored events in those directories when it starts.
    for (auto& c : fresh_.channels) {
      step("start channel " + c->name);
      if (lc.startChannel(fresh_.config.agent, *c)) continue;
      ChannelEntry* old = retiring_.channel(c->name);
      if (!old || !started(*old->channel)) continue;
      log_.warn(
          "reload: the new channel '{}' cannot start while the old one runs; stopping the "
          "old one first so the new one takes over its stored events",
          c->name);
      lc.stopChannel(retiring_.config.agent, *old);
    }
    // A component of the new config that cannot start (a directory that cannot be created, a
    // port in use) makes the edit as invalid as a bad key: the old pipeline comes back.
    step("start new channels and sinks");
    if (sdk::Result r = lc.startChannelsAndSinks(fresh_); !r) return r;
    for (auto& old : retiring_.channels) {
      ChannelEntry* successor = fresh_.channel(old->name);
      if (!successor || !started(*old->channel)) continue;
      const std::string batchStep = "move a batch out of channel " + old->name;
      const int64_t moved =
          moveEvents(*old->channel, *successor->channel, &successor->waker,
                     std::chrono::steady_clock::now() + kMoveTimeout, [&] { step(batchStep); });
      log_.info("reload: moved {} event(s) from the old channel '{}' into its replacement", moved,
                old->name);
      if (int64_t left = old->channel->channelCounter().getChannelSize(); left > 0)
        log_.error("reload: {} event(s) could not be moved out of the old channel '{}' within 30 s",
                   left, old->name);
    }
    // The last step that can fail: from here on nothing does (commit() cannot), so no new
    // source emits anything into a pipeline that is then rolled back.
    step("start new sources");
    return lc.startSources(fresh_);
  }

  void commit(std::vector<std::string>& kept) noexcept {
    std::swap(running_, next_);  // next_ now holds the previous pipeline, destroyed with *this
    kept.swap(kept_);
    attempt(log_, "stopping the replaced channels",
            [&] { host_.lifecycle.stopChannels(retiring_); });
    attempt(log_, "logging", [&] {
      log_.info("configuration reloaded; kept running: {}",
                keptText_.empty() ? "nothing" : keptText_);
    });
  }

  void rollBack(const std::string& why, Diagnostics& diags) noexcept {
    const Lifecycle& lc = host_.lifecycle;
    reportError(diags, "configuration reload failed: ", why);
    attempt(log_, "logging", [&] {
      log_.error("configuration reload failed: {}; going back to the previous configuration", why);
    });
    // The new sinks deliver what the new sources (or the event move) put into the new channels;
    // what they could not deliver goes back into the old channel of that name.
    attempt(log_, "stopping the new sources", [&] { lc.stopSources(fresh_); });
    for (auto& r : fresh_.runners) {
      if (!r->started) continue;
      attempt(log_, "stopping a new sink runner", [&] {
        // Drain only runners whose channels are all new: one on a kept channel would keep taking
        // what the old sources put there.
        const bool newChannels = std::all_of(r->sinks.begin(), r->sinks.end(), [&](const auto& n) {
          const SinkEntry* s = next_.sink(n);
          return s && fresh_.channel(s->channel);
        });
        (void)r->runner->stop(newChannels ? host_.drainTimeout : std::chrono::milliseconds(0));
        r->started = false;
      });
    }
    attempt(log_, "stopping the new sinks",
            [&] { lc.stopSinks(fresh_, std::chrono::milliseconds(0)); });
    for (auto& c : fresh_.channels) {
      if (!started(*c->channel)) continue;
      ChannelEntry* old = retiring_.channel(c->name);
      attempt(log_, "moving events back", [&] {
        if (!old || !started(*old->channel)) return;
        const int64_t moved = moveEvents(*c->channel, *old->channel, &old->waker,
                                         std::chrono::steady_clock::now() + kMoveTimeout);
        if (moved > 0)
          log_.info("reload: moved {} event(s) back into channel '{}'", moved, c->name);
      });
      attempt(log_, "logging", [&] {
        // A stopped old channel of that name is durable: it finds them in its directories.
        if (int64_t left = c->channel->channelCounter().getChannelSize();
            left > 0 && (!old || started(*old->channel)))
          log_.error("reload: {} event(s) are left in the new channel '{}', which is given up",
                     left, c->name);
      });
    }
    attempt(log_, "stopping the new channels", [&] { lc.stopChannels(fresh_); });
    // A durable channel stopped for its replacement replays its directories here.
    attempt(log_, "restarting the previous components", [&] {
      sdk::Result r = lc.startChannelsAndSinks(retiring_);
      if (r) r = lc.startSources(retiring_);
      if (!r) {
        reportError(diags, "the previous configuration could not be restarted either: ", r.error());
        log_.error("reload: the previous configuration could not be restarted either: {}",
                   r.error());
      } else {
        log_.warn("reload: the previous configuration runs again");
      }
    });
  }

  Pipeline& running_;
  Pipeline next_;
  // Shares of entries: the running ones the plan does not keep, and next_'s new ones.
  Pipeline retiring_, fresh_;
  const ReloadHost& host_;
  spdlog::logger& log_;
  std::vector<std::string> kept_;
  std::string keptText_, changes_;
};

}  // namespace

int64_t moveEvents(sdk::Channel& from, sdk::Channel& to, ChannelWaker* toWaker,
                   std::chrono::steady_clock::time_point deadline,
                   const std::function<void()>& beforeBatch) {
  int64_t moved = 0, failedRounds = 0;
  sdk::EventBatch batch;
  while (std::chrono::steady_clock::now() < deadline) {
    if (beforeBatch) beforeBatch();
    sdk::TransactionGuard take(from);
    std::span<sdk::Event> taken;
    if (!take->takeBatch(100, taken) || taken.empty()) break;
    // Cloned, not moved: a put that fails leaves the take to roll back with the events intact.
    batch.clear();
    for (auto& e : taken) batch.push_back(e.clone());
    const std::size_t n = batch.size();
    sdk::TransactionGuard put(to);
    if (put->putBatch(batch) && put.commit()) {
      (void)take.commit();
      if (toWaker) toWaker->notify();
      moved += static_cast<int64_t>(n);
      failedRounds = 0;
    } else {
      ++failedRounds;
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min<int64_t>(100, 5 * failedRounds)));
    }
  }
  return moved;
}

bool reloadPipeline(Pipeline& running, const AgentConfig& cfg, const ReloadHost& host,
                    Diagnostics& diags, std::vector<std::string>& kept) noexcept {
  // Phase 1: nothing running is touched, so any failure simply refuses the reload.
  std::unique_ptr<SwitchOver> switchOver;
  try {
    if (host.build.step && *host.build.step) (*host.build.step)("plan");
    const ReloadPlan plan = planReload(running, cfg);
    Pipeline next;
    Diagnostics buildDiags;
    PipelineBuilder builder(host.registry, host.logs, host.build);
    const bool ok = builder.build(cfg, buildDiags, next, &running, &plan);
    diags.append(buildDiags);
    if (!ok) {
      host.log->error(
          "configuration reload refused ({} error(s)); the running pipeline is unchanged",
          buildDiags.errorCount());
      return false;
    }
    switchOver = std::make_unique<SwitchOver>(running, std::move(next), plan, host);
  } catch (...) {
    const std::string why = currentError();
    reportError(diags, "configuration reload refused: ", why);
    attempt(*host.log, "logging", [&] {
      host.log->error("configuration reload refused ({}); the running pipeline is unchanged", why);
    });
    return false;
  }
  // Phase 2.
  return switchOver->run(diags, kept);
}

}  // namespace sluice::core
