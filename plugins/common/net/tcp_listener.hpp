#pragma once
// The TCP listener of the network layer, and the protocol interface a plugin implements on it.
//
// A plugin (netcat, avro, syslog, http, thrift sources; core's monitoring server) supplies a
// Protocol, which opens one Session per connection; the layer does everything else: binding,
// accepting, the connection limit, the IP filter, TLS, reading, buffering, writing, timeouts,
// back-pressure, counting and stopping. README.md shows a line-protocol source built on it.
//
// Threads: a Session's callbacks run on its connection's I/O thread (one of the IoPool's),
// never concurrently with each other. start() and stop() run on the control thread.
//
// Asio stays out of this header; errors surface as sdk::Result, counters (Stats) and log lines.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ip_filter.hpp"
#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/result.hpp"
#include "stats.hpp"
#include "tls.hpp"

namespace sluice::plugins::net {

class IoPool;

// What the layer does after Session::onData returned.
enum class Next {
  Read,   // read more; the unconsumed bytes are offered again in front of the next ones
  Yield,  // call onData again with the unconsumed bytes after the other connections had a turn
  Hold,   // back-pressure: read nothing more until resume() (or retryAfter), then offer the
          // unconsumed bytes again; the socket is not read, so TCP stalls the sender
  Close,  // send what is queued, then close
};

struct Step {
  std::size_t consumed = 0;  // bytes of data the session is done with (the rest is kept)
  Next next = Next::Read;
  // Hold: offer the kept bytes again after this long (0: only when resume() is called).
  std::chrono::milliseconds retryAfter{0};

  static Step read(std::size_t consumed) noexcept { return {consumed, Next::Read, {}}; }
  static Step yield(std::size_t consumed) noexcept { return {consumed, Next::Yield, {}}; }
  static Step hold(std::size_t consumed, std::chrono::milliseconds retryAfter = {}) noexcept {
    return {consumed, Next::Hold, retryAfter};
  }
  static Step close(std::size_t consumed) noexcept { return {consumed, Next::Close, {}}; }
};

enum class CloseReason {
  PeerClosed,      // the peer closed its side (end of stream)
  Closed,          // the session asked for it (Next::Close or Connection::close())
  IdleTimeout,     // nothing received for idleTimeout
  RequestTimeout,  // a request stayed incomplete for requestTimeout (slowloris)
  WriteTimeout,    // the peer did not take its replies for writeTimeout
  InputOverflow,   // more unconsumed input than maxBufferedInputBytes
  Error,           // an I/O error, or an exception from the session
  Stopping,        // the listener is stopping
};
const char* nameOf(CloseReason r) noexcept;

// One accepted connection, as a Session sees it. Every member is for the connection's I/O
// thread (inside Session callbacks) unless it says otherwise.
class Connection {
 public:
  virtual ~Connection() = default;

  // Queues bytes for the peer; they are written in order, without blocking. While more than
  // ListenerOptions::maxPendingOutputBytes are queued, nothing more is read from the peer.
  virtual void send(std::string_view bytes) = 0;
  virtual std::size_t pendingOutput() const noexcept = 0;

  // Ends a Hold now (the kept bytes are offered again). Any thread, as long as the listener
  // runs; does nothing when the connection is not held or already gone.
  virtual void resume() noexcept = 0;

  // Marks a request in progress although its bytes are consumed as they come (a session that
  // parses or buffers a request itself), so requestTimeout runs from its first byte until
  // setInRequest(false). Without it, kept unconsumed bytes are a request in progress, begun at
  // the read that left them.
  virtual void setInRequest(bool inRequest) noexcept = 0;

  // Closes after the queued bytes are sent (as Next::Close).
  virtual void close() noexcept = 0;

  // The bytes kept unconsumed so far (in onClose: the unfinished request).
  virtual std::string_view unconsumed() const noexcept = 0;

  virtual const std::string& peer() const noexcept = 0;    // "ip:port" ("[v6]:port")
  virtual const std::string& peerIp() const noexcept = 0;  // "ip"
  virtual uint16_t localPort() const noexcept = 0;
  // Index of the I/O thread, 0 .. pool.size() - 1: for per-thread scratch state.
  virtual std::size_t worker() const noexcept = 0;
  virtual bool tls() const noexcept = 0;

  // A handle that another thread may keep to call resume() later.
  virtual std::weak_ptr<Connection> handle() noexcept = 0;
};

class Session {
 public:
  virtual ~Session() = default;
  // New bytes (after what was kept unconsumed last time, in one contiguous view), or after a
  // Hold, Yield or a pause for pending output the kept bytes again (possibly none). `data` is
  // valid during the call only. An exception closes the connection (counted in Errors).
  virtual Step onData(Connection& c, std::string_view data) = 0;
  // Once, when the connection ends. c.unconsumed() holds what was never consumed; bytes sent
  // here go out before the close (e.g. a 408 on RequestTimeout) unless the peer is gone.
  virtual void onClose(Connection& c, CloseReason why) noexcept {
    (void)c;
    (void)why;
  }
};

class Protocol {
 public:
  virtual ~Protocol() = default;
  // On the connection's I/O thread, once it is accepted, allowed by the filter and past the TLS
  // handshake. nullptr refuses the connection (closed at once).
  virtual std::unique_ptr<Session> open(Connection& c) = 0;
};

struct ListenerOptions {
  std::string bind = "0.0.0.0";
  int port = 0;  // 0: the system picks one; TcpListener::port() tells which
  int backlog = 1024;
  std::size_t maxConnections = 1000;  // more are accepted and closed at once (Stat::Rejected)
  // Bytes sent, best effort, to a client refused over maxConnections before it is closed (the
  // monitoring server's 503); empty: none.
  std::string rejectReply;

  // 0 disables each.
  std::chrono::milliseconds idleTimeout{0};           // nothing received for this long
  std::chrono::milliseconds requestTimeout{0};        // a request incomplete for this long
  std::chrono::milliseconds writeTimeout{0};          // replies not taken by the peer for this long
  std::chrono::milliseconds handshakeTimeout{10000};  // TLS handshake
  // After the close was decided: how long queued replies may take to go out, and how long the
  // peer's remaining input is read and discarded after our FIN (so that a close does not turn
  // into a reset that destroys the replies in flight).
  std::chrono::milliseconds closeTimeout{5000};
  std::chrono::milliseconds lingerTimeout{2000};

  std::size_t readChunkBytes = 256 * 1024;      // read from a socket at once
  std::size_t maxBufferedInputBytes = 1 << 20;  // unconsumed bytes a connection may keep
  std::size_t maxPendingOutputBytes = 1 << 20;  // reading pauses while this much is queued
                                                // (1: while any reply is being written)
  bool noDelay = true;                          // TCP_NODELAY: replies are small

  std::shared_ptr<const TlsContext> tls;     // null: plain TCP
  std::shared_ptr<const IpFilter> ipFilter;  // null: everyone
};

class TcpListener {
 public:
  TcpListener();
  // Counting into `stats`, which other listeners may share (a source's listeners on several
  // ports count into one set, as one source).
  explicit TcpListener(std::shared_ptr<Stats> stats);
  ~TcpListener();  // stop()
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // Control thread. Binds and listens, then accepts on the pool (which must run). `protocol`,
  // `pool` and `log` must outlive stop(). Fails naming the address ("cannot bind to
  // host:port: reason"). A second start() while running does nothing.
  sdk::Result start(IoPool& pool, Protocol& protocol, ListenerOptions options,
                    sdk::Logger& log) noexcept;

  // Control thread. Stops accepting; closes every connection gracefully (queued replies are
  // sent; sessions get onClose(Stopping), so a held one can drop what it holds); after `grace`,
  // closes what is left at once. Returns when no session is left. Safe to repeat.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000)) noexcept;

  // The bound port (the system's choice for port 0); 0 when stopped.
  uint16_t port() const noexcept;
  bool running() const noexcept;
  // Counters; bind them to a plugin's counter group before start(). Kept across restarts.
  Stats& stats() noexcept { return *stats_; }
  const Stats& stats() const noexcept { return *stats_; }

  struct Core;

 private:
  std::shared_ptr<Stats> stats_;
  std::shared_ptr<Core> core_;
};

}  // namespace sluice::plugins::net
