#include "memory_channel.hpp"

#include <algorithm>
#include <limits>
#include <new>
#include <span>
#include <string>
#include <utility>

#include "config_keys.hpp"

namespace sluice::plugins::memory {

namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

}  // namespace

const sdk::Schema& memoryChannelSchema() {
  static const sdk::Schema schema{
      sdk::Key("capacity")
          .integer()
          .def("100")
          .range(1, kMaxInt)
          .doc("The maximum number of events stored in the channel"),
      sdk::Key("transactionCapacity")
          .integer()
          .def("100")
          .range(1, kMaxInt)
          .doc("The maximum number of events the channel takes from a source or gives to a sink "
               "per transaction; must be <= capacity"),
      sdk::Key("keep-alive")
          .integer()
          .def("3")
          .range(0, kMaxInt)
          .doc("Seconds a put commit waits for free space before it fails"),
      sdk::Key("byteCapacityBufferPercentage")
          .integer()
          .def("20")
          .range(0, 99)
          .doc("Percent of byteCapacity kept free for headers, which are not counted"),
      sdk::Key("byteCapacity")
          .longValue()
          .def("0")
          .atLeast(0)
          .doc("Maximum total bytes of event bodies in the channel, counted in 100-byte slots; 0 "
               "means no limit (Flume defaults to 80% of the JVM heap)"),
  };
  return schema;
}

// What a memory transaction does with its events (channeltx::PooledTransaction does the rest).
// Used by one thread at a time; only the calls that touch the queue lock.
class MemoryTxOps {
 public:
  using Buffers = TxBuffers;
  explicit MemoryTxOps(MemoryChannel& channel, std::size_t transactionCapacity)
      : channel_(channel), transactionCapacity_(transactionCapacity) {}

  sdk::ChannelCounter& counter() noexcept { return channel_.channelCounter(); }

  void begin(TxBuffers& b) noexcept {
    b.takes.clear();
    putSlots_ = takeSlots_ = 0;
  }

  sdk::Result admitPut(TxBuffers&, const sdk::EventBatch& events) noexcept {
    const int64_t limit = channel_.byteSlotLimit_.load(std::memory_order_relaxed);
    if (limit <= 0) return sdk::Result::success();
    int64_t slots = 0;
    for (const sdk::Event& e : events) slots += byteSlotsOf(e);
    if (putSlots_ + slots > limit)
      return sdk::Result::failure("Cannot put " + std::to_string(events.size()) +
                                  " events: their bodies need more than the "
                                  "channel's whole byte capacity (" +
                                  std::to_string(limit * 100) +
                                  " bytes after the header buffer); increase byteCapacity");
    putSlots_ += slots;
    return sdk::Result::success();
  }

  sdk::Result take(TxBuffers& b, std::size_t max, std::span<sdk::Event>& taken) noexcept {
    sdk::EventBatch& takes = b.takes;
    const std::size_t start = takes.size();
    const std::size_t room = transactionCapacity_ - start;
    if (room == 0) return sdk::Result::failure(channeltx::takeListFull(transactionCapacity_, max));
    const std::size_t want = std::min(max, room);
    try {
      // Allocate outside the lock; a no-op once the pooled vector has grown.
      if (takes.capacity() < start + want)
        takes.reserve(std::max(start + want, 2 * takes.capacity()));
    } catch (...) {
      return sdk::Result::failure("out of memory in takeBatch");
    }

    MemoryChannel& ch = channel_;
    std::size_t n = 0;
    {
      std::unique_lock lock(ch.mu_);
      if (ch.count_ == 0 && !ch.stopping_) {
        const auto keepAlive = std::chrono::milliseconds(ch.keepAliveMs_.load());
        const auto wait =
            std::min<std::chrono::milliseconds>(keepAlive, MemoryChannel::kMaxTakeWait);
        if (wait.count() > 0) {
          ++ch.dataWaiters_;
          ch.dataCv_.wait_for(lock, wait, [&] { return ch.count_ > 0 || ch.stopping_; });
          --ch.dataWaiters_;
        }
      }
      // Flume fails the take that finds the take list full while events remain; so do we,
      // rather than silently returning a smaller batch than the sink asked for.
      if (max > room && ch.count_ > room)
        return sdk::Result::failure(channeltx::takeListFull(transactionCapacity_, max));
      n = std::min(want, ch.count_);
      const std::size_t size = ch.ring_.size();
      std::size_t idx = ch.head_;
      for (std::size_t i = 0; i < n; ++i) {
        takes.emplace_back(std::move(ch.ring_[idx]));  // capacity reserved: cannot throw
        if (++idx == size) idx = 0;
      }
      ch.head_ = idx;
      ch.count_ -= n;
      ch.reserved_ += n;
      ch.publishSize();
    }
    taken = std::span<sdk::Event>(takes.data() + start, n);
    // Estimated now, before the sink may change the events; released at commit.
    if (ch.byteSlotLimit_.load(std::memory_order_relaxed) > 0)
      for (const sdk::Event& e : taken) takeSlots_ += byteSlotsOf(e);
    ch.channelCounter().addToEventTakeAttemptCount(static_cast<int64_t>(n < max ? n + 1 : n));
    return sdk::Result::success();
  }

  sdk::Result commit(TxBuffers& b) noexcept {
    sdk::EventBatch& puts = b.puts;
    sdk::EventBatch& takes = b.takes;
    const std::size_t nPuts = puts.size();
    const std::size_t nTakes = takes.size();
    if (nPuts == 0 && nTakes == 0) return sdk::Result::success();
    MemoryChannel& ch = channel_;
    bool wakeTakers = false;
    bool wakePutters = false;
    {
      std::unique_lock lock(ch.mu_);
      if (nPuts > 0) {
        const int64_t limit = ch.byteSlotLimit_.load(std::memory_order_relaxed);
        // Room for the net change: our takes leave as our puts arrive.
        auto countFits = [&] { return ch.count_ + ch.reserved_ - nTakes + nPuts <= ch.capacity_; };
        auto bytesFit = [&] {
          return limit <= 0 || ch.byteSlotsUsed_ - takeSlots_ + putSlots_ <= limit;
        };
        if (!(countFits() && bytesFit()) && !ch.stopping_) {
          const auto deadline =
              std::chrono::steady_clock::now() + std::chrono::milliseconds(ch.keepAliveMs_.load());
          ++ch.spaceWaiters_;
          ch.spaceCv_.wait_until(lock, deadline,
                                 [&] { return (countFits() && bytesFit()) || ch.stopping_; });
          --ch.spaceWaiters_;
        }
        if (!bytesFit())
          return sdk::Result::failure(
              "Cannot commit transaction. Byte capacity allocated to store event body " +
              std::to_string(limit * 100) +
              " reached. Please increase heap space/byte capacity allocated to the channel as "
              "the sinks may not be keeping up with the sources");
        if (!countFits())
          return sdk::Result::failure(
              "Space for commit to queue couldn't be acquired. Sinks are likely not keeping up "
              "with sources, or the buffer size is too tight");
        try {
          ch.reserveSlots(ch.count_ + ch.reserved_ - nTakes + nPuts);
        } catch (...) {
          return sdk::Result::failure("out of memory growing the channel's queue");
        }
        const std::size_t size = ch.ring_.size();
        std::size_t tail = ch.head_ + ch.count_;
        if (tail >= size) tail -= size;
        // Two contiguous runs: up to the end of the ring, then from its start.
        const std::size_t first = std::min(nPuts, size - tail);
        std::move(puts.begin(), puts.begin() + static_cast<std::ptrdiff_t>(first),
                  ch.ring_.begin() + static_cast<std::ptrdiff_t>(tail));
        std::move(puts.begin() + static_cast<std::ptrdiff_t>(first), puts.end(), ch.ring_.begin());
        ch.count_ += nPuts;
        ch.byteSlotsUsed_ += putSlots_;
        wakeTakers = ch.dataWaiters_ > 0;
      }
      ch.reserved_ -= nTakes;
      ch.byteSlotsUsed_ -= takeSlots_;
      wakePutters = nTakes > 0 && ch.spaceWaiters_ > 0;
      ch.publishSize();
    }
    // Notify after unlocking so the woken thread does not block on the mutex we hold.
    if (wakeTakers) ch.dataCv_.notify_all();
    if (wakePutters) ch.spaceCv_.notify_all();

    puts.clear();   // moved-from shells; capacity kept
    takes.clear();  // the events leave for good, destroyed here, outside the lock
    putSlots_ = takeSlots_ = 0;
    if (nPuts > 0) ch.channelCounter().addToEventPutSuccessCount(static_cast<int64_t>(nPuts));
    if (nTakes > 0) ch.channelCounter().addToEventTakeSuccessCount(static_cast<int64_t>(nTakes));
    return sdk::Result::success();
  }

  void rollback(TxBuffers& b) noexcept {
    putSlots_ = 0;
    sdk::EventBatch& takes = b.takes;
    if (!takes.empty()) {
      MemoryChannel& ch = channel_;
      bool wakeTakers = false;
      {
        std::lock_guard lock(ch.mu_);
        // Back at the head, oldest first. The ring always has room: taken events keep their
        // slots reserved (ring_.size() >= count_ + reserved_).
        const std::size_t size = ch.ring_.size();
        for (std::size_t i = takes.size(); i-- > 0;) {
          ch.head_ = ch.head_ == 0 ? size - 1 : ch.head_ - 1;
          ch.ring_[ch.head_] = std::move(takes[i]);
        }
        ch.count_ += takes.size();
        ch.reserved_ -= takes.size();
        wakeTakers = ch.dataWaiters_ > 0;
        ch.publishSize();
      }
      if (wakeTakers) ch.dataCv_.notify_all();
      takes.clear();
      takeSlots_ = 0;  // still held: the events are back in the queue
    }
  }

 private:
  MemoryChannel& channel_;
  const std::size_t transactionCapacity_;
  int64_t putSlots_ = 0;   // byte estimate of the staged puts (when byteCapacity is set)
  int64_t takeSlots_ = 0;  // byte estimate of the taken events (when byteCapacity is set)
};

MemoryChannel::MemoryChannel() = default;
MemoryChannel::~MemoryChannel() = default;

void MemoryChannel::configure(const sdk::Context& context) {
  const int64_t capacity = requireInteger(context, "capacity");
  const int64_t transactionCapacity = requireInteger(context, "transactionCapacity");
  const int64_t keepAlive = requireInteger(context, "keep-alive");
  const int64_t bufferPercentage = requireInteger(context, "byteCapacityBufferPercentage");
  const int64_t byteCapacity = requireLong(context, "byteCapacity");
  if (transactionCapacity > capacity)
    context.fail("transactionCapacity",
                 "transactionCapacity (" + std::to_string(transactionCapacity) +
                     ") must be <= capacity (" + std::to_string(capacity) + ")");
  int64_t byteSlots = 0;
  if (byteCapacity > 0) {
    // Flume: byteCapacity * (1 - bufferPercentage%) / 100-byte slots.
    byteSlots = static_cast<int64_t>(static_cast<long double>(byteCapacity) *
                                     (100 - bufferPercentage) / 100.0L / 100.0L);
    if (byteSlots < 1)
      context.fail("byteCapacity",
                   "byteCapacity (" + std::to_string(byteCapacity) +
                       ") leaves less than one 100-byte slot after the " +
                       std::to_string(bufferPercentage) + "% header buffer; use at least " +
                       std::to_string((10000 + 99 - bufferPercentage) / (100 - bufferPercentage)) +
                       ", or 0 for no limit");
  }

  {
    std::lock_guard lock(mu_);
    const std::size_t used = count_ + reserved_;
    if (configured_ && static_cast<std::size_t>(capacity) < used) {
      logger().warn("Couldn't shrink capacity from ", capacity_, " to ", capacity, ": ", used,
                    " events are buffered; keeping ", capacity_);
    } else {
      capacity_ = static_cast<std::size_t>(capacity);
    }
    if (configured_ && byteSlots > 0 && byteSlots < byteSlotsUsed_) {
      logger().warn(
          "Couldn't shrink byteCapacity: buffered event bodies already use more; "
          "keeping the previous limit");
    } else {
      byteSlotLimit_.store(byteSlots, std::memory_order_relaxed);
    }
    transactionCapacity_.store(
        std::min<std::size_t>(static_cast<std::size_t>(transactionCapacity), capacity_),
        std::memory_order_relaxed);
    keepAliveMs_.store(keepAlive * 1000, std::memory_order_relaxed);
    configured_ = true;
    channelCounter().setChannelCapacity(static_cast<int64_t>(capacity_));
    publishSize();
  }
  // Room may have grown: let waiting commits re-check.
  spaceCv_.notify_all();
}

void MemoryChannel::start() {
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
    channelCounter().setChannelCapacity(static_cast<int64_t>(capacity_));
    publishSize();
  }
}

void MemoryChannel::stop() {
  // Buffered events stay: a restarted (hot-reloaded) channel delivers them.
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    publishSize();
  }
  dataCv_.notify_all();
  spaceCv_.notify_all();
}

std::unique_ptr<sdk::Transaction> MemoryChannel::getTransaction() {
  const std::size_t txCapacity = transactionCapacity_.load(std::memory_order_relaxed);
  return std::make_unique<channeltx::PooledTransaction<MemoryTxOps>>(pool_, txCapacity, *this,
                                                                     txCapacity);
}

sdk::Backlog MemoryChannel::backlog() const noexcept {
  return queued_.load(std::memory_order_relaxed) > 0 ? sdk::Backlog::Events : sdk::Backlog::Empty;
}

std::size_t MemoryChannel::size() const {
  std::lock_guard lock(mu_);
  return count_;
}

std::size_t MemoryChannel::slotCount() const {
  std::lock_guard lock(mu_);
  return ring_.size();
}

int64_t MemoryChannel::byteSlotsUsed() const {
  std::lock_guard lock(mu_);
  return byteSlotsUsed_;
}

int MemoryChannel::putWaiters() const {
  std::lock_guard lock(mu_);
  return spaceWaiters_;
}

int MemoryChannel::takeWaiters() const {
  std::lock_guard lock(mu_);
  return dataWaiters_;
}

void MemoryChannel::reserveSlots(std::size_t need) {
  const std::size_t size = ring_.size();
  if (need <= size) return;
  std::size_t newSize = std::max({need, size * 2, kInitialSlots});
  newSize = std::min(newSize, std::max(need, capacity_));
  std::vector<sdk::Event> bigger(newSize);
  std::size_t idx = head_;
  for (std::size_t i = 0; i < count_; ++i) {
    bigger[i] = std::move(ring_[idx]);
    if (++idx == size) idx = 0;
  }
  ring_.swap(bigger);
  head_ = 0;
}

void MemoryChannel::publishSize() noexcept {
  queued_.store(count_, std::memory_order_relaxed);
  channelCounter().setChannelSize(static_cast<int64_t>(count_));
}

}  // namespace sluice::plugins::memory
