#include "file_channel.hpp"

#include <algorithm>
#include <limits>
#include <span>
#include <string>
#include <utility>

#include "config_keys.hpp"

namespace sluice::plugins::filechannel {

namespace {

using channeltx::TxState;

}  // namespace

// One transaction, used by one thread.
class FileTransaction final : public sdk::Transaction {
 public:
  FileTransaction(FileChannel& ch, std::unique_ptr<FileTxBuffers> buf, std::size_t txCapacity)
      : ch_(ch), buf_(std::move(buf)), txCapacity_(txCapacity) {}
  ~FileTransaction() override {
    if (state_ == TxState::kOpen) rollback();
    ch_.pool_.release(std::move(buf_));
  }

  void begin() noexcept override {
    if (state_ == TxState::kOpen) return;
    buf_->puts.clear();
    state_ = TxState::kOpen;
  }

  sdk::Result putBatch(sdk::EventBatch& events) noexcept override {
    sdk::EventBatch& puts = buf_->puts;
    sdk::Result check =
        channeltx::checkPut(state_, puts, events, txCapacity_, ch_.channelCounter());
    if (!check || events.empty()) return check;
    return channeltx::stagePut(puts, events);
  }

  sdk::Result takeBatch(std::size_t max, std::span<sdk::Event>& taken) noexcept override {
    taken = {};
    if (state_ != TxState::kOpen) return channeltx::notOpen("takeBatch");
    if (max == 0) return sdk::Result::success();
    const std::size_t have = buf_->take.entries.size();
    const std::size_t room = txCapacity_ - std::min(have, txCapacity_);
    if (room == 0 || (max > room && ch_.store().size() > room))
      return sdk::Result::failure(channeltx::takeListFull(txCapacity_, max));
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
    if (state_ != TxState::kOpen) return channeltx::notOpen("commit");
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
    state_ = TxState::kDone;
    return sdk::Result::success();
  }

  void rollback() noexcept override {
    if (state_ != TxState::kOpen) return;
    buf_->puts.clear();
    ch_.store().rollbackTakes(buf_->take);
    state_ = TxState::kDone;
  }

  void close() noexcept override {
    if (state_ == TxState::kOpen) rollback();
    state_ = TxState::kClosed;
  }

 private:
  FileChannel& ch_;
  std::unique_ptr<FileTxBuffers> buf_;
  const std::size_t txCapacity_;
  TxState state_ = TxState::kNew;
};

FileChannel::FileChannel()
    : idx_(StoreCounters::addTo(channelCounter())),
      store_(std::make_unique<FileStore>(logger(), channelCounter(), idx_)) {}

FileChannel::~FileChannel() { store_->close(); }

void FileChannel::configure(const sdk::Context& context) {
  StoreOptions o = readStoreOptions(context, getName());
  const int64_t capacity = requireInteger(context, "capacity");
  const int64_t txCapacity = requireInteger(context, "transactionCapacity");
  if (txCapacity > capacity)
    context.fail("transactionCapacity", "transactionCapacity (" + std::to_string(txCapacity) +
                                            ") must be <= capacity (" + std::to_string(capacity) +
                                            ")");
  o.capacity = static_cast<uint64_t>(capacity);
  o.keepAliveMs = requireInteger(context, "keep-alive") * int64_t{1000};
  // Flume waits keep-alive per take; a short wait keeps sink runners responsive (as memory).
  o.maxTakeWaitMs = std::min<int64_t>(o.keepAliveMs, 100);
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
  return std::make_unique<FileTransaction>(*this, pool_.acquire(), transactionCapacity_);
}

}  // namespace sluice::plugins::filechannel
