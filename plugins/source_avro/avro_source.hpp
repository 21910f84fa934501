#pragma once
// Flume's AvroSource (type avro): listens for Flume's Avro RPC (AvroSourceProtocol over Avro
// IPC with Netty framing, see plugins/common/avro_rpc.hpp) from Flume's AvroSink, sluice's avro
// sink, or any Avro client of that protocol, and hands the events of every append and
// appendBatch to the channels. A request is answered OK only after the channels committed its
// events, FAILED when they refused them.
//
// Design (README.md describes the behaviour users see):
//  - `threads` I/O threads, each running an epoll loop over its own connections; the first also
//    accepts and deals new connections out round robin (a per-connection hand-off under a mutex,
//    never per event). Sockets are non-blocking and level-triggered, and each wake-up reads at
//    most one buffer (64 KiB) per ready connection, so a fast client cannot starve the others
//    and a slow one holds only its own partial frame.
//  - Frames are reassembled incrementally into one payload buffer per connection, bounded by
//    max-frame-size; every count and length from the wire is checked before anything is sized
//    by it. A request decodes straight into the thread's reused EventBatch (the only
//    allocations are the events' own strings), which goes to the channels in one
//    processEventBatch; the response is a few bytes appended to the connection's output.
//  - A malformed frame closes its connection, is counted (EventReadFail) and logged at most once
//    per second per thread with the number held back. A request that is well-formed but beyond a
//    limit (max-batch-size, max-headers) or names an unknown message gets an Avro error response
//    and the connection stays.
//  - compression-type = deflate: a zlib stream per direction per connection (Netty's
//    ZlibEncoder/ZlibDecoder), inflated through a per-thread scratch buffer into the frame
//    decoder, so the frame limits bound the inflated bytes too.
//  - A client that does not read its responses: once 1 MiB of them are pending, its requests are
//    no longer read until it catches up (TCP backpressure), other clients are unaffected.
//  - ssl = true: OpenSSL over memory BIOs per connection (tls_stream.hpp), outside compression
//    as in Flume's Netty pipeline: socket <-> TLS <-> zlib <-> frames.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "avro_rpc.hpp"
#include "ip_filter.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"
#include "tls_stream.hpp"

namespace sluice::plugins::avro_source {

// The keys this source accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& avroSourceSchema();

// Set by configure() from every key; the defaults live in avroSourceSchema() only.
struct AvroSourceSettings {
  std::string bind;
  int port = 0;
  std::size_t threads = 0;
  bool deflate = false;
  // ssl = true: built by configure() from the key store (shared, as settings are copied).
  std::shared_ptr<const tls::TlsContext> tls;
  bool ipFilter = false;
  std::vector<IpFilterRule> ipFilterRules;
  std::size_t maxConnections = 0;
  std::chrono::milliseconds idleTimeout{0};  // 0 = never
  avro::RpcLimits limits;
};

class AvroServer;

class AvroSource final : public sdk::EventDrivenSource {
 public:
  // Bytes read from a socket at once.
  static constexpr std::size_t kReadBufferBytes = 64 * 1024;
  // Per connection: responses pending beyond this stop reading from that client.
  static constexpr std::size_t kMaxPendingReplyBytes = 1024 * 1024;
  // A connection's payload buffer above this is given back between frames.
  static constexpr std::size_t kKeepPayloadBytes = 1024 * 1024;

  // Counters this source adds to its SourceCounter, after Flume's (the constructor checks).
  enum : std::size_t {
    kConnectionRejectedCount = sdk::SourceCounter::GenericProcessingFail + 1,
    kConnectionDeniedCount,
    kConnectionIdleClosedCount,
    kHandshakeCount,
    kHandshakeNoneCount,
    kErrorResponseCount,
  };

  AvroSource();
  ~AvroSource() override;

  // Control thread, before start (again after stop for a reload).
  void configure(const sdk::Context& context) override;
  // Binds and listens, then starts the I/O threads. Throws (bind:port and strerror) when the
  // address cannot be bound. A second start() while running does nothing.
  void start() override;
  // Closes the listener and every connection and joins the threads. Safe to repeat.
  void stop() override;

  // The port the listener is bound to (the kernel's choice when port = 0); 0 when stopped.
  uint16_t boundPort() const noexcept { return boundPort_.load(std::memory_order_acquire); }
  const AvroSourceSettings& settings() const noexcept { return settings_; }

 private:
  AvroSourceSettings settings_;
  bool configured_ = false;
  std::unique_ptr<AvroServer> server_;
  std::atomic<uint16_t> boundPort_{0};
};

}  // namespace sluice::plugins::avro_source
