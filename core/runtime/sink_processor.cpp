#include "core/runtime/sink_processor.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include <spdlog/spdlog.h>

#include "plugins/common/text_util.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sluice::core {
namespace {

using plugins::text::lower;

class DefaultSinkProcessor final : public SinkProcessor {
 public:
  explicit DefaultSinkProcessor(sdk::Sink* sink) { setSinks({sink}); }
  sdk::ProcessOutcome process() override { return processSink(0); }
};

// Flume's FailoverSinkProcessor: the live sink with the highest priority takes every batch; a
// sink that fails is parked for min(maxpenalty, 1000 * 2^failures) ms and then retried.
class FailoverSinkProcessor final : public SinkProcessor {
 public:
  FailoverSinkProcessor(std::vector<sdk::Sink*> sinks, std::map<sdk::Sink*, int> priority,
                        int64_t maxPenaltyMs, std::shared_ptr<spdlog::logger> log)
      : maxPenaltyMs_(maxPenaltyMs), log_(std::move(log)) {
    // Highest priority first; ties keep config order.
    std::stable_sort(sinks.begin(), sinks.end(),
                     [&](sdk::Sink* a, sdk::Sink* b) { return priority[a] > priority[b]; });
    setSinks(std::move(sinks));
    state_.resize(sinks_.size());
  }

  sdk::ProcessOutcome process() override {
    const auto now = this->now();
    sdk::ProcessOutcome last;
    last.status = sdk::Status::BACKOFF;
    bool tried = false;
    bool failedOver = false;
    for (std::size_t i = 0; i < sinks_.size(); ++i) {
      State& st = state_[i];
      if (st.failures > 0 && now < st.parkedUntil) continue;
      tried = true;
      sdk::ProcessOutcome out = processSink(i);
      if (!out.failed) {
        if (st.failures > 0) {
          log_->info("sink '{}' is back after {} failure(s)", sinks_[i]->getName(), st.failures);
          sinkRecovered(i);
        }
        st.failures = 0;
        if (failedOver) counters().increment(FailoverCount);
        return out;
      }
      ++st.failures;
      failedOver = true;
      int64_t penalty = std::min<int64_t>(maxPenaltyMs_, 1000LL << std::min(st.failures, 20));
      st.parkedUntil = now + std::chrono::milliseconds(penalty);
      sinkFailed(i, st.parkedUntil);
      log_->warn("sink '{}' failed ({}); parked for {} ms, trying the next sink",
                 sinks_[i]->getName(), out.error, penalty);
      last = out;
    }
    if (!tried) last.failed = true, last.error = "every sink in the group is parked after failures";
    return last;
  }

 private:
  struct State {
    int failures = 0;
    Clock::time_point parkedUntil{};
  };
  int64_t maxPenaltyMs_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<State> state_;
};

// Flume's RoundRobinSinkSelector: rotates over the sinks that are not backed off, so a parked
// sink's turns are shared evenly by the healthy ones.
class RoundRobinSinkSelector final : public sdk::SinkSelector {
 public:
  void order(std::vector<std::size_t>& candidates) override {
    if (candidates.empty()) return;
    const std::size_t head = next_++ % candidates.size();
    std::rotate(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(head),
                candidates.end());
  }

 private:
  std::size_t next_ = 0;
};

// Flume's RandomOrderSinkSelector.
class RandomSinkSelector final : public sdk::SinkSelector {
 public:
  void order(std::vector<std::size_t>& candidates) override {
    std::shuffle(candidates.begin(), candidates.end(), rng_);
  }

 private:
  std::mt19937 rng_{std::random_device{}()};
};

// Flume's LoadBalancingSinkProcessor: the selector orders the sinks for each batch and the first
// that delivers wins; with backoff, a failed sink is left out for an exponentially growing time
// capped at selector.maxTimeOut (Flume's OrderSelector), whichever selector is in use.
class LoadBalancingSinkProcessor final : public SinkProcessor {
 public:
  LoadBalancingSinkProcessor(std::vector<sdk::Sink*> sinks, PluginPtr<sdk::SinkSelector> selector,
                             bool backoff, int64_t maxTimeOutMs, std::shared_ptr<spdlog::logger> log)
      : selector_(std::move(selector)), backoff_(backoff), maxTimeOutMs_(maxTimeOutMs),
        log_(std::move(log)) {
    setSinks(std::move(sinks));
    state_.resize(sinks_.size());
    order_.reserve(sinks_.size());
  }

  sdk::ProcessOutcome process() override {
    const auto now = this->now();
    order_.clear();
    for (std::size_t i = 0; i < sinks_.size(); ++i)
      if (!(backoff_ && state_[i].failures > 0 && now < state_[i].until)) order_.push_back(i);
    if (sdk::Result r = sdk::HostAccess::order(*selector_, order_); !r) {
      log_->error("sink selector '{}' failed ({}); trying the sinks in config order",
                  selector_->getName(), r.error());
      order_.clear();
      for (std::size_t i = 0; i < sinks_.size(); ++i)
        if (!(backoff_ && state_[i].failures > 0 && now < state_[i].until)) order_.push_back(i);
    }
    sdk::ProcessOutcome last;
    last.status = sdk::Status::BACKOFF;
    bool tried = false;
    bool failedOver = false;
    for (std::size_t idx : order_) {
      if (idx >= sinks_.size()) continue;  // a selector's bad index: skip, never crash
      State& st = state_[idx];
      tried = true;
      sdk::ProcessOutcome out = processSink(idx);
      sdk::HostAccess::inform(*selector_, idx, !out.failed);
      if (!out.failed) {
        if (st.failures > 0) sinkRecovered(idx);
        st.failures = 0;
        if (failedOver) counters().increment(FailoverCount);
        return out;
      }
      ++st.failures;
      failedOver = true;
      if (backoff_) {
        int64_t t = std::min<int64_t>(maxTimeOutMs_, 1000LL << std::min(st.failures, 20));
        st.until = now + std::chrono::milliseconds(t);
      }
      sinkFailed(idx, backoff_ ? st.until : now);
      log_->warn("sink '{}' failed ({}); trying the next sink", sinks_[idx]->getName(), out.error);
      last = out;
    }
    if (!tried) last.failed = true, last.error = "every sink in the group is backed off";
    return last;
  }

 private:
  struct State {
    int failures = 0;
    Clock::time_point until{};
  };
  PluginPtr<sdk::SinkSelector> selector_;
  bool backoff_;
  int64_t maxTimeOutMs_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<State> state_;
  std::vector<std::size_t> order_;
};

}  // namespace

void SinkProcessor::setSinks(std::vector<sdk::Sink*> sinks) {
  sinks_ = std::move(sinks);
  stats_ = std::make_unique<SinkStats[]>(sinks_.size());
}

sdk::ProcessOutcome SinkProcessor::processSink(std::size_t i) {
  const auto began = Clock::now();
  sdk::ProcessOutcome out = sdk::HostAccess::process(*sinks_[i]);
  if (!out.failed) {
    if (out.status == sdk::Status::READY) stats_[i].latency.record((Clock::now() - began).count());
    if (active_.load(std::memory_order_relaxed) != static_cast<int>(i))
      active_.store(static_cast<int>(i), std::memory_order_relaxed);
  }
  return out;
}

void SinkProcessor::sinkFailed(std::size_t i, Clock::time_point until) {
  counters_.increment(SinkFailureCount);
  stats_[i].backoffUntilNs.store(until.time_since_epoch().count(), std::memory_order_relaxed);
}

void SinkProcessor::sinkRecovered(std::size_t i) {
  stats_[i].backoffUntilNs.store(0, std::memory_order_relaxed);
}

int64_t SinkProcessor::sinksInBackoff() const {
  const int64_t now = this->now().time_since_epoch().count();
  int64_t n = 0;
  for (std::size_t i = 0; i < sinks_.size(); ++i)
    if (stats_[i].backoffUntilNs.load(std::memory_order_relaxed) > now) ++n;
  return n;
}

const std::vector<HostSchema>& sinkProcessorSchemas() {
  static const std::vector<HostSchema> schemas = {
      {"sink-processor",
       "default",
       {"org.apache.flume.sink.DefaultSinkProcessor"},
       "Runs one sink alone, as every sink outside a sink group runs (Flume's "
       "DefaultSinkProcessor)",
       {}},
      {"sink-processor",
       "failover",
       {"org.apache.flume.sink.FailoverSinkProcessor"},
       "The live sink with the highest priority takes every batch; a sink that fails is parked "
       "for min(maxpenalty, 1000 * 2^failures) ms and then tried again (Flume's "
       "FailoverSinkProcessor)",
       {
           sdk::Key("priority.*")
               .integer()
               .doc("priority.<sink>: the higher goes first; sinks without one rank below, in "
                    "config "
                    "order"),
           sdk::Key("maxpenalty")
               .longValue()
               .def("30000")
               .atLeast(0)
               .doc("Longest time in milliseconds a failed sink is parked"),
       }},
      {"sink-processor",
       "load_balance",
       {"org.apache.flume.sink.LoadBalancingSinkProcessor"},
       "Spreads the batches over the sinks; the first in the selector's order that delivers wins "
       "(Flume's LoadBalancingSinkProcessor)",
       {
           sdk::Key("selector")
               .string()
               .def("round_robin")
               .doc("round_robin, random, or the type of a sink-selector plugin"),
           sdk::Key("backoff").boolean().def("false").doc(
               "Leave a failed sink out for a time that doubles with each failure"),
           sdk::Key("selector.maxTimeOut")
               .longValue()
               .def("30000")
               .atLeast(0)
               .doc("Longest time in milliseconds a failed sink is left out (with backoff)"),
           sdk::Key("selector.*")
               .string()
               .doc("selector.<key>: the keys of a sink-selector plugin, checked against its "
                    "schema"),
       }},
  };
  return schemas;
}

const HostSchema* findSinkProcessorSchema(std::string_view type) {
  const std::string t = lower(std::string(type));
  for (const HostSchema& h : sinkProcessorSchemas()) {
    if (lower(h.type) == t) return &h;
    for (const auto& a : h.aliases)
      if (lower(a) == t) return &h;
  }
  return nullptr;
}

std::unique_ptr<SinkProcessor> makeSinkProcessor(const std::string& typeIn,
                                                 const sdk::Context& given,
                                                 std::vector<sdk::Sink*> sinks,
                                                 const std::shared_ptr<spdlog::logger>& log,
                                                 Diagnostics& diags,
                                                 const SinkSelectorFactory& makeSelector) {
  const HostSchema* schema = findSinkProcessorSchema(typeIn);
  if (!schema) {
    diags.error(given.path() + ".type: unknown sink processor type '" + typeIn +
                "' (expected default, failover or load_balance)");
    return nullptr;
  }
  // The same check and defaults as a plugin's keys get, with hints and `sluice describe`.
  Diagnostics local;
  const sdk::Context ctx = checkAgainstSchema(schema->schema, schema->type, given, {"type"}, local);
  diags.append(local);
  if (local.hasErrors()) return nullptr;
  try {
    if (schema->type == "default") {
      if (sinks.size() != 1) {
        diags.error(ctx.path() + ": the default sink processor takes exactly one sink, got " +
                    std::to_string(sinks.size()) + " (use failover or load_balance)");
        return nullptr;
      }
      return std::make_unique<DefaultSinkProcessor>(sinks.front());
    }
    if (schema->type == "failover") {
      std::map<sdk::Sink*, int> prio;
      // As Flume: a sink without a priority gets -1, -2, ... in config order.
      int unset = 0;
      for (sdk::Sink* s : sinks)
        prio[s] = ctx.getInteger("priority." + s->getName()).value_or(--unset);
      for (const auto& [k, p] : ctx.parameters())
        if (k.rfind("priority.", 0) == 0) {
          std::string name = k.substr(9);
          bool found = std::any_of(sinks.begin(), sinks.end(), [&](sdk::Sink* s) { return s->getName() == name; });
          if (!found) diags.error(ctx.path() + "." + k + ": sink '" + name + "' is not in this group");
        }
      const int64_t maxPenalty = *ctx.getLong("maxpenalty");
      return std::make_unique<FailoverSinkProcessor>(std::move(sinks), std::move(prio), maxPenalty, log);
    }
    // load_balance
    const std::string selType = *ctx.getString("selector");
    const std::string sel = lower(selType);
    const bool backoff = *ctx.getBoolean("backoff");
    const int64_t maxTimeOut = *ctx.getLong("selector.maxTimeOut");
    PluginPtr<sdk::SinkSelector> selector(nullptr, {});
    if (sel == "round_robin" || sel == "random") {
      for (const auto& [k, p] : given.parameters())
        if (k.rfind("selector.", 0) == 0 && k != "selector.maxTimeOut")
          diags.error(ctx.path() + "." + k + ": unknown key for the " + sel +
                      " selector (it has only selector.maxTimeOut)" +
                      (p.where.str().empty() ? "" : " (" + p.where.str() + ")"));
      if (sel == "random")
        selector.reset(new RandomSinkSelector());
      else
        selector.reset(new RoundRobinSinkSelector());
      sdk::HostAccess::attach(*selector, sel, nullptr);
      sdk::HostAccess::setSinks(*selector, sinks);
    } else {
      if (!makeSelector) {
        ctx.fail("selector", "expected round_robin or random, got '" + selType + "'");
      }
      sdk::Context selCtx(ctx.path() + ".selector");
      for (const auto& [k, p] : given.parameters())
        if (k.rfind("selector.", 0) == 0 && k != "selector.maxTimeOut")
          selCtx.put(k.substr(9), p.value, p.where);
      selector = makeSelector(selType, selCtx, sinks, diags);
      if (!selector) return nullptr;
    }
    return std::make_unique<LoadBalancingSinkProcessor>(std::move(sinks), std::move(selector),
                                                        backoff, maxTimeOut, log);
  } catch (const sdk::ConfigError& e) {
    diags.error(e.what());
    return nullptr;
  }
}

}  // namespace sluice::core
