#include "file_channel.hpp"

#include <algorithm>
#include <iterator>
#include <limits>
#include <span>
#include <string>
#include <utility>

namespace sluice::plugins::filechannel {

namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

}  // namespace

// One transaction, used by one thread.
class FileTransaction final : public sdk::Transaction {
 public:
  FileTransaction(FileChannel& ch, std::unique_ptr<FileTxBuffers> buf, std::size_t txCapacity)
      : ch_(ch), buf_(std::move(buf)), txCapacity_(txCapacity) {}
  ~FileTransaction() override {
    if (state_ == State::kOpen) rollback();
    ch_.releaseBuffers(std::move(buf_));
  }

  void begin() noexcept override {
    if (state_ == State::kOpen) return;
    buf_->puts.clear();
    state_ = State::kOpen;
  }

  sdk::Result putBatch(sdk::EventBatch& events) noexcept override {
    if (state_ != State::kOpen) {
      events.clear();
      return sdk::Result::failure("putBatch() called outside an open transaction");
    }
    if (events.empty()) return sdk::Result::success();
    sdk::EventBatch& puts = buf_->puts;
    ch_.channelCounter().addToEventPutAttemptCount(static_cast<int64_t>(events.size()));
    if (puts.size() + events.size() > txCapacity_) {
      events.clear();
      return sdk::Result::failure(
          "Put queue for transaction of capacity " + std::to_string(txCapacity_) +
          " full, consider committing more frequently, increasing capacity or increasing thread "
          "count");
    }
    try {
      if (puts.empty() && puts.capacity() >= events.capacity() &&
          events.capacity() * 2 >= puts.capacity()) {
        puts.swap(events);
      } else {
        puts.insert(puts.end(), std::make_move_iterator(events.begin()),
                    std::make_move_iterator(events.end()));
        events.clear();
      }
    } catch (...) {
      events.clear();
      return sdk::Result::failure("out of memory staging a put");
    }
    return sdk::Result::success();
  }

  sdk::Result takeBatch(std::size_t max, std::span<sdk::Event>& taken) noexcept override {
    taken = {};
    if (state_ != State::kOpen)
      return sdk::Result::failure("takeBatch() called outside an open transaction");
    if (max == 0) return sdk::Result::success();
    const std::size_t have = buf_->take.entries.size();
    const std::size_t room = txCapacity_ - std::min(have, txCapacity_);
    if (room == 0 || (max > room && ch_.store().size() > room))
      return sdk::Result::failure(
          "Take list for transaction of capacity " + std::to_string(txCapacity_) +
          " full, consider committing more frequently, increasing capacity, or increasing "
          "thread count (a sink's batchSize must not exceed the channel's transactionCapacity)");
    sdk::Result r;
    try {
      r = ch_.store().take(buf_->take, std::min(max, room), taken);
    } catch (const std::exception& e) {
      r = sdk::Result::failure(e.what());
    }
    const std::size_t n = buf_->take.entries.size() - have;
    ch_.channelCounter().addToEventTakeAttemptCount(static_cast<int64_t>(n < max ? n + 1 : n));
    return r;
  }

  sdk::Result commit() noexcept override {
    if (state_ != State::kOpen)
      return sdk::Result::failure("commit() called outside an open transaction");
    FileTxBuffers& b = *buf_;
    const std::size_t nPuts = b.puts.size();
    const std::size_t nTakes = b.take.entries.size();
    try {
      if (nPuts > 0) {
        sdk::Result r = ch_.store().commitPuts(b.puts, b.encoded, b.index, nTakes);
        if (!r) return r;
        ch_.channelCounter().addToEventPutSuccessCount(static_cast<int64_t>(nPuts));
      }
      if (nTakes > 0) {
        sdk::Result r = ch_.store().commitTakes(b.take);
        if (!r) return r;
        ch_.channelCounter().addToEventTakeSuccessCount(static_cast<int64_t>(nTakes));
      }
    } catch (const std::exception& e) {
      return sdk::Result::failure(e.what());
    }
    state_ = State::kDone;
    return sdk::Result::success();
  }

  void rollback() noexcept override {
    if (state_ != State::kOpen) return;
    buf_->puts.clear();
    ch_.store().rollbackTakes(buf_->take);
    state_ = State::kDone;
  }

  void close() noexcept override {
    if (state_ == State::kOpen) rollback();
    state_ = State::kClosed;
  }

 private:
  enum class State { kNew, kOpen, kDone, kClosed };
  FileChannel& ch_;
  std::unique_ptr<FileTxBuffers> buf_;
  const std::size_t txCapacity_;
  State state_ = State::kNew;
};

FileChannel::FileChannel()
    : idx_(StoreCounters::addTo(channelCounter())),
      store_(std::make_unique<FileStore>(logger(), channelCounter(), idx_)) {}

FileChannel::~FileChannel() { store_->close(); }

void FileChannel::configure(const sdk::Context& context) {
  StoreOptions o = readStoreOptions(context, getName());
  const int64_t capacity = context.getLong("capacity", 1000000);
  const int64_t txCapacity = context.getLong("transactionCapacity", 10000);
  if (capacity < 1 || capacity > kMaxInt)
    context.fail("capacity", "must be between 1 and " + std::to_string(kMaxInt));
  if (txCapacity < 1 || txCapacity > kMaxInt)
    context.fail("transactionCapacity", "must be between 1 and " + std::to_string(kMaxInt));
  if (txCapacity > capacity)
    context.fail("transactionCapacity", "transactionCapacity (" + std::to_string(txCapacity) +
                                            ") must be <= capacity (" + std::to_string(capacity) +
                                            ")");
  o.capacity = static_cast<uint64_t>(capacity);
  if (store_->isOpen())
    logger().warn("file channel settings change at the next start; it keeps running as it is");
  options_ = std::move(o);
  transactionCapacity_ = static_cast<std::size_t>(txCapacity);
  channelCounter().setChannelCapacity(capacity);
}

void FileChannel::start() {
  if (store_->isOpen()) return;
  // The host attaches the logger after construction.
  store_->setLogger(logger());
  lastReplay_ = store_->open(options_);
  const ReplayReport& r = lastReplay_;
  logger().info("file channel open: ", r.liveEvents, " events from ", r.source,
                r.fallbackReason.empty() ? "" : " (" + r.fallbackReason + ")", ", ", r.recordsRead,
                " log records replayed in ", static_cast<int>(r.seconds * 1000),
                " ms; checkpointDir ", options_.checkpointDir);
}

void FileChannel::stop() { store_->close(); }

std::unique_ptr<sdk::Transaction> FileChannel::getTransaction() {
  return std::make_unique<FileTransaction>(*this, acquireBuffers(), transactionCapacity_);
}

std::unique_ptr<FileTxBuffers> FileChannel::acquireBuffers() {
  {
    std::lock_guard lock(poolMu_);
    if (!pool_.empty()) {
      auto b = std::move(pool_.back());
      pool_.pop_back();
      return b;
    }
  }
  return std::make_unique<FileTxBuffers>();
}

void FileChannel::releaseBuffers(std::unique_ptr<FileTxBuffers> b) noexcept {
  if (!b) return;
  b->puts.clear();
  b->take.events.clear();
  b->take.entries.clear();
  std::lock_guard lock(poolMu_);
  if (pool_.size() < kMaxPooledBuffers) {
    try {
      pool_.push_back(std::move(b));
    } catch (...) {
    }
  }
}

}  // namespace sluice::plugins::filechannel
