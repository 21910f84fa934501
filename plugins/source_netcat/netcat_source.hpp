#pragma once
// Flume's NetcatSource (type netcat): listens on a TCP port and turns every line a client sends
// into one event whose body is the line's bytes.
//
// A thin protocol layer over the network layer (plugins/common/net): the I/O threads, accepting,
// max-connections, idleTimeout, TLS, the IP filter, back-pressure and stopping are the layer's.
// What is netcat's own (README.md describes what users see):
//  - Lines are cut by the shared LineSplitter (netcat_lines.hpp) straight from the bytes the
//    layer hands over; events are built into a batch per I/O thread, reused, so the only
//    allocation per line is the body. Lines of one read go to the channels in batches of
//    batchSize, one processEventBatch per batch.
//  - The layer keeps only the unfinished last line between reads (at most max-line-length + 1
//    bytes; of an over-long line the splitter keeps the prefix and the rest is consumed as it
//    arrives).
//  - When the channels refuse a batch and acks are off, the refused lines are copied into the
//    session (the only copy, and only then), the rest of the read stays with the layer, and the
//    connection is held: the layer reads nothing more from it, so TCP back-pressure reaches the
//    client. The session retries the copy with exponential back-off until it is accepted or the
//    source stops.
//  - With ack-every-event, a refused batch is answered "FAILED: <reason>" per line instead and
//    reading goes on. A client that does not read its replies is no longer read from once
//    64 KiB of replies are pending.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "net/tcp_service.hpp"
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
  std::size_t threads = 1;                   // I/O threads
  std::shared_ptr<const net::TlsContext> tls;     // null: plain TCP
  std::shared_ptr<const net::IpFilter> ipFilter;  // null: everyone
};

class NetcatSource final : public sdk::EventDrivenSource {
 public:
  // The I/O threads are "sluice-netcat-<i>" (top -H shows them).
  static constexpr const char* kThreadName = "netcat";
  // Bytes read from a socket at once.
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
    kConnectionDeniedCount,  // the IP filter refused the client
    kTlsHandshakeFailCount,
  };

  NetcatSource();
  ~NetcatSource() override;

  // Control thread, before start (again after stop for a reload).
  void configure(const sdk::Context& context) override;
  // Starts the I/O threads and listens. Throws ("cannot bind to bind:port: reason") when the
  // address cannot be bound. A second start() while running does nothing.
  void start() override;
  // Closes the listener and every connection (a held connection's lines are dropped and counted
  // in PendingLineDroppedCount) and ends the threads. Safe to repeat.
  void stop() override;

  // The port the listener is bound to (the kernel's choice when port = 0); 0 when stopped.
  uint16_t boundPort() const noexcept { return service_.port(); }
  const NetcatSettings& settings() const noexcept { return settings_; }

 private:
  NetcatSettings settings_;
  bool configured_ = false;
  net::TcpService service_;
};

}  // namespace sluice::plugins::netcat
