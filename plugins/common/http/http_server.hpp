#pragma once
// The HTTP/1.1 server protocol of sluice, on the network layer (net/tcp_listener.hpp) and
// Boost.Beast: the http source and core's monitoring server use it (README.md maps the
// monitoring options onto these). An application implements Handler; Server is the
// net::Protocol that a TcpListener runs, one ServerSession per connection.
//
// What the protocol does for every application:
//  - parses requests incrementally with Beast's request_parser, fed from the layer's byte view:
//    the head must fit maxHeaderBytes (else 431), the body maxBodyBytes (else 413, answered as
//    soon as Content-Length says so, or as soon as a chunked body passes it; the body is never
//    buffered beyond the limit), chunked bodies are decoded;
//  - answers "100 Continue" to a client that expects it, once the handler accepted the head;
//  - keep-alive (HTTP/1.1 by default, HTTP/1.0 with "Connection: keep-alive");
//  - one request at a time per connection: the next pipelined request is parsed only after the
//    previous answer was written (prepare() sets maxPendingOutputBytes = 1), so a client that
//    pipelines without reading is held back by TCP, not by our memory;
//  - 408 to a client whose request did not complete within the listener's requestTimeout, 503
//    to a request cut short by a stop, 400/414/431/505 to malformed input, each followed by a
//    close; responses written with Beast's serializer (HEAD: the head only).
//
// Threads: Handler callbacks run on the connection's I/O thread (net/io_pool.hpp), never
// concurrently for one connection, but concurrently for different connections.
// Beast stays out of this header (server_session.cpp holds it).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/tcp_listener.hpp"
#include "sluice/sdk/counters.hpp"
#include "sluice/sdk/logger.hpp"

namespace sluice::plugins::http {

struct Header {
  std::string_view name;
  std::string_view value;
};

// A request as a Handler sees it. Valid during the callback only.
struct Request {
  std::string_view method;          // as sent, case-sensitive: "POST"
  std::string_view target;          // as sent: "/path?query" (or an absolute URI)
  std::string_view path;            // "/path"
  std::string_view query;           // "a=1&b=2" without the '?'; empty when there is none
  unsigned version = 11;            // 10 or 11
  bool keepAlive = true;            // the client allows another request on this connection
  std::span<const Header> headers;  // in arrival order
  // The complete body, dechunked (null in onHead). The handler may move from it.
  std::string* body = nullptr;
  uint64_t bodyBytes = 0;      // body bytes the client sent (more than body->size() if truncated)
  bool bodyTruncated = false;  // BodyPolicy::truncateAt cut the body
  net::Connection* connection = nullptr;  // peer(), tls()

  // The first header of that name, compared case-insensitively; empty when absent.
  std::string_view header(std::string_view name) const noexcept;
};

// What the handler answers. Reused from request to request on a connection.
struct Response {
  int status = 200;
  std::string contentType;  // empty: no Content-Type
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // more header fields
  bool close = false;  // close the connection after this answer

  void reset() noexcept {
    status = 200;
    contentType.clear();
    body.clear();
    headers.clear();
    close = false;
  }
};

// How much of a body to keep; set by Handler::onHead.
struct BodyPolicy {
  // Keep at most this many bytes and discard the rest as it arrives (Request::bodyTruncated);
  // 0: never truncate (bodies over ServerOptions::maxBodyBytes are refused with 413 anyway).
  uint64_t truncateAt = 0;
};

class Handler {
 public:
  virtual ~Handler() = default;

  // Once the head is in, before any body is read (and before "100 Continue"). Return false after
  // filling `response` to answer at once without reading the body (e.g. 405): a request whose
  // body was still to come then ends the connection. Exceptions count as a 500.
  virtual bool onHead(const Request& head, Response& response, BodyPolicy& body) {
    (void)head;
    (void)response;
    (void)body;
    return true;
  }

  // Once the request is complete: fill `response`. May block for a while (a channel put waits for
  // room), which delays the other connections of this I/O thread. An exception is answered 500.
  virtual void onRequest(Request& request, Response& response) = 0;
};

struct ServerOptions {
  std::size_t maxHeaderBytes = 8192;  // request line + header fields; more: 431 and close
  std::size_t maxTargetBytes = 8192;  // request target; longer: 414 and close
  std::size_t maxHeaders = 100;       // header fields; more: 431 and close
  uint64_t maxBodyBytes = 1 << 20;    // larger bodies: 413 and close, without reading them
  bool keepAlive = true;              // false: every answer closes its connection
  // Write "Connection: keep-alive" on HTTP/1.1 keep-alive answers too, where it is the default
  // and Beast leaves it out (core's monitoring server always wrote it, and its tests look for it).
  bool announceKeepAlive = false;
  std::string serverName;             // the Server header; empty: none
};

// What the protocol counts (any thread may read; relaxed atomics, added per request).
enum class HttpStat : std::size_t {
  Requests,         // complete requests handed to Handler::onRequest
  HeadRejected,     // requests answered from Handler::onHead (e.g. 405), body not read
  Malformed,        // answered 400, 414, 431 or 505 and closed: not HTTP/1.x as it must be
  BodyTooLarge,     // answered 413 and closed
  TimedOut,         // answered 408 and closed: the request did not complete in time
  HandlerFailures,  // the handler threw: answered 500
  kCount
};
const char* nameOf(HttpStat s) noexcept;

class HttpStats {
 public:
  static constexpr std::size_t kCount = static_cast<std::size_t>(HttpStat::kCount);
  int64_t get(HttpStat s) const noexcept { return v_[idx(s)].load(std::memory_order_relaxed); }
  // Makes `s` count into `group`'s counter `index` too. Before the listener starts.
  void bind(HttpStat s, sdk::CounterGroup& group, std::size_t index) noexcept {
    group_[idx(s)] = &group;
    index_[idx(s)] = index;
  }
  void add(HttpStat s) noexcept {
    v_[idx(s)].fetch_add(1, std::memory_order_relaxed);
    if (sdk::CounterGroup* g = group_[idx(s)]) g->increment(index_[idx(s)]);
  }

 private:
  static constexpr std::size_t idx(HttpStat s) noexcept { return static_cast<std::size_t>(s); }
  std::atomic<int64_t> v_[kCount]{};
  sdk::CounterGroup* group_[kCount]{};
  std::size_t index_[kCount]{};
};

// The net::Protocol to run on a TcpListener.
class Server final : public net::Protocol {
 public:
  // `handler` and `log` must outlive the listener that runs this server.
  Server(Handler& handler, ServerOptions options, sdk::Logger& log);
  ~Server() override;

  std::unique_ptr<net::Session> open(net::Connection& c) override;

  // Sets what HTTP needs in the listener's options: one request at a time per connection
  // (maxPendingOutputBytes = 1), a read buffer that holds the largest head with room to spare,
  // and a 503 for the clients over maxConnections (rejectReply) unless one is set.
  static void prepare(net::ListenerOptions& listener, const ServerOptions& options);

  const ServerOptions& options() const noexcept { return o_; }
  HttpStats& stats() noexcept { return stats_; }

  struct Shared;  // what every session of this server uses (server_session.cpp)

 private:
  Handler& handler_;
  const ServerOptions o_;
  sdk::Logger& log_;
  HttpStats stats_;
  std::unique_ptr<Shared> shared_;
};

// The reason phrase of a status code ("Not Found"); "" for codes Beast does not know.
std::string_view reasonPhrase(int status) noexcept;

// A complete answer with a text body and "Connection: close", for places that answer outside a
// session (TcpListener's rejectReply): e.g. closingResponse(503, "too many connections\n").
std::string closingResponse(int status, std::string_view text);

}  // namespace sluice::plugins::http
