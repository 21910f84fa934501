#pragma once
// Flume's AvroSink (type avro): sends events to the next hop over Flume's Avro RPC
// (AvroSourceProtocol, see plugins/common/avro_rpc.hpp): to an avro source of sluice or Flume.
//
// Design (README.md describes the behaviour users see):
//  - process() runs on the sink runner thread. It connects through the network layer's
//    TcpClient if needed (connect-timeout bounds the connection and the TLS handshake), takes up
//    to batch-size events in one transaction, sends them as one appendBatch and commits the take
//    only after the server answered OK. FAILED, an error response, request-timeout, or a broken
//    connection roll the take back (the events come again) and report a failed delivery, so the
//    runner backs off before the next attempt; all but FAILED also drop the connection, which
//    the next call opens again.
//  - The request is serialized straight from the transaction's view of the events into a reused
//    buffer (no per-event allocation); the frame header and handshake go in a second small
//    buffer and both leave in one gathered write. A NONE handshake answer makes the sink send
//    the same body again behind a handshake that carries its protocol text.
//  - Before using a connection that sat idle, the sink checks it: a peer that closed it (an
//    idle timeout, a restart) is reconnected to before the batch is taken, instead of failing
//    that batch.
//  - compression-type = deflate: one zlib stream per direction per connection, as Netty's
//    ZlibEncoder/ZlibDecoder on the Flume side; TLS (the layer's) wraps the compressed stream,
//    as in Flume's Netty pipeline.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "avro_rpc.hpp"
#include "net/sink_connection.hpp"
#include "net/tls.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/sink.hpp"
#include "zlib_stream.hpp"

namespace sluice::plugins::avro_sink {

// The keys this sink accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& avroSinkSchema();

// Set by configure() from every key; the defaults live in avroSinkSchema() only.
// The next hop, the batch and TLS: net::RpcSinkTarget.
struct AvroSinkSettings : net::RpcSinkTarget {
  std::chrono::seconds resetConnectionInterval{0};  // 0 = never
  bool deflate = false;
  int compressionLevel = 0;
};

class AvroSink final : public sdk::AbstractSink {
 public:
  using Clock = std::chrono::steady_clock;

  // Counters this sink adds to its SinkCounter, after Flume's (the constructor checks).
  enum : std::size_t {
    kHandshakeNoneCount = sdk::SinkCounter::ChannelReadFail + 1,
    kBatchRefusedCount,
  };

  AvroSink();
  ~AvroSink() override;

  void configure(const sdk::Context& context) override;
  void start() override;
  // Closes the connection. Safe to repeat.
  void stop() override;
  // Runner thread.
  sdk::Status process() override;

  const AvroSinkSettings& settings() const noexcept { return s_; }
  bool connected() const noexcept { return conn_.connected(); }

 private:
  // Drops a connection that is too old or that the peer closed, connects unless connected; a
  // new connection starts a new handshake and zlib streams.
  sdk::Result connect();
  // Sends the batch as one appendBatch and reads the answer (sending again once after a NONE
  // handshake). False on any failure but a Status answer; *status is the answer otherwise.
  bool exchange(std::span<const sdk::Event> events, avro::RpcStatus* status, std::string* error);

  AvroSinkSettings s_;
  bool configured_ = false;
  avro::RpcLimits limits_;
  std::string target_;

  net::SinkConnection conn_;
  avro::ClientHandshake hs_;
  int32_t serial_ = 0;
  std::unique_ptr<zlib_stream::Deflater> deflater_;
  std::unique_ptr<zlib_stream::Inflater> inflater_;

  // Reused per batch.
  std::string head_;      // frame header + handshake
  std::string body_;      // call header + events
  std::string wire_;      // deflate: the compressed frame
  std::string response_;  // the response frame's payload
  std::unique_ptr<char[]> inflateBuf_;
};

}  // namespace sluice::plugins::avro_sink
