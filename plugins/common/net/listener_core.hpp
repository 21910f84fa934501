#pragma once
// Internal to the network layer (not for plugins): the state behind TcpListener and its
// connections. tcp_listener.cpp holds the listening side (bind, accept, sweep, stop),
// tcp_connection.cpp one connection's life (handshake, read, write, hold, close).
//
// Ownership: a worker's registry holds each open connection (shared_ptr) until it closes; the
// handlers it has pending hold it too, so it lives until the last of them ran. Every connection
// holds the Core, which therefore outlives whatever handler still refers to it, even after
// TcpListener::stop() dropped its own reference.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "byte_buffer.hpp"
#include "io_pool_impl.hpp"
#include "log_throttle.hpp"
#include "tcp_listener.hpp"

namespace sluice::plugins::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class ConnectionImpl;

// "ip:port" of an endpoint, as hostPort() writes it.
std::string endpointText(const tcp::endpoint& ep);

struct TcpListener::Core : std::enable_shared_from_this<TcpListener::Core> {
  // Kept input up to this size is copied in front of the worker's read buffer and read behind
  // it; more is read straight into the connection's own buffer.
  static constexpr std::size_t kInlineCarry = 64 * 1024;

  Core(IoPool::Impl& pool, Protocol& protocol, ListenerOptions options, sdk::Logger& log,
       std::shared_ptr<Stats> stats);

  sdk::Result bind();                                   // control thread
  void startAccepting();                                // control thread, after bind()
  void stop(std::chrono::milliseconds grace) noexcept;  // control thread

  // The listening thread.
  void acceptNext() noexcept;
  void onAccept(const boost::system::error_code& ec, tcp::socket socket, std::size_t worker);

  // A connection's thread.
  void add(const std::shared_ptr<ConnectionImpl>& c) noexcept;
  void remove(ConnectionImpl& c) noexcept;  // also counts it closed
  void armSweep(std::size_t worker) noexcept;
  char* readBuffer(std::size_t worker) noexcept { return workers[worker].buf.get(); }

  IoPool::Impl& pool;
  Protocol& protocol;
  const ListenerOptions o;
  sdk::Logger& log;
  const std::shared_ptr<Stats> stats;
  uint16_t port = 0;

  std::size_t acceptWorker = 0;  // the context the acceptor runs on
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> acceptPause;
  std::atomic<bool> stopping{false};

  // Connections open or on their way to their thread; stop() waits for 0.
  std::atomic<std::size_t> open{0};
  std::mutex mu;
  std::condition_variable closedCv;

  struct Worker {
    std::vector<std::shared_ptr<ConnectionImpl>> conns;  // that thread only
    std::unique_ptr<asio::steady_timer> sweep;
    std::unique_ptr<char[]> buf;  // readChunkBytes + kInlineCarry
  };
  std::vector<Worker> workers;
  std::chrono::milliseconds sweepEvery{1000};

  ThrottledLog rejectLog, acceptLog, tlsLog, errorLog, overflowLog, timeoutLog;
  std::shared_ptr<Core> leaked;  // set only when stopped after the pool (a bug): see stop()
};

class ConnectionImpl final : public Connection,
                             public std::enable_shared_from_this<ConnectionImpl> {
 public:
  ConnectionImpl(std::shared_ptr<TcpListener::Core> core, std::size_t worker, tcp::socket s);
  ~ConnectionImpl() override;

  // The connection's thread.
  void begin() noexcept;
  void sweep(Clock::time_point now) noexcept;
  void stopGracefully() noexcept;
  void abort(CloseReason why) noexcept;

  std::size_t slot = SIZE_MAX;  // index in the worker's registry

  // Connection
  void send(std::string_view bytes) override;
  std::size_t pendingOutput() const noexcept override { return out_.size() + wbuf_.size(); }
  void resume() noexcept override;
  void setInRequest(bool inRequest) noexcept override {
    if (!inRequest) requestStart_ = Clock::time_point::max();  // the next one starts afresh
    inRequest_ = inRequest;
  }
  void close() noexcept override;
  std::string_view unconsumed() const noexcept override { return carry_.view(); }
  const std::string& peer() const noexcept override { return peer_; }
  const std::string& peerIp() const noexcept override { return peerIp_; }
  uint16_t localPort() const noexcept override { return core_->port; }
  std::size_t worker() const noexcept override { return worker_; }
  bool tls() const noexcept override { return tls_ != nullptr; }
  std::weak_ptr<Connection> handle() noexcept override { return shared_from_this(); }

 private:
  enum class State { Starting, Handshaking, Open, Closing, Lingering, Closed };
  static constexpr std::size_t kTlsChunk = 16 * 1024 + 512;  // one TLS record's plaintext

  void onHandshake(const boost::system::error_code& ec) noexcept;
  void openSession() noexcept;
  bool canRead() const noexcept;
  void readMore() noexcept;
  void readPlain() noexcept;
  void waitReadable() noexcept;
  void readTls() noexcept;
  void onTlsRead(const boost::system::error_code& ec, std::size_t n) noexcept;
  // Hands data to the session and acts on its Step; true when reading should go on.
  bool deliver(const char* data, std::size_t len, bool inCarry) noexcept;
  void reoffer(bool always) noexcept;
  void endHold(uint64_t generation) noexcept;
  void onReadError(const boost::system::error_code& ec) noexcept;
  void startWrite() noexcept;
  void onWrite(const boost::system::error_code& ec, std::size_t n) noexcept;
  void closeGracefully(CloseReason why) noexcept;
  void notifyClose() noexcept;
  void finishClose() noexcept;
  void startTlsShutdown() noexcept;
  void drainLinger() noexcept;
  void closeNow() noexcept;

  std::shared_ptr<TcpListener::Core> core_;
  const std::size_t worker_;
  tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  std::unique_ptr<char[]> tlsBuf_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<asio::steady_timer> retry_;

  State state_ = State::Starting;
  CloseReason reason_ = CloseReason::Closed;
  bool reading_ = false;  // an async_wait (plain) or async_read_some (TLS) is pending
  bool held_ = false;
  uint64_t holdGeneration_ = 0;
  bool writing_ = false;
  bool outputPaused_ = false;  // maxPendingOutputBytes reached
  bool yieldPending_ = false;
  bool inRequest_ = false;
  bool inCallback_ = false;  // inside a Session call
  bool closeRequested_ = false;
  bool closeNotified_ = false;
  bool tlsShutdownAfterRead_ = false;

  ByteBuffer carry_;  // kept unconsumed input
  ByteBuffer out_;    // queued output
  ByteBuffer wbuf_;   // output being written

  Clock::time_point lastActivity_{};
  Clock::time_point requestStart_ = Clock::time_point::max();  // max: no request in progress
  Clock::time_point writeStart_{};
  Clock::time_point since_{};  // when the state began (handshake, closing, lingering)

  std::string peer_, peerIp_;
};

}  // namespace sluice::plugins::net
