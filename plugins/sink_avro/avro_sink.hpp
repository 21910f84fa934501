#pragma once
// Flume's AvroSink (type avro): sends events to the next hop over Flume's Avro RPC
// (AvroSourceProtocol, see plugins/common/avro_rpc.hpp): to an avro source of sluice or Flume.
//
// Design (README.md describes the behaviour users see):
//  - process() runs on the sink runner thread: it connects if needed (non-blocking connect
//    bounded by connect-timeout), takes up to batch-size events in one transaction, sends them as
//    one appendBatch and commits the take only after the server answered OK. FAILED, an error
//    response, request-timeout, or a broken connection roll the take back (the events come
//    again) and report a failed delivery, so the runner backs off before the next attempt; all
//    but FAILED also drop the connection, which the next call opens again.
//  - The request is serialized straight from the transaction's view of the events into a reused
//    buffer (no per-event allocation); the frame header and handshake go in a second small
//    buffer and both leave in one sendmsg. A NONE handshake answer makes the sink send the same
//    body again behind a handshake that carries its protocol text.
//  - Before using a connection that sat idle, the sink peeks at it: a peer that closed it (an
//    idle timeout, a restart) is reconnected to before the batch is taken, instead of failing
//    that batch.
//  - compression-type = deflate: one zlib stream per direction per connection, as Netty's
//    ZlibEncoder/ZlibDecoder on the Flume side.
//  - ssl = true: OpenSSL over memory BIOs (tls_stream.hpp), the handshake bounded by
//    connect-timeout; TLS wraps the (compressed) stream, as in Flume's Netty pipeline.

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "avro_rpc.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/sink.hpp"
#include "tls_stream.hpp"
#include "zlib_stream.hpp"

namespace sluice::plugins::avro_sink {

// The keys this sink accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& avroSinkSchema();

// Set by configure() from every key; the defaults live in avroSinkSchema() only.
struct AvroSinkSettings {
  std::string hostname;
  int port = 0;
  std::size_t batchSize = 0;
  std::chrono::milliseconds connectTimeout{};
  std::chrono::milliseconds requestTimeout{};
  std::chrono::seconds resetConnectionInterval{0};  // 0 = never
  bool deflate = false;
  int compressionLevel = 0;
  std::shared_ptr<const tls::TlsContext> tls;  // ssl = true
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
  bool connected() const noexcept { return fd_ >= 0; }

 private:
  bool connect(std::string* error);
  void disconnect() noexcept;
  // True when an open connection was closed by the peer (or has bytes it should not have).
  bool peerGone() noexcept;
  // Sends the batch as one appendBatch and reads the answer (sending again once after a NONE
  // handshake). False on any failure but a Status answer; *status is the answer otherwise.
  bool exchange(std::span<const sdk::Event> events, avro::RpcStatus* status, std::string* error);
  bool sendFrame(Clock::time_point deadline, std::string* error);
  bool sendBytes(const iovec* iov, int iovcnt, Clock::time_point deadline, const char* what,
                 std::string* error);
  bool tlsHandshake(Clock::time_point deadline, std::string* error);
  // Raw bytes from the socket, through TLS and zlib as configured, into `onPlain`.
  template <class OnPlain>
  bool receive(const char* data, std::size_t n, OnPlain&& onPlain, std::string* error);
  bool readFrame(int32_t serial, Clock::time_point deadline, std::string* error);
  std::string target() const;

  AvroSinkSettings s_;
  bool configured_ = false;
  avro::RpcLimits limits_;

  int fd_ = -1;
  Clock::time_point connectedAt_{};
  avro::ClientHandshake hs_;
  int32_t serial_ = 0;
  std::unique_ptr<zlib_stream::Deflater> deflater_;
  std::unique_ptr<zlib_stream::Inflater> inflater_;
  std::unique_ptr<tls::TlsSession> tlsSession_;

  // Reused per batch.
  std::string head_;      // frame header + handshake
  std::string body_;      // call header + events
  std::string wire_;      // deflate: the compressed frame
  std::string response_;  // the response frame's payload
  std::string tlsOut_;    // TLS records to send
  std::unique_ptr<char[]> readBuf_;
  std::unique_ptr<char[]> inflateBuf_;
  std::unique_ptr<char[]> tlsBuf_;
};

}  // namespace sluice::plugins::avro_sink
