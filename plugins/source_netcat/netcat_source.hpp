#pragma once
// Flume's NetcatSource (type netcat): listens on a TCP port and turns every line a client sends
// into one event whose body is the line's bytes.
//
// Design (README.md describes the behaviour users see):
//  - One I/O thread runs an epoll loop over the listener and every connection; all sockets are
//    non-blocking and level-triggered. Each wake-up reads at most one buffer (256 KiB) per ready
//    connection, so one fast client cannot starve the others.
//  - Lines are found with memchr in one read buffer owned by the thread. Events are built
//    directly into a reused EventBatch; the only allocation per line is the body string. Lines of
//    one read go to the channels in batches of batchSize, one processEventBatch per batch.
//  - A connection keeps only its unfinished last line between reads (at most max-line-length + 1
//    bytes; for an over-long line only the kept prefix, the rest is discarded as it arrives).
//  - When the channels refuse a batch and acks are off, the connection is *held*: the refused
//    lines are rebuilt from the read buffer (still intact, since processEventBatch consumed only
//    the events) into a per-connection copy, the rest of the buffer is kept, and the socket is
//    taken out of the epoll set. Nothing more is read from it, so TCP backpressure reaches the
//    client. The copy is retried with exponential back-off until it is accepted or the source
//    stops. The normal path copies nothing.
//  - With ack-every-event, a refused batch is answered "FAILED: <reason>" per line instead and
//    reading goes on; replies are buffered per connection and sent without blocking. A client
//    that does not read its replies is no longer read from once 64 KiB of replies are pending.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::plugins::netcat {

// The keys this source accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& netcatSourceSchema();

// Set by configure() from every key; the defaults live in netcatSourceSchema() only.
struct NetcatSettings {
  std::string bind;
  int port = 0;
  std::size_t maxLineLength = 0;
  bool ackEveryEvent = false;
  std::size_t batchSize = 0;
  std::size_t maxConnections = 0;
  std::chrono::milliseconds idleTimeout{0};  // 0 = never
};

class NetcatServer;

class NetcatSource final : public sdk::EventDrivenSource {
 public:
  // Name of the I/O thread (at most 15 characters).
  static constexpr const char* kThreadName = "sluice-netcat";
  // Bytes read from a socket at once (plus room for an unfinished line carried over).
  static constexpr std::size_t kReadBufferBytes = 256 * 1024;
  // Per connection: replies pending beyond this stop reading from that client until it drains.
  static constexpr std::size_t kMaxPendingReplyBytes = 64 * 1024;
  // Back-off between retries of a refused batch while a connection is held.
  static constexpr std::chrono::milliseconds kRetryMin{10};
  static constexpr std::chrono::milliseconds kRetryMax{1000};

  // Counters this source adds to its SourceCounter, after Flume's (the constructor checks the
  // indices).
  enum : std::size_t {
    kLineTruncatedCount = sdk::SourceCounter::GenericProcessingFail + 1,
    kPartialLineDroppedCount,
    kConnectionRejectedCount,
    kConnectionIdleClosedCount,
    kPendingLineDroppedCount,
  };

  NetcatSource();
  ~NetcatSource() override;

  // Control thread, before start (again after stop for a reload).
  void configure(const sdk::Context& context) override;
  // Binds and listens, then starts the I/O thread. Throws (bind:port and strerror) when the
  // address cannot be bound. A second start() while running does nothing.
  void start() override;
  // Closes the listener and every connection and joins the I/O thread. Safe to repeat.
  void stop() override;

  // The port the listener is bound to (the kernel's choice when port = 0); 0 when stopped.
  uint16_t boundPort() const noexcept { return boundPort_.load(std::memory_order_acquire); }
  const NetcatSettings& settings() const noexcept { return settings_; }

 private:
  NetcatSettings settings_;
  bool configured_ = false;
  std::unique_ptr<NetcatServer> server_;
  std::atomic<uint16_t> boundPort_{0};
};

}  // namespace sluice::plugins::netcat
