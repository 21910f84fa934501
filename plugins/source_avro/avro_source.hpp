#pragma once
// Flume's AvroSource (type avro): listens for Flume's Avro RPC (AvroSourceProtocol over Avro
// IPC with Netty framing, see plugins/common/avro_rpc.hpp) from Flume's AvroSink, sluice's avro
// sink, or any Avro client of that protocol, and hands the events of every append and
// appendBatch to the channels. A request is answered OK only after the channels committed its
// events, FAILED when they refused them.
//
// Design (README.md describes the behaviour users see):
//  - A protocol layer over the network layer (plugins/common/net): the layer binds, accepts,
//    limits (max-connections), filters (ipFilterRules), speaks TLS, reads, writes, times out
//    (idleTimeout), applies back-pressure and counts; avro_rpc.* is the codec. No thread or
//    socket of its own.
//  - Per connection a session feeds the layer's bytes (inflated first with compression-type =
//    deflate, TLS being outside the compression as in Flume's Netty pipeline) into a
//    FrameDecoder, which reassembles frames into one payload buffer bounded by max-frame-size;
//    every count and length from the wire is checked before anything is sized by it. A request
//    decodes straight into the I/O thread's reused EventBatch (the events' own strings are the
//    only allocations), which goes to the channels in one processEventBatch.
//  - A malformed frame closes its connection, is counted (EventReadFail) and logged at most
//    once per second. A request that is well-formed but beyond a limit (max-batch-size,
//    max-headers) or names an unknown message gets an Avro error response and the connection
//    stays.
//  - Refused by the channels: answered FAILED, then the connection is held (nothing more is
//    read from it, so TCP slows the client down) for a back-off that doubles while the channels
//    keep refusing. A client that does not read its answers is not read from while 1 MiB of
//    them wait (the layer's maxPendingOutputBytes).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "avro_rpc.hpp"
#include "net/tcp_service.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::plugins::avro_source {

// The keys this source accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& avroSourceSchema();

// Set by configure() from every key; the defaults live in avroSourceSchema() only.
struct AvroSourceSettings {
  std::size_t threads = 0;
  bool deflate = false;
  avro::RpcLimits limits;
  // bind, port, max-connections, idleTimeout, TLS (null: plain), IP filter (null: everyone).
  net::ListenerOptions listener;
};

class AvroServer;

class AvroSource final : public sdk::EventDrivenSource {
 public:
  // Per connection: answers pending beyond this stop reading from that client.
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
  // Starts the I/O threads and listens. Throws (bind:port and the reason) when the address
  // cannot be bound. A second start() while running does nothing.
  void start() override;
  // Stops listening, closes every connection (answers already earned are sent) and joins the
  // threads. Safe to repeat.
  void stop() override;

  // The port the listener is bound to (the system's choice when port = 0); 0 when stopped.
  uint16_t boundPort() const noexcept { return service_.port(); }
  const AvroSourceSettings& settings() const noexcept { return settings_; }

 private:
  AvroSourceSettings settings_;
  bool configured_ = false;
  net::TcpService service_;
};

}  // namespace sluice::plugins::avro_source
