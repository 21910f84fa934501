#pragma once
// The monitoring endpoints' HTTP/1.1 server: plugins/common/http's Server (Boost.Beast) on a
// net::TcpListener, with an I/O pool of one thread of its own. It is built to be harmless to the
// agent: strict bounds on connections, header size and time, one request at a time per
// connection (a client that pipelines without reading is held back by TCP, not by our memory),
// and a handler that only reads relaxed-atomic counters (it never takes a lock the data path
// holds). The pool is the monitor's own, so a source whose I/O threads block on a full channel
// never delays a scrape (plugins/common/net/README.md, "The thread model").

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <spdlog/fwd.h>

#include "core/monitoring/render.hpp"
#include "http/http_server.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::core::monitoring {

namespace http = plugins::http;

struct ParseLimits {
  std::size_t maxHeaderBytes = 16 * 1024;  // request line + headers + blank line; more: 431
  std::size_t maxTargetBytes = 8 * 1024;   // longer targets: 414
  std::size_t maxHeaders = 100;            // more header fields: 431
};

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 0;                     // 0 = any free port (see HttpServer::port())
  std::size_t maxConnections = 64;  // more: 503 "too many monitoring connections" and close
  ParseLimits limits;
  // A request must arrive completely within this time of its first byte (slowloris guard): 408.
  std::chrono::milliseconds requestTimeout{10000};
  // An idle keep-alive connection is closed after this time.
  std::chrono::milliseconds idleTimeout{30000};
  // A response must be taken by the client within this time.
  std::chrono::milliseconds writeTimeout{10000};
};

// Fills the answer to a complete request (GET or HEAD; other methods are answered from the head,
// before a body is read). On the server's I/O thread.
using Handler = std::function<http::Response(const http::Request&)>;

class HttpServer {
 public:
  HttpServer(ServerOptions options, Handler handler, std::shared_ptr<spdlog::logger> log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the I/O thread. Fails (with a message naming the address) when the
  // address cannot be bound.
  sdk::Result start();
  void stop();  // joins; safe to repeat
  int port() const;
  const std::string& bindAddress() const { return options_.bind; }

  // The server's own counters, for /metrics/prometheus; any thread.
  ServerCounters counters() const;

 private:
  struct Impl;
  ServerOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::core::monitoring
