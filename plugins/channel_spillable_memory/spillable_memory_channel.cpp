#include "spillable_memory_channel.hpp"

#include <algorithm>
#include <limits>
#include <span>
#include <string>
#include <utility>

#include "config_keys.hpp"
#include "store_options.hpp"

namespace sluice::plugins::spillable {

namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

}  // namespace

const sdk::Schema& spillableChannelSchema() {
  static const sdk::Schema schema = [] {
    sdk::Schema s{
        sdk::Key("memoryCapacity")
            .integer()
            .def("10000")
            .range(0, kMaxInt)
            .doc("The maximum number of events held in memory; 0 sends every event to the "
                 "overflow"),
        sdk::Key("overflowCapacity")
            .integer()
            .def("100000000")
            .range(0, kMaxInt)
            .doc("The maximum number of events held in the overflow on disk; 0 disables it (a "
                 "pure memory channel)"),
        sdk::Key("overflowTimeout")
            .integer()
            .def("3")
            .range(0, kMaxInt)
            .doc("Seconds a put waits for memory before it spills to the overflow (or, with no "
                 "overflow, fails)"),
        sdk::Key("byteCapacityBufferPercentage")
            .integer()
            .def("20")
            .range(0, 99)
            .doc("Percent of byteCapacity kept free for headers, which are not counted"),
        sdk::Key("byteCapacity")
            .longValue()
            .def("0")
            .atLeast(0)
            .doc("Maximum bytes of event bodies held in memory, counted in avgEventSize slots; 0 "
                 "means no limit"),
        sdk::Key("avgEventSize")
            .integer()
            .def("500")
            .range(1, kMaxInt)
            .doc("Estimated average event size in bytes, the slot size of byteCapacity"),
        sdk::Key("transactionCapacity")
            .integer()
            .def("10000")
            .range(1, kMaxInt)
            .doc("The maximum number of events in one put or take transaction"),
    };
    // The file channel's keys configure the overflow, except those the spillable channel
    // replaces (Flume does the same).
    for (const sdk::Key& k : filechannel::fileChannelSchema().keys)
      if (k.name != "capacity" && k.name != "transactionCapacity" && k.name != "keep-alive")
        s.keys.push_back(k);
    s.keys.push_back(
        sdk::Key("capacity").flumeIgnored("replaced by memoryCapacity and overflowCapacity"));
    s.keys.push_back(sdk::Key("keep-alive").flumeIgnored("replaced by overflowTimeout"));
    s.keys.push_back(sdk::Key("overflowDeactivationThreshold")
                         .flumeIgnored("internal to Flume; sluice uses 5 percent"));
    return s;
  }();
  return schema;
}

// What a spillable transaction does with its events (channeltx::PooledTransaction does the
// rest). Used by one thread.
class SpillTxOps {
 public:
  using Buffers = SpillTxBuffers;
  SpillTxOps(SpillableMemoryChannel& ch, std::size_t txCapacity)
      : ch_(ch), txCapacity_(txCapacity) {}

  sdk::ChannelCounter& counter() noexcept { return ch_.channelCounter(); }

  void begin(SpillTxBuffers& b) noexcept {
    b.takes.clear();
    b.segments.clear();
    b.memTakeSlots = 0;
    taken_ = 0;
  }

  sdk::Result admitPut(SpillTxBuffers&, const sdk::EventBatch&) noexcept {
    return sdk::Result::success();
  }

  sdk::Result take(SpillTxBuffers& b, std::size_t max, std::span<sdk::Event>& taken) noexcept {
    const std::size_t room = txCapacity_ - std::min(taken_, txCapacity_);
    SpillableMemoryChannel& ch = ch_;
    const std::size_t want = std::min(max, room);
    const std::size_t start = b.takes.size();
    try {
      if (b.takes.capacity() < start + want)
        b.takes.reserve(std::max(start + want, 2 * b.takes.capacity()));
      b.segments.reserve(b.segments.size() + 4);
    } catch (...) {
      return sdk::Result::failure("out of memory in takeBatch");
    }
    sdk::Result result;
    std::size_t n = 0;
    {
      std::unique_lock lock(ch.mu_);
      if (ch.drainOrder_.empty() && !ch.stopping_) {
        ++ch.dataWaiters_;
        ch.dataCv_.wait_for(lock, SpillableMemoryChannel::kMaxTakeWait,
                            [&] { return !ch.drainOrder_.empty() || ch.stopping_; });
        --ch.dataWaiters_;
      }
      if (room == 0 || (max > room && ch.memCount_ + ch.overflowQueued_ > room))
        return sdk::Result::failure(channeltx::takeListFull(txCapacity_, max));
      while (n < want && !ch.drainOrder_.empty()) {
        int64_t& front = ch.drainOrder_.front();
        if (front > 0) {
          const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(front), want - n);
          const std::size_t first = b.takes.size();
          const std::size_t size = ch.ring_.size();
          for (std::size_t i = 0; i < k; ++i) {
            sdk::Event& e = ch.ring_[ch.head_];
            if (ch.byteSlotLimit_ > 0) b.memTakeSlots += ch.slotsOf(e);
            b.takes.emplace_back(std::move(e));  // reserved: cannot throw
            ch.head_ = (ch.head_ + 1) & (size - 1);
          }
          ch.memCount_ -= k;
          ch.memReserved_ += k;
          front -= static_cast<int64_t>(k);
          b.segments.push_back({true, k, first, k});
          n += k;
        } else {
          const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(-front), want - n);
          filechannel::FileStore::TakeState& ot = b.overflowTake;
          const std::size_t before = ot.entries.size();
          std::span<sdk::Event> got;
          result = ch.store_->take(ot, k, got);
          const std::size_t entries = ot.entries.size() - before;
          const std::size_t first = b.takes.size();
          for (sdk::Event& e : got) b.takes.emplace_back(std::move(e));
          ot.events.clear();
          if (entries > 0) {
            front += static_cast<int64_t>(entries);
            ch.overflowQueued_ -= entries;
            b.segments.push_back({false, entries, first, got.size()});
            n += entries;
          }
          if (!result || entries < k) break;  // error, or the overflow has less than counted
        }
        if (front == 0) ch.drainOrder_.pop_front();
      }
      ch.publishLocked();
    }
    taken_ += n;
    taken = std::span<sdk::Event>(b.takes.data() + start, b.takes.size() - start);
    ch.channelCounter().addToEventTakeAttemptCount(static_cast<int64_t>(n < max ? n + 1 : n));
    return result;
  }

  sdk::Result commit(SpillTxBuffers& b) noexcept {
    SpillableMemoryChannel& ch = ch_;
    const std::size_t nPuts = b.puts.size();
    std::size_t memTakes = 0;
    for (const auto& s : b.segments)
      if (s.memory) memTakes += s.count;
    try {
      if (nPuts > 0) {
        sdk::Result r = commitPuts(b, memTakes);
        if (!r) return r;
        ch.channelCounter().addToEventPutSuccessCount(static_cast<int64_t>(nPuts));
      }
      if (!b.overflowTake.entries.empty()) {
        sdk::Result r = ch.store_->commitTakes(b.overflowTake);
        if (!r) return r;
      }
    } catch (const std::exception& e) {
      return sdk::Result::failure(e.what());
    }
    bool wakePutters = false;
    {
      std::lock_guard lock(ch.mu_);
      ch.memReserved_ -= memTakes;
      ch.slotsUsed_ -= b.memTakeSlots;
      wakePutters = ch.spaceWaiters_ > 0 && memTakes > 0;
      ch.publishLocked();
    }
    if (wakePutters) ch.spaceCv_.notify_all();
    if (taken_ > 0) ch.channelCounter().addToEventTakeSuccessCount(static_cast<int64_t>(taken_));
    b.takes.clear();
    b.segments.clear();
    b.memTakeSlots = 0;
    taken_ = 0;
    return sdk::Result::success();
  }

  void rollback(SpillTxBuffers& b) noexcept {
    SpillableMemoryChannel& ch = ch_;
    if (!b.segments.empty()) {
      ch.store_->rollbackTakes(b.overflowTake);
      {
        std::lock_guard lock(ch.mu_);
        const std::size_t size = ch.ring_.size();
        for (std::size_t s = b.segments.size(); s-- > 0;) {
          const auto& seg = b.segments[s];
          if (seg.memory) {
            // Back at the head, in order; their ring slots are still reserved.
            for (std::size_t i = seg.events; i-- > 0;) {
              ch.head_ = (ch.head_ + size - 1) & (size - 1);
              ch.ring_[ch.head_] = std::move(b.takes[seg.first + i]);
            }
            ch.memCount_ += seg.count;
            ch.memReserved_ -= seg.count;
            ch.pushFrontSegment(static_cast<int64_t>(seg.count));
          } else {
            ch.overflowQueued_ += seg.count;
            ch.pushFrontSegment(-static_cast<int64_t>(seg.count));
          }
        }
        ch.publishLocked();
      }
      ch.dataCv_.notify_all();
    }
    b.takes.clear();
    b.segments.clear();
    b.memTakeSlots = 0;
    taken_ = 0;
  }

 private:
  sdk::Result commitPuts(SpillTxBuffers& b, std::size_t memTakes) {
    SpillableMemoryChannel& ch = ch_;
    const std::size_t n = b.puts.size();
    int64_t slots = 0;
    if (ch.byteSlotLimit_ > 0)
      for (const sdk::Event& e : b.puts) slots += ch.slotsOf(e);
    {
      std::unique_lock lock(ch.mu_);
      auto memFits = [&] {
        return ch.memCount_ + ch.memReserved_ - memTakes + n <= ch.memoryCapacity_ &&
               (ch.byteSlotLimit_ == 0 ||
                ch.slotsUsed_ - b.memTakeSlots + slots <= ch.byteSlotLimit_);
      };
      if (ch.overflowActive_) {
        // Stay on the overflow until memory has drained a little.
        const std::size_t used = ch.memCount_ + ch.memReserved_;
        const std::size_t threshold =
            ch.memoryCapacity_ * SpillableMemoryChannel::kOverflowDeactivationPercent / 100;
        if (ch.memoryCapacity_ >= used + std::max<std::size_t>(threshold, 1) && memFits())
          ch.overflowActive_ = false;
      }
      if (!ch.overflowActive_ && !memFits() && !ch.stopping_ && ch.memoryCapacity_ >= n) {
        ++ch.spaceWaiters_;
        ch.spaceCv_.wait_for(lock, std::chrono::milliseconds(ch.overflowTimeoutMs_),
                             [&] { return memFits() || ch.stopping_; });
        --ch.spaceWaiters_;
      }
      if (!ch.overflowActive_ && memFits()) {
        const std::size_t need = ch.memCount_ + ch.memReserved_ + n;
        if (ch.ring_.size() < need) {
          std::size_t cap = std::max<std::size_t>(ch.ring_.size(), 1024);
          while (cap < need) cap *= 2;
          std::vector<sdk::Event> bigger(cap);
          const std::size_t size = ch.ring_.size();
          for (std::size_t i = 0; i < ch.memCount_; ++i)
            bigger[i] = std::move(ch.ring_[(ch.head_ + i) & (size - 1)]);
          ch.ring_.swap(bigger);
          ch.head_ = 0;
        }
        const std::size_t size = ch.ring_.size();
        std::size_t tail = (ch.head_ + ch.memCount_) & (size - 1);
        for (sdk::Event& e : b.puts) {
          ch.ring_[tail] = std::move(e);
          tail = (tail + 1) & (size - 1);
        }
        ch.memCount_ += n;
        ch.slotsUsed_ += slots;
        ch.pushBackSegment(static_cast<int64_t>(n));
        ch.publishLocked();
        const bool wake = ch.dataWaiters_ > 0;
        lock.unlock();
        b.puts.clear();
        if (wake) ch.dataCv_.notify_all();
        return sdk::Result::success();
      }
      if (ch.overflowCapacity_ == 0 || !ch.store_->isOpen()) {
        b.puts.clear();
        return sdk::Result::failure(
            "Space for commit to queue couldn't be acquired. Sinks are likely not keeping up "
            "with sources, or the buffer size is too tight");
      }
    }
    // Spill. The overflow is one FIFO, so its runs in the drain order must be appended in the
    // order the events were written to it: spillMu_ makes "write, then append the run" one step
    // among spillers (otherwise a later batch's run could be counted against an earlier batch's
    // events, and a putter's next memory batch could overtake its spilled one). The sync, the
    // slow part, happens after, shared by concurrent spillers; takers see the events once it is
    // done.
    uint64_t endPos = 0;
    bool wake = false;
    {
      std::lock_guard spill(ch.spillMu_);
      sdk::Result r = ch.store_->appendPuts(b.puts, b.encoded, b.index, 0, endPos);
      if (!r) return sdk::Result::failure("overflow: " + r.error());
      std::lock_guard lock(ch.mu_);
      ch.overflowActive_ = true;
      ch.overflowQueued_ += n;
      ch.pushBackSegment(-static_cast<int64_t>(n));
      ch.publishLocked();
    }
    sdk::Result r = ch.store_->syncPuts(endPos);
    {
      std::lock_guard lock(ch.mu_);
      wake = ch.dataWaiters_ > 0;
    }
    if (wake) ch.dataCv_.notify_all();
    if (!r) return sdk::Result::failure("overflow: " + r.error());
    return sdk::Result::success();
  }

  SpillableMemoryChannel& ch_;
  const std::size_t txCapacity_;
  std::size_t taken_ = 0;
};

SpillableMemoryChannel::SpillableMemoryChannel()
    : overflowIdx_(filechannel::StoreCounters::addTo(overflowCounter_)),
      idx_(filechannel::StoreCounters::addTo(channelCounter())),
      store_(std::make_unique<filechannel::FileStore>(logger(), overflowCounter_, overflowIdx_)) {}

SpillableMemoryChannel::~SpillableMemoryChannel() { store_->close(); }

void SpillableMemoryChannel::configure(const sdk::Context& context) {
  const int64_t memoryCapacity = requireInteger(context, "memoryCapacity");
  const int64_t overflowCapacity = requireInteger(context, "overflowCapacity");
  const int64_t overflowTimeout = requireInteger(context, "overflowTimeout");
  const int64_t bufferPercentage = requireInteger(context, "byteCapacityBufferPercentage");
  const int64_t byteCapacity = requireLong(context, "byteCapacity");
  const int64_t avgEventSize = requireInteger(context, "avgEventSize");
  const int64_t txCapacity = requireInteger(context, "transactionCapacity");
  if (memoryCapacity == 0 && overflowCapacity == 0)
    context.fail("memoryCapacity",
                 "memoryCapacity and overflowCapacity are both 0: the channel "
                 "could hold nothing");
  if (overflowCapacity == 0 && txCapacity > memoryCapacity)
    context.fail("transactionCapacity", "transactionCapacity (" + std::to_string(txCapacity) +
                                            ") must be <= memoryCapacity (" +
                                            std::to_string(memoryCapacity) +
                                            ") when there is no overflow");
  int64_t slotLimit = 0;
  if (byteCapacity > 0) {
    slotLimit = static_cast<int64_t>(static_cast<long double>(byteCapacity) *
                                     (100 - bufferPercentage) / 100.0L / avgEventSize);
    if (slotLimit < 1)
      context.fail("byteCapacity", "byteCapacity (" + std::to_string(byteCapacity) +
                                       ") leaves less than one avgEventSize slot after the " +
                                       std::to_string(bufferPercentage) +
                                       "% header buffer; use more, or 0 for no limit");
  }
  filechannel::StoreOptions o;
  if (overflowCapacity > 0) o = filechannel::readStoreOptions(context, getName());
  o.capacity = static_cast<uint64_t>(overflowCapacity);
  o.keepAliveMs = overflowTimeout * 1000;
  o.maxTakeWaitMs = 0;
  std::lock_guard lock(mu_);
  memoryCapacity_ = static_cast<std::size_t>(memoryCapacity);
  overflowCapacity_ = static_cast<std::size_t>(overflowCapacity);
  overflowTimeoutMs_ = overflowTimeout * 1000;
  byteSlotLimit_ = slotLimit;
  avgEventSize_ = avgEventSize;
  transactionCapacity_ = static_cast<std::size_t>(txCapacity);
  storeOptions_ = std::move(o);
  publishLocked();
}

void SpillableMemoryChannel::start() {
  if (overflowCapacity_ > 0 && !store_->isOpen()) {
    store_->setLogger(logger());
    filechannel::ReplayReport r = store_->open(storeOptions_);
    logger().info("overflow open: ", r.liveEvents, " events from ", r.source, " in ",
                  static_cast<int>(r.seconds * 1000), " ms; checkpointDir ",
                  storeOptions_.checkpointDir);
  }
  std::lock_guard lock(mu_);
  stopping_ = false;
  // Events in the overflow that the drain order does not know (all of them after a restart)
  // are the oldest: they go first.
  const std::size_t stored = store_->isOpen() ? store_->size() : 0;
  if (stored > overflowQueued_) {
    pushFrontSegment(-static_cast<int64_t>(stored - overflowQueued_));
    overflowQueued_ = stored;
  }
  publishLocked();
}

void SpillableMemoryChannel::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  dataCv_.notify_all();
  spaceCv_.notify_all();
  // A spilling put waiting for overflow room holds spillMu_: end its wait before the spill.
  if (store_->isOpen()) store_->interruptWaits();
  spillMemoryAtStop();
  store_->close();
  std::lock_guard lock(mu_);
  // The reopened overflow rebuilds its count (start() re-adds what the drain order lacks).
  for (auto it = drainOrder_.begin(); it != drainOrder_.end();)
    it = *it < 0 ? drainOrder_.erase(it) : it + 1;
  overflowQueued_ = 0;
  publishLocked();
}

void SpillableMemoryChannel::spillMemoryAtStop() noexcept {
  if (!store_->isOpen()) return;
  std::lock_guard spill(spillMu_);
  std::lock_guard lock(mu_);
  if (memReserved_ > 0)
    logger().warn(memReserved_,
                  " event(s) taken from memory by a transaction still open at stop "
                  "cannot be kept: if it rolls back they stay in memory only");
  if (memCount_ == 0) return;
  const std::size_t n = memCount_;
  sdk::EventBatch events;
  std::vector<int64_t> order;
  int64_t slots = 0;
  try {
    events.reserve(n);
    order.assign(drainOrder_.begin(), drainOrder_.end());
  } catch (...) {
    logger().error("out of memory at stop: ", n, " event(s) in memory are not kept");
    return;
  }
  const std::size_t size = ring_.size();
  for (std::size_t i = 0; i < n; ++i) {
    sdk::Event& e = ring_[(head_ + i) & (size - 1)];
    if (byteSlotLimit_ > 0) slots += slotsOf(e);
    events.emplace_back(std::move(e));  // reserved: cannot throw
  }
  std::string scratch;
  std::vector<filechannel::IndexEntry> index;
  sdk::Result r;
  try {
    r = store_->spliceCommitPuts(events, order, scratch, index);
  } catch (const std::exception& e) {
    r = sdk::Result::failure(e.what());
  }
  if (!r && !events.empty()) {
    // Nothing was written: they stay in memory, for a start() of this same channel.
    for (std::size_t i = 0; i < n; ++i) ring_[(head_ + i) & (size - 1)] = std::move(events[i]);
    logger().error("cannot keep the ", n, " event(s) in memory in the overflow at stop (",
                   r.error(), "); they are lost if the process exits");
    return;
  }
  if (!r) logger().error("keeping the events in memory at stop: ", r.error());
  // The overflow holds them now, in the drain order; start() counts them with the rest.
  memCount_ = 0;
  head_ = 0;
  slotsUsed_ -= slots;
  for (auto it = drainOrder_.begin(); it != drainOrder_.end();)
    it = *it > 0 ? drainOrder_.erase(it) : it + 1;
  logger().info("stop: ", n, " event(s) in memory written to the overflow, in order");
}

std::unique_ptr<sdk::Transaction> SpillableMemoryChannel::getTransaction() {
  return std::make_unique<channeltx::PooledTransaction<SpillTxOps>>(pool_, transactionCapacity_,
                                                                    *this, transactionCapacity_);
}

sdk::Backlog SpillableMemoryChannel::backlog() const noexcept {
  return queued_.load(std::memory_order_relaxed) > 0 ? sdk::Backlog::Events : sdk::Backlog::Empty;
}

void SpillableMemoryChannel::pushBackSegment(int64_t n) {
  if (!drainOrder_.empty() && (drainOrder_.back() > 0) == (n > 0))
    drainOrder_.back() += n;
  else
    drainOrder_.push_back(n);
}

void SpillableMemoryChannel::pushFrontSegment(int64_t n) {
  if (!drainOrder_.empty() && (drainOrder_.front() > 0) == (n > 0))
    drainOrder_.front() += n;
  else
    drainOrder_.push_front(n);
}

int64_t SpillableMemoryChannel::slotsOf(const sdk::Event& e) const noexcept {
  const int64_t n = e.body.empty() ? 1 : static_cast<int64_t>(e.body.size());
  return (n + avgEventSize_ - 1) / avgEventSize_;
}

void SpillableMemoryChannel::publishLocked() noexcept {
  sdk::ChannelCounter& c = channelCounter();
  queued_.store(memCount_ + overflowQueued_, std::memory_order_relaxed);
  c.setChannelSize(static_cast<int64_t>(memCount_ + overflowQueued_));
  c.setChannelCapacity(static_cast<int64_t>(memoryCapacity_ + overflowCapacity_));
  c.set(idx_.putError, overflowCounter_.get(overflowIdx_.putError));
  c.set(idx_.takeError, overflowCounter_.get(overflowIdx_.takeError));
  c.set(idx_.checkpointWriteError, overflowCounter_.get(overflowIdx_.checkpointWriteError));
  c.set(idx_.checkpointBackupWriteError,
        overflowCounter_.get(overflowIdx_.checkpointBackupWriteError));
  c.set(idx_.open, overflowCounter_.get(overflowIdx_.open));
  c.set(idx_.closed, overflowCounter_.get(overflowIdx_.closed));
  c.set(idx_.unhealthy, overflowCounter_.get(overflowIdx_.unhealthy));
}

std::size_t SpillableMemoryChannel::memorySize() const {
  std::lock_guard lock(mu_);
  return memCount_;
}

std::size_t SpillableMemoryChannel::overflowSize() const {
  std::lock_guard lock(mu_);
  return overflowQueued_;
}

std::size_t SpillableMemoryChannel::drainOrderSegments() const {
  std::lock_guard lock(mu_);
  return drainOrder_.size();
}

int SpillableMemoryChannel::putWaiters() const {
  std::lock_guard lock(mu_);
  return spaceWaiters_;
}

}  // namespace sluice::plugins::spillable
