#include "file_channel.hpp"

#include <algorithm>
#include <span>
#include <string>
#include <utility>

#include "config_keys.hpp"

namespace sluice::plugins::filechannel {

// What a file channel transaction does with its events (channeltx::PooledTransaction does the
// rest). Used by one thread.
class FileTxOps {
 public:
  using Buffers = FileTxBuffers;
  FileTxOps(FileChannel& ch, std::size_t txCapacity) : ch_(ch), txCapacity_(txCapacity) {}

  sdk::ChannelCounter& counter() noexcept { return ch_.channelCounter(); }
  void begin(FileTxBuffers& b) noexcept { b.states.clear(); }
  sdk::Result admitPut(FileTxBuffers&, const sdk::EventBatch&) noexcept {
    return sdk::Result::success();
  }

  // Staged until commit, which writes it in the same log write as the puts.
  sdk::Result putSourceState(FileTxBuffers& b, std::string_view key,
                             std::string_view value) noexcept {
    try {
      for (SourceState& s : b.states)
        if (s.key == key) {
          s.value.assign(value);
          return sdk::Result::success();
        }
      b.states.push_back({std::string(key), std::string(value)});
    } catch (...) {
      return sdk::Result::failure("out of memory staging a source state");
    }
    return sdk::Result::success();
  }

  sdk::Result take(FileTxBuffers& b, std::size_t max, std::span<sdk::Event>& taken) noexcept {
    const std::size_t have = b.take.entries.size();
    const std::size_t room = txCapacity_ - std::min(have, txCapacity_);
    if (room == 0 || (max > room && ch_.store().size() > room))
      return sdk::Result::failure(channeltx::takeListFull(txCapacity_, max));
    sdk::Result r;
    try {
      r = ch_.store().take(b.take, std::min(max, room), taken);
    } catch (const std::exception& e) {
      r = sdk::Result::failure(e.what());
    }
    const std::size_t n = b.take.entries.size() - have;
    ch_.channelCounter().addToEventTakeAttemptCount(static_cast<int64_t>(n < max ? n + 1 : n));
    return r;
  }

  sdk::Result commit(FileTxBuffers& b) noexcept {
    const std::size_t nPuts = b.puts.size();
    const std::size_t nTakes = b.take.entries.size();
    try {
      if (nPuts > 0 || !b.states.empty()) {
        sdk::Result r = ch_.store().commitPuts(b.puts, b.encoded, b.index, nTakes, b.states);
        if (!r) return r;
        b.states.clear();
        if (nPuts > 0) ch_.channelCounter().addToEventPutSuccessCount(static_cast<int64_t>(nPuts));
      }
      if (nTakes > 0) {
        sdk::Result r = ch_.store().commitTakes(b.take);
        if (!r) return r;
        ch_.channelCounter().addToEventTakeSuccessCount(static_cast<int64_t>(nTakes));
      }
    } catch (const std::exception& e) {
      return sdk::Result::failure(e.what());
    }
    return sdk::Result::success();
  }

  void rollback(FileTxBuffers& b) noexcept {
    b.states.clear();  // discarded with the puts
    ch_.store().rollbackTakes(b.take);
  }

 private:
  FileChannel& ch_;
  const std::size_t txCapacity_;
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
  return std::make_unique<channeltx::PooledTransaction<FileTxOps>>(pool_, transactionCapacity_,
                                                                   *this, transactionCapacity_);
}

bool FileChannel::committedSourceState(std::string_view key, std::string& out) const noexcept {
  try {
    return store_->sourceState(key, out);
  } catch (...) {
    return false;  // out of memory copying it: as if there were none (the source falls back)
  }
}

sdk::Backlog FileChannel::backlog() const noexcept {
  // The store publishes its queue's length as ChannelSize under its lock at every change (put
  // commit, take, rollback, replay): the one lock-free view of it there is.
  return channelCounter().getChannelSize() > 0 ? sdk::Backlog::Events : sdk::Backlog::Empty;
}

}  // namespace sluice::plugins::filechannel
