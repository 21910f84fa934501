#pragma once
// Flume's MemoryChannel: a bounded in-memory queue with put and take transactions.
//
// Design (see README.md for the user-facing behaviour):
//  - One mutex guards the queue. A put transaction stages its events without locking and takes
//    the mutex once at commit; a take transaction takes it once per takeBatch() and once at
//    commit or rollback. Nothing locks per event.
//  - The queue is a ring of Event slots that grows by doubling up to `capacity`, so a channel
//    configured for a million events costs memory only when it actually fills.
//  - Capacity is reserved the way Flume's semaphores do it: events taken but not yet committed
//    still count against `capacity` (and byteCapacity), so a rollback always has room to put them
//    back at the head of the queue.
//  - Events are moved, never copied: into the transaction on put, into the ring on commit, into
//    the transaction on take (the sink sees them through a span), and back on rollback.
//  - Each transaction borrows a TxBuffers from a small pool in the channel, so the staging
//    vectors keep their capacity from one transaction to the next.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "channel_transaction.hpp"
#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::memory {

// The keys this channel accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& memoryChannelSchema();

// Flume's estimate of an event's size for byteCapacity: body bytes (at least 1), counted in
// slots of 100 bytes, rounded up.
inline int64_t byteSlotsOf(const sdk::Event& e) noexcept {
  constexpr int64_t kSlotBytes = 100;
  const int64_t n = e.body.empty() ? 1 : static_cast<int64_t>(e.body.size());
  return (n + kSlotBytes - 1) / kSlotBytes;
}

// Staging storage of one transaction, pooled by the channel.
struct TxBuffers {
  // Events put in this transaction, not yet visible to takers.
  sdk::EventBatch puts;
  // Events taken in this transaction. The transaction owns them until commit (which destroys
  // them) or rollback (which moves them back to the head of the queue); takeBatch() hands the
  // sink a view of them, so nothing is copied.
  sdk::EventBatch takes;
  void reset() noexcept {
    puts.clear();
    takes.clear();
  }
};

class MemoryChannel final : public sdk::Channel {
 public:
  // Takes on an empty channel wait this long at most for a put to commit (Flume waits the whole
  // keep-alive). Long enough that a sink never spins on an empty channel, short enough that a
  // sink runner stops promptly.
  static constexpr std::chrono::milliseconds kMaxTakeWait{100};
  // Ring slots allocated on the first put, before doubling.
  static constexpr std::size_t kInitialSlots = 1024;
  MemoryChannel();
  ~MemoryChannel() override;

  // May be called again on a running channel (hot reload): capacities change in place and the
  // buffered events stay. Shrinking below what is buffered is refused with a warning, as Flume.
  void configure(const sdk::Context& context) override;
  void start() override;
  void stop() override;
  std::unique_ptr<sdk::Transaction> getTransaction() override;
  sdk::Backlog backlog() const noexcept override;

  // Introspection for tests and diagnostics.
  std::size_t size() const;       // committed events in the queue
  std::size_t slotCount() const;  // ring slots allocated
  int64_t byteSlotsUsed() const;  // 100-byte slots held by queued and taken-uncommitted events
  // Put commits waiting for room, takes waiting for events: tests wait on these instead of
  // sleeping until a call has started to wait.
  int putWaiters() const;
  int takeWaiters() const;

 private:
  friend class MemoryTxOps;

  // Makes the ring hold at least `need` slots (need <= capacity_). Caller holds mu_.
  void reserveSlots(std::size_t need);
  void publishSize() noexcept;  // caller holds mu_

  mutable std::mutex mu_;
  std::condition_variable spaceCv_;  // put commits waiting for room
  std::condition_variable dataCv_;   // takes waiting for events
  std::vector<sdk::Event> ring_;     // guarded by mu_
  std::size_t head_ = 0;             // index of the oldest event
  std::size_t count_ = 0;            // committed events in the ring
  std::atomic<std::size_t> queued_{0};  // count_, for backlog() without the lock
  std::size_t reserved_ = 0;         // taken, not yet committed or rolled back
  int64_t byteSlotsUsed_ = 0;        // queued + reserved events, in 100-byte slots
  int spaceWaiters_ = 0;
  int dataWaiters_ = 0;
  bool stopping_ = false;  // set by stop(): waits end at once until start()
  bool configured_ = false;

  // Settings. capacity_ is guarded by mu_; the atomics are also read outside it (by putBatch
  // and getTransaction) and may change under a running channel on reconfiguration.
  std::size_t capacity_ = 100;
  std::atomic<int64_t> byteSlotLimit_{0};  // 0 = unlimited
  std::atomic<std::size_t> transactionCapacity_{100};
  std::atomic<int64_t> keepAliveMs_{3000};

  channeltx::BufferPool<TxBuffers> pool_;  // spare TxBuffers kept for reuse
};

}  // namespace sluice::plugins::memory
