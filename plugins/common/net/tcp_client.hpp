#pragma once
// The TCP client of the network layer (the avro sink; the HTTP and thrift sinks to come):
// connect with a timeout (and the TLS handshake within it), reconnect with back-off, and
// requests bounded by a request timeout, over plain TCP or TLS.
//
// Threads: a client is driven by the thread that calls it, usually a sink's runner thread,
// which has nothing else to do while it waits for the next hop. It owns a private io_context
// that runs only inside these calls, so it needs no thread of its own and its timeouts are
// exact. One thread at a time.
//
// After a failed send or receive the connection's state is unknown (a half-written request, an
// answer still on its way): the client closes it, and the caller's next call reconnects.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/result.hpp"
#include "stats.hpp"
#include "tls.hpp"

namespace sluice::plugins::net {

struct ClientOptions {
  std::string host;
  int port = 0;
  std::chrono::milliseconds connectTimeout{20000};  // resolving, connecting and the handshake
  std::chrono::milliseconds requestTimeout{20000};  // one request: sending it and its answer
  // After a failed connection attempt the next one waits at least backoffMin, doubling after
  // each further failure up to backoffMax; a success resets it. 0 disables the back-off.
  std::chrono::milliseconds backoffMin{250};
  std::chrono::milliseconds backoffMax{30000};
  bool noDelay = true;
  std::shared_ptr<const TlsContext> tls;  // null: plain TCP
  // Server name for TLS (SNI); empty: the host, unless it is an IP address.
  std::string serverName;
};

// Consumes an answer as it arrives.
class ResponseReader {
 public:
  struct Result {
    std::size_t consumed = 0;     // bytes of data done with; the rest comes again with more
    bool done = false;            // the answer is complete
    const char* error = nullptr;  // a malformed answer: the request fails with this
  };
  virtual ~ResponseReader() = default;
  virtual Result onData(std::string_view data) = 0;
};

class TcpClient {
 public:
  explicit TcpClient(ClientOptions options, sdk::Logger& log = sdk::NullLogger::instance());
  ~TcpClient();
  TcpClient(const TcpClient&) = delete;
  TcpClient& operator=(const TcpClient&) = delete;

  // Connects unless connected. During the back-off after a failure it fails at once, saying
  // how long is left, without an attempt. Errors name the target and the reason
  // ("connect-timeout (N ms) expired", the system's message, the TLS failure).
  sdk::Result connect() noexcept;
  bool connected() const noexcept;
  // Closes the connection (TLS without close_notify: the peer sees the end of the stream).
  void close() noexcept;

  // An idle connection that the peer closed (an idle timeout, a restart) or that has bytes
  // nobody asked for: check before taking a batch, so it is not the batch that fails.
  bool peerGone() noexcept;

  // Sends every byte of `parts` (gathered into as few writes as possible), then reads the
  // answer into `reader` until it is done; both within one requestTimeout.
  sdk::Result request(std::span<const std::string_view> parts, ResponseReader& reader) noexcept;
  // The halves of request(), each within its own requestTimeout.
  sdk::Result send(std::span<const std::string_view> parts) noexcept;
  sdk::Result receive(ResponseReader& reader) noexcept;

  std::chrono::steady_clock::time_point connectedAt() const noexcept;
  // "host:port"
  const std::string& target() const noexcept;
  // The negotiated TLS protocol and cipher suite (IANA name), "" without TLS.
  std::string tlsProtocol() const;
  std::string tlsCipher() const;

  // ConnectAttempts, Connects, ConnectFailures, ConnectTimeouts, RequestTimeouts, TlsFailed,
  // Errors, BytesIn, BytesOut, Closed; bind them to a sink's counters (Flume's
  // ConnectionCreatedCount, ConnectionFailedCount, ConnectionClosedCount).
  Stats& stats() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::plugins::net
