#pragma once
// Counters with Flume's names (MonitoredCounterGroup, SourceCounter, ChannelCounter,
// SinkCounter), so dashboards built for Flume keep working. Each value is a relaxed atomic:
// components add per batch, never lock, and readers (metrics, tests) may read at any time.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/sdk/visibility.hpp"

namespace sluice::sdk {

class SLUICE_SDK_API CounterGroup {
 public:
  static constexpr std::size_t kMaxCounters = 48;

  // type: Flume's MonitoredCounterGroup.Type name: "SOURCE", "CHANNEL", "SINK", "INTERCEPTOR"...
  explicit CounterGroup(std::string type, std::initializer_list<const char*> names = {})
      : type_(std::move(type)) {
    for (const char* n : names) add(n);
  }
  CounterGroup(const CounterGroup&) = delete;
  CounterGroup& operator=(const CounterGroup&) = delete;

  // Adds a component-specific counter (call from the constructor or configure(), before start)
  // and returns its index. Adding an existing name returns the existing index.
  std::size_t add(std::string name) {
    for (std::size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == name) return i;
    if (names_.size() == kMaxCounters) throw std::length_error("too many counters in group");
    names_.push_back(std::move(name));
    return names_.size() - 1;
  }

  int64_t increment(std::size_t i) noexcept { return add(i, 1); }
  int64_t add(std::size_t i, int64_t delta) noexcept {
    return values_[i].fetch_add(delta, std::memory_order_relaxed) + delta;
  }
  void set(std::size_t i, int64_t value) noexcept { values_[i].store(value, std::memory_order_relaxed); }
  int64_t get(std::size_t i) const noexcept { return values_[i].load(std::memory_order_relaxed); }
  std::optional<int64_t> get(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == name) return get(i);
    return std::nullopt;
  }

  std::size_t size() const noexcept { return names_.size(); }
  const std::string& name(std::size_t i) const noexcept { return names_[i]; }
  const std::string& type() const noexcept { return type_; }

  // StartTime/StopTime in milliseconds since the epoch, as Flume reports them (0 = never).
  void markStarted() noexcept {
    startTime_.store(nowMillis(), std::memory_order_relaxed);
    stopTime_.store(0, std::memory_order_relaxed);
  }
  void markStopped() noexcept { stopTime_.store(nowMillis(), std::memory_order_relaxed); }
  int64_t getStartTime() const noexcept { return startTime_.load(std::memory_order_relaxed); }
  int64_t getStopTime() const noexcept { return stopTime_.load(std::memory_order_relaxed); }

 private:
  static int64_t nowMillis() noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  std::string type_;
  std::vector<std::string> names_;
  std::array<std::atomic<int64_t>, kMaxCounters> values_{};
  std::atomic<int64_t> startTime_{0};
  std::atomic<int64_t> stopTime_{0};
};

class SLUICE_SDK_API SourceCounter : public CounterGroup {
 public:
  enum : std::size_t {
    EventReceivedCount,
    EventAcceptedCount,
    AppendReceivedCount,
    AppendAcceptedCount,
    AppendBatchReceivedCount,
    AppendBatchAcceptedCount,
    OpenConnectionCount,
    EventReadFail,
    ChannelWriteFail,
    GenericProcessingFail,
  };
  SourceCounter()
      : CounterGroup("SOURCE", {"EventReceivedCount", "EventAcceptedCount", "AppendReceivedCount",
                                "AppendAcceptedCount", "AppendBatchReceivedCount",
                                "AppendBatchAcceptedCount", "OpenConnectionCount", "EventReadFail",
                                "ChannelWriteFail", "GenericProcessingFail"}) {}

  void addToEventReceivedCount(int64_t n) noexcept { add(EventReceivedCount, n); }
  void addToEventAcceptedCount(int64_t n) noexcept { add(EventAcceptedCount, n); }
  void incrementEventReceivedCount() noexcept { increment(EventReceivedCount); }
  void incrementEventAcceptedCount() noexcept { increment(EventAcceptedCount); }
  void incrementAppendReceivedCount() noexcept { increment(AppendReceivedCount); }
  void incrementAppendAcceptedCount() noexcept { increment(AppendAcceptedCount); }
  void incrementAppendBatchReceivedCount() noexcept { increment(AppendBatchReceivedCount); }
  void incrementAppendBatchAcceptedCount() noexcept { increment(AppendBatchAcceptedCount); }
  void setOpenConnectionCount(int64_t n) noexcept { set(OpenConnectionCount, n); }
  void incrementEventReadFail() noexcept { increment(EventReadFail); }
  void incrementChannelWriteFail() noexcept { increment(ChannelWriteFail); }
  void incrementGenericProcessingFail() noexcept { increment(GenericProcessingFail); }
  int64_t getEventReceivedCount() const noexcept { return get(EventReceivedCount); }
  int64_t getEventAcceptedCount() const noexcept { return get(EventAcceptedCount); }
};

class SLUICE_SDK_API ChannelCounter : public CounterGroup {
 public:
  enum : std::size_t {
    ChannelSize,
    ChannelCapacity,
    EventPutAttemptCount,
    EventPutSuccessCount,
    EventTakeAttemptCount,
    EventTakeSuccessCount,
  };
  ChannelCounter()
      : CounterGroup("CHANNEL", {"ChannelSize", "ChannelCapacity", "EventPutAttemptCount",
                                 "EventPutSuccessCount", "EventTakeAttemptCount",
                                 "EventTakeSuccessCount"}) {}

  void setChannelSize(int64_t n) noexcept { set(ChannelSize, n); }
  void setChannelCapacity(int64_t n) noexcept { set(ChannelCapacity, n); }
  void addToEventPutAttemptCount(int64_t n) noexcept { add(EventPutAttemptCount, n); }
  void addToEventPutSuccessCount(int64_t n) noexcept { add(EventPutSuccessCount, n); }
  void addToEventTakeAttemptCount(int64_t n) noexcept { add(EventTakeAttemptCount, n); }
  void addToEventTakeSuccessCount(int64_t n) noexcept { add(EventTakeSuccessCount, n); }
  int64_t getChannelSize() const noexcept { return get(ChannelSize); }
  int64_t getChannelCapacity() const noexcept { return get(ChannelCapacity); }
  // Flume computes this on read: size * 100 / capacity.
  double getChannelFillPercentage() const noexcept {
    int64_t cap = getChannelCapacity();
    return cap > 0 ? static_cast<double>(getChannelSize()) * 100.0 / static_cast<double>(cap) : 0.0;
  }
};

class SLUICE_SDK_API SinkCounter : public CounterGroup {
 public:
  enum : std::size_t {
    ConnectionCreatedCount,
    ConnectionClosedCount,
    ConnectionFailedCount,
    BatchEmptyCount,
    BatchUnderflowCount,
    BatchCompleteCount,
    EventDrainAttemptCount,
    EventDrainSuccessCount,
    EventWriteFail,
    ChannelReadFail,
  };
  SinkCounter()
      : CounterGroup("SINK", {"ConnectionCreatedCount", "ConnectionClosedCount",
                              "ConnectionFailedCount", "BatchEmptyCount", "BatchUnderflowCount",
                              "BatchCompleteCount", "EventDrainAttemptCount",
                              "EventDrainSuccessCount", "EventWriteFail", "ChannelReadFail"}) {}

  void incrementConnectionCreatedCount() noexcept { increment(ConnectionCreatedCount); }
  void incrementConnectionClosedCount() noexcept { increment(ConnectionClosedCount); }
  void incrementConnectionFailedCount() noexcept { increment(ConnectionFailedCount); }
  void incrementBatchEmptyCount() noexcept { increment(BatchEmptyCount); }
  void incrementBatchUnderflowCount() noexcept { increment(BatchUnderflowCount); }
  void incrementBatchCompleteCount() noexcept { increment(BatchCompleteCount); }
  void addToEventDrainAttemptCount(int64_t n) noexcept { add(EventDrainAttemptCount, n); }
  void addToEventDrainSuccessCount(int64_t n) noexcept { add(EventDrainSuccessCount, n); }
  void incrementEventWriteFail() noexcept { increment(EventWriteFail); }
  void incrementChannelReadFail() noexcept { increment(ChannelReadFail); }
  int64_t getEventDrainSuccessCount() const noexcept { return get(EventDrainSuccessCount); }

  // Flume's sinks classify each batch they take: empty, short (underflow) or full (complete).
  void countBatch(std::size_t taken, std::size_t batchSize) noexcept {
    if (taken == 0)
      incrementBatchEmptyCount();
    else if (taken < batchSize)
      incrementBatchUnderflowCount();
    else
      incrementBatchCompleteCount();
  }
};

}  // namespace sluice::sdk
