#include "core/runtime/channel_processor.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "sluice/sdk/host_access.hpp"

namespace sluice::core {

ChannelProcessorImpl::ChannelProcessorImpl(
    std::string sourcePath, PluginPtr<sdk::ChannelSelector> selector,
    std::vector<std::unique_ptr<sdk::Interceptor>> interceptors, std::vector<Target> targets,
    std::shared_ptr<spdlog::logger> log)
    : sourcePath_(std::move(sourcePath)),
      selector_(std::move(selector)),
      interceptors_(std::move(interceptors)),
      targets_(std::move(targets)),
      log_(std::move(log)) {
  counters_.reserve(interceptors_.size());
  for (std::size_t i = 0; i < interceptors_.size(); ++i)
    counters_.push_back(std::make_unique<sdk::CounterGroup>(
        "INTERCEPTOR",
        std::initializer_list<const char*>{"EventReceivedCount", "EventAcceptedCount",
                                           "EventDroppedCount", "InterceptFailCount"}));
}

ChannelProcessorImpl::~ChannelProcessorImpl() = default;

sdk::Result ChannelProcessorImpl::initialize() {
  for (std::size_t i = 0; i < interceptors_.size(); ++i) {
    sdk::Result r = sdk::HostAccess::initialize(*interceptors_[i]);
    if (!r)
      return sdk::Result::failure(sourcePath_ + ": interceptor initialize() failed: " + r.error());
    counters_[i]->markStarted();
  }
  return sdk::Result::success();
}

void ChannelProcessorImpl::close() {
  for (std::size_t i = 0; i < interceptors_.size(); ++i) {
    sdk::HostAccess::close(*interceptors_[i]);
    counters_[i]->markStopped();
  }
}

ChannelWaker* ChannelProcessorImpl::wakerFor(sdk::Channel* channel) const noexcept {
  for (const auto& t : targets_)
    if (t.channel == channel) return t.waker;
  return nullptr;
}

sdk::Result ChannelProcessorImpl::putInto(sdk::Channel* channel, sdk::EventBatch& batch,
                                          const std::string_view* state) noexcept {
  std::unique_ptr<sdk::Transaction> tx;
  try {
    tx = channel->getTransaction();
  } catch (const std::exception& e) {
    batch.clear();
    return sdk::Result::failure(e.what());
  }
  const bool hadEvents = !batch.empty();
  tx->begin();
  sdk::Result r = tx->putBatch(batch);
  if (r && state && channel->keepsSourceState()) r = tx->putSourceState(sourcePath_, *state);
  if (r) r = tx->commit();
  if (!r) tx->rollback();
  tx->close();
  batch.clear();
  if (r && hadEvents)
    if (ChannelWaker* w = wakerFor(channel)) w->notify();
  return r;
}

void ChannelProcessorImpl::putStateElsewhere(const std::vector<sdk::Channel*>& done,
                                             std::string_view state) noexcept {
  sdk::EventBatch none;
  for (sdk::Channel* ch : selector_->getAllChannels()) {
    if (!ch->keepsSourceState() || std::find(done.begin(), done.end(), ch) != done.end()) continue;
    // Not fatal: the events of this batch are where they belong. This channel's state now lags
    // the others', so committedState() reports a disagreement after a crash and the source
    // falls back to its own saved position (a batch may come again, none is lost).
    if (sdk::Result r = putInto(ch, none, &state); !r)
      log_->warn("{}: channel '{}' did not take the source state: {}", sourcePath_, ch->getName(),
                 r.error());
  }
}

std::optional<std::string> ChannelProcessorImpl::committedState() noexcept {
  try {
    std::optional<std::string> agreed;
    std::vector<std::string> seen;  // "channel: value or none", for the warning
    bool differ = false;
    for (sdk::Channel* ch : selector_->getAllChannels()) {
      if (!ch->keepsSourceState()) continue;
      std::string v;
      const bool has = ch->committedSourceState(sourcePath_, v);
      seen.push_back("'" + ch->getName() + "': " + (has ? "'" + v + "'" : "none"));
      if (!has || (agreed && *agreed != v)) differ = true;
      if (has && !agreed) agreed = std::move(v);
    }
    if (!agreed) return std::nullopt;
    if (differ) {
      // Opaque states cannot be ordered here: the source falls back to its own saved position,
      // which is behind or equal to every channel's, so the worst case is a batch sent again.
      std::string list;
      for (const auto& s : seen) list += (list.empty() ? "" : ", ") + s;
      log_->warn(
          "{}: the channels hold different source states ({}); the source resumes from "
          "its own saved position, and may send its last batch again",
          sourcePath_, list);
      return std::nullopt;
    }
    return agreed;
  } catch (const std::exception& e) {
    log_->warn("{}: cannot read the channels' source state: {}", sourcePath_, e.what());
    return std::nullopt;
  }
}

sdk::Result ChannelProcessorImpl::processEvent(sdk::Event&& event) noexcept {
  sdk::EventBatch one;
  try {
    one.push_back(std::move(event));
  } catch (...) {
    return sdk::Result::failure("out of memory");
  }
  return processEventBatch(one);
}

sdk::Result ChannelProcessorImpl::processEventBatch(sdk::EventBatch& events) noexcept {
  return route(events, nullptr);
}

sdk::Result ChannelProcessorImpl::processEventBatchWithState(sdk::EventBatch& events,
                                                             std::string_view state) noexcept {
  return route(events, &state);
}

sdk::Result ChannelProcessorImpl::route(sdk::EventBatch& events,
                                        const std::string_view* state) noexcept {
  for (std::size_t i = 0; i < interceptors_.size(); ++i) {
    sdk::CounterGroup& c = *counters_[i];
    const auto in = static_cast<int64_t>(events.size());
    c.add(EventReceivedCount, in);
    sdk::Result r = sdk::HostAccess::intercept(*interceptors_[i], events);
    if (!r) {
      c.increment(InterceptFailCount);
      events.clear();
      return sdk::Result::failure(sourcePath_ + ": interceptor failed: " + r.error());
    }
    const auto out = static_cast<int64_t>(events.size());
    if (out > in) {
      // The SDK contract: the batch form changes or drops events, never adds any (a batch must
      // stay within the channels' transactionCapacity). Refused like a failed intercept.
      c.increment(InterceptFailCount);
      events.clear();
      return sdk::Result::failure(sourcePath_ + ": interceptor " + std::to_string(i + 1) +
                                  " of the chain returned " + std::to_string(out) +
                                  " events for a batch of " + std::to_string(in) +
                                  "; interceptors must not add events");
    }
    c.add(EventAcceptedCount, out);
    if (out < in) c.add(EventDroppedCount, in - out);
  }
  if (events.empty()) {
    // Interceptors dropped the whole batch: the source's input is consumed all the same, so
    // its state still goes to the channels, in transactions of its own.
    if (state) putStateElsewhere({}, *state);
    return sdk::Result::success();
  }

  try {
    // Fast path: every event goes to the same channels (replicating, or multiplexing on a
    // uniform batch). The selector returns references to its precomputed lists, so comparing
    // addresses is enough; the batch is moved into the last channel and cloned for the others.
    const auto& req0 = selector_->getRequiredChannels(events.front());
    const auto& opt0 = selector_->getOptionalChannels(events.front());
    bool uniform = true;
    for (std::size_t i = 1; i < events.size() && uniform; ++i)
      uniform = &selector_->getRequiredChannels(events[i]) == &req0 &&
                &selector_->getOptionalChannels(events[i]) == &opt0;

    if (uniform) {
      std::size_t total = req0.size() + opt0.size();
      if (total == 0) {
        events.clear();
        if (state) putStateElsewhere({}, *state);
        return sdk::Result::success();
      }
      std::size_t idx = 0;
      auto batchFor = [&](sdk::EventBatch& scratch) -> sdk::EventBatch& {
        if (++idx == total) return events;  // the last channel takes the originals
        scratch.clear();
        scratch.reserve(events.size());
        for (const auto& e : events) scratch.push_back(e.clone());
        return scratch;
      };
      sdk::EventBatch scratch;
      for (sdk::Channel* ch : req0) {
        sdk::Result r = putInto(ch, batchFor(scratch), state);
        if (!r) {
          events.clear();
          return sdk::Result::failure("channel '" + ch->getName() + "': " + r.error());
        }
      }
      for (sdk::Channel* ch : opt0) {
        sdk::Result r = putInto(ch, batchFor(scratch), state);
        if (!r)
          log_->warn("{}: optional channel '{}' did not take the batch: {}", sourcePath_,
                     ch->getName(), r.error());
      }
      events.clear();
      if (state) {
        std::vector<sdk::Channel*> done(req0.begin(), req0.end());
        done.insert(done.end(), opt0.begin(), opt0.end());
        putStateElsewhere(done, *state);
      }
      return sdk::Result::success();
    }

    // General path: group per channel. Required channels first, in the order the selector
    // knows them; any failure stops before the optional channels, as Flume does.
    const auto& all = selector_->getAllChannels();
    std::vector<sdk::EventBatch> req(all.size()), opt(all.size());
    for (auto& e : events) {
      const auto& r = selector_->getRequiredChannels(e);
      const auto& o = selector_->getOptionalChannels(e);
      std::size_t n = r.size() + o.size(), k = 0;
      auto place = [&](std::vector<sdk::EventBatch>& into, sdk::Channel* ch) {
        std::size_t pos =
            static_cast<std::size_t>(std::find(all.begin(), all.end(), ch) - all.begin());
        if (pos == all.size()) return;
        if (++k == n)
          into[pos].push_back(std::move(e));
        else
          into[pos].push_back(e.clone());
      };
      for (sdk::Channel* ch : r) place(req, ch);
      for (sdk::Channel* ch : o) place(opt, ch);
    }
    events.clear();
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (req[i].empty()) continue;
      sdk::Result r = putInto(all[i], req[i], state);
      if (!r) return sdk::Result::failure("channel '" + all[i]->getName() + "': " + r.error());
    }
    std::vector<sdk::Channel*> done;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (state && (!req[i].empty() || !opt[i].empty())) done.push_back(all[i]);
      if (opt[i].empty()) continue;
      sdk::Result r = putInto(all[i], opt[i], state);
      if (!r)
        log_->warn("{}: optional channel '{}' did not take the batch: {}", sourcePath_,
                   all[i]->getName(), r.error());
    }
    if (state) putStateElsewhere(done, *state);
    return sdk::Result::success();
  } catch (const std::exception& e) {
    events.clear();
    return sdk::Result::failure(std::string("cannot route batch: ") + e.what());
  }
}

}  // namespace sluice::core
