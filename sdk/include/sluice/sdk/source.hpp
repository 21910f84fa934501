#pragma once
// Sources take events in and hand them to their ChannelProcessor, as in Flume.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

  // Flume has no such calls; they give a source that reads from a position (a SQL offset)
  // exactly-once delivery into a durable channel across a kill -9: the position becomes durable
  // in the same commit as the events (see Transaction::putSourceState), so no window remains
  // between "events committed" and "position saved".
  //
  // Like processEventBatch(events), and in addition every channel of the source that keeps
  // source state (Channel::keepsSourceState) records `state` under the source's full path as key
  // (e.g. "a1.sources.r1"), in the same transaction as the events it gets from this batch. A
  // channel that gets no event of this batch (multiplexing, or interceptors that drop them all)
  // gets a transaction with the state alone, so every channel's state stays current. Channels
  // that keep none are put into exactly as by processEventBatch(events). The default (for
  // processors other than the host's, e.g. test doubles) records no state anywhere. Not an
  // overload of processEventBatch: an overload would be hidden in every processor that overrides
  // only the one-argument form (clang's -Woverloaded-virtual).
  virtual Result processEventBatchWithState(EventBatch& events, std::string_view state) noexcept {
    (void)state;
    return processEventBatch(events);
  }
  // The state recorded by the last committed processEventBatchWithState(events, state), as the
  // channels that keep source state hold it. nullopt when none keeps state, when none has a value
  // yet, or when they disagree (a crash between the commits of two channels, or one that never got
  // a value): the host cannot order opaque states, so it reports nothing (with a warning) and the
  // source falls back to its own saved position, which is behind or equal, so a batch may be
  // sent again but none is lost. Call it once when the source starts, not on the data path.
  virtual std::optional<std::string> committedState() noexcept { return std::nullopt; }
};

class PollableSource;

class SLUICE_SDK_API Source : public Component {
 public:
  // Set by the host before configure(); outlives the source.
  ChannelProcessor& getChannelProcessor() const noexcept { return *processor_; }
  // Lets the host pick a runner without RTTI across the boundary.
  virtual PollableSource* asPollable() noexcept { return nullptr; }

 private:
  friend struct HostAccess;
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
// it sleeps the back-off increment more each time, up to the maximum; READY resets the sleep.
// The host reads Flume's keys backoffSleepIncrement and maxBackoffSleep from the source's
// config; where they are not set it asks the getters below, whose defaults are Flume's
// (1000 ms, 5000 ms) and which a source may override, as in Flume's PollableSource. An
// exception from process() makes the runner sleep the maximum, as Flume's runner does.
class SLUICE_SDK_API PollableSource : public AbstractSource {
 public:
  static constexpr int64_t kDefaultBackOffSleepIncrement = 1000;
  static constexpr int64_t kDefaultMaxBackOffSleep = 5000;

  // Runs on the runner thread only. Must not block for long: stop() waits for it to return.
  virtual Status process() = 0;

  // Called by the runner thread after each BACKOFF, when the config does not set the key.
  virtual int64_t getBackOffSleepIncrement() const noexcept {
    return kDefaultBackOffSleepIncrement;
  }
  virtual int64_t getMaxBackOffSleepInterval() const noexcept { return kDefaultMaxBackOffSleep; }

  PollableSource* asPollable() noexcept final { return this; }

 protected:
  // The non-throwing way to report a failed delivery: `return deliveryFailed("disk full");`
  // after rolling back. Same effect as throwing EventDeliveryException.
  Status deliveryFailed(std::string why) { return delivery_.fail(logger(), std::move(why)); }

 private:
  friend struct HostAccess;
  detail::Delivery delivery_;
};

// A source that runs its own threads (listeners, watchers), started in start() and joined in
// stop().
class SLUICE_SDK_API EventDrivenSource : public AbstractSource {};

}  // namespace sluice::sdk
