#pragma once
// Flume's SpillableMemoryChannel: an in-memory queue that spills to a file-channel store when
// memory is full. Events leave in the order they arrived, whichever side holds them: a drain-
// order queue of segments ("n events from memory", "m events from the overflow") says where the
// head of the channel is, as in Flume's DrainOrderQueue.
//
// Threads: any number of transactions at once. mu_ guards the memory queue, the drain order and
// the accounting; the overflow store has its own locks (taken after mu_, never before). A put
// commit that spills writes to the overflow and appends its segment under spillMu_ (so overflow
// runs are in the overflow's own order), then syncs outside both locks.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "channel_transaction.hpp"
#include "file_store.hpp"
#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::spillable {

const sdk::Schema& spillableChannelSchema();

// One transaction's staging storage, pooled by the channel.
struct SpillTxBuffers {
  sdk::EventBatch puts;
  sdk::EventBatch takes;  // everything taken, memory and overflow alike, in take order
  struct Segment {
    bool memory;
    std::size_t count;   // events taken from that side (for the overflow: index entries)
    std::size_t first;   // index in takes of its first event
    std::size_t events;  // events in takes (overflow: fewer if a record was corrupt)
  };
  std::vector<Segment> segments;
  std::string encoded;
  std::vector<filechannel::IndexEntry> index;
  filechannel::FileStore::TakeState overflowTake;
  int64_t memTakeSlots = 0;
  void reset() noexcept {
    puts.clear();
    takes.clear();
    segments.clear();
  }
};

class SpillableMemoryChannel final : public sdk::Channel {
 public:
  static constexpr std::chrono::milliseconds kMaxTakeWait{100};
  // Once spilling, puts keep going to the overflow until this percentage of memoryCapacity is
  // free again (Flume's overflowDeactivationThreshold), so a full channel does not flip sides
  // on every transaction.
  static constexpr int kOverflowDeactivationPercent = 5;

  SpillableMemoryChannel();
  ~SpillableMemoryChannel() override;

  void configure(const sdk::Context& context) override;
  void start() override;
  void stop() override;
  std::unique_ptr<sdk::Transaction> getTransaction() override;
  sdk::Backlog backlog() const noexcept override;

  // Introspection for tests.
  std::size_t memorySize() const;
  std::size_t overflowSize() const;
  std::size_t drainOrderSegments() const;
  int putWaiters() const;  // put commits waiting for memory (overflowTimeout)
  filechannel::FileStore& overflowStore() noexcept { return *store_; }

 private:
  friend class SpillTxOps;
  // Signed segment counts: > 0 memory, < 0 overflow.
  void pushBackSegment(int64_t n);
  void pushFrontSegment(int64_t n);
  int64_t slotsOf(const sdk::Event& e) const noexcept;
  void publishLocked() noexcept;
  // stop(): moves the events in memory into the overflow at their places in the drain order,
  // so a graceful stop (or a reload that stops this channel before its replacement opens the
  // same directories) loses nothing. Takes spillMu_ and mu_.
  void spillMemoryAtStop() noexcept;

  // Settings.
  std::size_t memoryCapacity_ = 10000;
  std::size_t overflowCapacity_ = 100000000;
  int64_t overflowTimeoutMs_ = 3000;
  int64_t byteSlotLimit_ = 0;  // 0 = no byte limit
  int64_t avgEventSize_ = 500;
  std::size_t transactionCapacity_ = 10000;
  filechannel::StoreOptions storeOptions_;

  // Held by a put commit from its write to the overflow until its run is in the drain order
  // (see commitPuts), and by stop()'s spill. Taken before mu_.
  std::mutex spillMu_;
  mutable std::mutex mu_;
  std::condition_variable dataCv_;
  std::condition_variable spaceCv_;
  std::vector<sdk::Event> ring_;  // memory queue, a ring of power-of-two size
  std::size_t head_ = 0, memCount_ = 0, memReserved_ = 0;
  int64_t slotsUsed_ = 0;
  std::deque<int64_t> drainOrder_;
  std::size_t overflowQueued_ = 0;  // overflow events in drainOrder_
  std::atomic<std::size_t> queued_{0};  // memCount_ + overflowQueued_, for backlog()
  bool overflowActive_ = false;
  bool stopping_ = false;
  int dataWaiters_ = 0, spaceWaiters_ = 0;

  sdk::ChannelCounter overflowCounter_;  // the store's own counters, mirrored into ours
  filechannel::StoreCounters overflowIdx_;
  filechannel::StoreCounters idx_;
  std::unique_ptr<filechannel::FileStore> store_;

  channeltx::BufferPool<SpillTxBuffers> pool_;
};

}  // namespace sluice::plugins::spillable
