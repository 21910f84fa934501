// test.fault_channel: a bounded in-memory channel that fails on demand where a real channel may
// fail, for the hot-reload fault tests (tests/runtime/test_reload.cpp), loaded through the real
// loader like any plugin:
//  - failStart: start() throws;
//  - throwOnTransaction: getTransaction() throws, every time (a channel whose backing store is
//    gone; the SDK allows getTransaction() to throw);
//  - throwWhileExists: getTransaction() throws while this file exists.
// Otherwise it is a plain FIFO: puts become visible on commit, takes are returned to the head
// on rollback, and taken-but-uncommitted events still count against capacity.

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>

#include "sluice/sdk/sdk.hpp"

namespace sluice::tests {

using namespace sluice::sdk;

class FaultChannel final : public Channel {
 public:
  void configure(const Context& ctx) override {
    capacity_ = static_cast<std::size_t>(ctx.getLong("capacity", 10000));
    transactionCapacity_ = static_cast<std::size_t>(ctx.getLong("transactionCapacity", 1000));
    if (transactionCapacity_ > capacity_)
      ctx.fail("transactionCapacity", "must be <= capacity (" + std::to_string(capacity_) + ")");
    failStart_ = ctx.getBoolean("failStart", false);
    throwOnTransaction_ = ctx.getBoolean("throwOnTransaction", false);
    throwWhileExists_ = ctx.getString("throwWhileExists", "");
    channelCounter().setChannelCapacity(static_cast<int64_t>(capacity_));
  }
  void start() override {
    if (failStart_) throw std::runtime_error("start() fails on purpose (failStart = true)");
  }
  std::unique_ptr<Transaction> getTransaction() override {
    struct stat st {};
    if (throwOnTransaction_ ||
        (!throwWhileExists_.empty() && ::stat(throwWhileExists_.c_str(), &st) == 0))
      throw std::runtime_error("getTransaction() fails on purpose");
    return std::make_unique<Tx>(*this);
  }
  Backlog backlog() const noexcept override {
    std::lock_guard lock(mu_);
    return queue_.empty() ? Backlog::Empty : Backlog::Events;
  }

 private:
  class Tx final : public Transaction {
   public:
    explicit Tx(FaultChannel& ch) : ch_(ch) {}
    void begin() noexcept override {}
    Result putBatch(EventBatch& events) noexcept override {
      ch_.channelCounter().addToEventPutAttemptCount(static_cast<int64_t>(events.size()));
      Result r = Result::success();
      if (puts_.size() + events.size() > ch_.transactionCapacity_) {
        r = Result::failure("put of more than transactionCapacity events");
      } else {
        try {
          for (auto& e : events) puts_.push_back(std::move(e));
        } catch (...) {
          r = Result::failure("out of memory");
        }
      }
      events.clear();
      return r;
    }
    Result takeBatch(std::size_t max, std::span<Event>& taken) noexcept override {
      taken = {};
      if (takes_.size() + max > ch_.transactionCapacity_)
        max = ch_.transactionCapacity_ - std::min(ch_.transactionCapacity_, takes_.size());
      std::lock_guard lock(ch_.mu_);
      const std::size_t n = std::min(max, ch_.queue_.size());
      ch_.channelCounter().addToEventTakeAttemptCount(static_cast<int64_t>(n));
      const std::size_t first = takes_.size();
      try {
        for (std::size_t i = 0; i < n; ++i) {
          takes_.push_back(std::move(ch_.queue_.front()));
          ch_.queue_.pop_front();
          ++ch_.reserved_;
        }
      } catch (...) {
        return Result::failure("out of memory");
      }
      ch_.publishSize();
      taken = std::span<Event>(takes_.data() + first, takes_.size() - first);
      return Result::success();
    }
    Result commit() noexcept override {
      std::lock_guard lock(ch_.mu_);
      if (ch_.queue_.size() + ch_.reserved_ + puts_.size() > ch_.capacity_)
        return Result::failure("channel full");
      try {
        for (auto& e : puts_) ch_.queue_.push_back(std::move(e));
      } catch (...) {
        return Result::failure("out of memory");
      }
      ch_.channelCounter().addToEventPutSuccessCount(static_cast<int64_t>(puts_.size()));
      ch_.channelCounter().addToEventTakeSuccessCount(static_cast<int64_t>(takes_.size()));
      ch_.reserved_ -= takes_.size();
      puts_.clear();
      takes_.clear();
      ch_.publishSize();
      return Result::success();
    }
    void rollback() noexcept override {
      std::lock_guard lock(ch_.mu_);
      // Back to the head, in order. A deque's push_front may allocate: an event that cannot go
      // back is dropped (and the test that sees the count short fails), never crashes.
      for (auto it = takes_.rbegin(); it != takes_.rend(); ++it) {
        try {
          ch_.queue_.push_front(std::move(*it));
        } catch (...) {
        }
      }
      ch_.reserved_ -= takes_.size();
      takes_.clear();
      puts_.clear();
      ch_.publishSize();
    }
    void close() noexcept override {}

   private:
    FaultChannel& ch_;
    EventBatch puts_, takes_;
  };

  void publishSize() noexcept {  // caller holds mu_
    channelCounter().setChannelSize(static_cast<int64_t>(queue_.size() + reserved_));
  }

  std::size_t capacity_ = 10000, transactionCapacity_ = 1000;
  bool failStart_ = false, throwOnTransaction_ = false;
  std::string throwWhileExists_;
  mutable std::mutex mu_;
  std::deque<Event> queue_;   // guarded by mu_
  std::size_t reserved_ = 0;  // taken, not yet committed or rolled back; guarded by mu_
};

const PluginManifest& manifest() {
  static const PluginManifest m{
      "sluice-test-fault",
      "0.0.1",
      {makeComponent<FaultChannel>(
          ComponentKind::Channel, "test.fault_channel", {},
          Schema{Key("capacity").longValue().def("10000").range(1, 100000000).doc("events held"),
                 Key("transactionCapacity")
                     .longValue()
                     .def("1000")
                     .range(1, 100000000)
                     .doc("events per transaction"),
                 Key("failStart").boolean().def("false").doc("start() throws"),
                 Key("throwOnTransaction").boolean().def("false").doc("getTransaction() throws"),
                 Key("throwWhileExists").doc("getTransaction() throws while this file exists")},
          "test channel that fails on demand", Stability::Experimental)}};
  return m;
}

}  // namespace sluice::tests

SLUICE_PLUGIN(sluice::tests::manifest)
