#pragma once
// A small HTTP/1.1 server on epoll, one thread, for the monitoring endpoints. It is built to be
// harmless to the agent: strict bounds on connections, header size and time, and handlers that
// only read relaxed-atomic counters (they never take a lock the data path holds).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/fwd.h>

#include "core/monitoring/http_request.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::core::monitoring {

struct HttpResponse {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  bool close = false;  // close the connection after this response
};

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 0;  // 0 = any free port (see HttpServer::port())
  std::size_t maxConnections = 64;
  ParseLimits limits;
  // A request must arrive completely within this time of its first byte (slowloris guard).
  std::chrono::milliseconds requestTimeout{10000};
  // An idle keep-alive connection is closed after this time.
  std::chrono::milliseconds idleTimeout{30000};
  // A response must be taken by the client within this time.
  std::chrono::milliseconds writeTimeout{10000};
  // Rejections (503 over maxConnections, 4xx for bad requests, timeouts) are counted always and
  // logged at most once per this interval, with the number held back.
  std::chrono::milliseconds rejectLogInterval{10000};
};

// Called on the server thread for every complete request.
using Handler = std::function<HttpResponse(const HttpRequest&)>;

const char* reasonPhrase(int status);

class HttpServer {
 public:
  HttpServer(ServerOptions options, Handler handler, std::shared_ptr<spdlog::logger> log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the thread. Fails (with a message naming the address) when the
  // address cannot be bound.
  sdk::Result start();
  void stop();  // joins; safe to repeat
  int port() const { return boundPort_; }
  const std::string& bindAddress() const { return options_.bind; }

  // Counters of the server itself (read by the metrics handler).
  struct Stats {
    std::atomic<int64_t> accepted{0}, refused{0}, requests{0}, timedOut{0}, badRequests{0};
    std::atomic<int64_t> open{0};
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Conn;
  class RejectLog;
  void run();
  void watch(Conn& c);  // sets the epoll interest from the connection's state
  std::size_t maxBufferedInput() const;
  void acceptAll();
  void onReadable(Conn& c);
  void onWritable(Conn& c);
  // Answers buffered requests, at most kRequestsPerTurn of them; a connection with more left
  // goes on pending_ and gets its next turn after the others had theirs.
  void serveBuffered(Conn& c);
  void servePending();
  void queueResponse(Conn& c, const HttpResponse& r, bool head);
  void closeConn(int fd);
  void expire();

  ServerOptions options_;
  Handler handler_;
  std::shared_ptr<spdlog::logger> log_;
  int listenFd_ = -1;
  int epollFd_ = -1;
  int wakeFd_ = -1;
  int boundPort_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::unique_ptr<Conn>> conns_;  // indexed by fd
  std::vector<int> pending_;  // connections with answerable requests left over from their turn
  std::size_t open_ = 0;
  Stats stats_;
  std::unique_ptr<RejectLog> refusedLog_, badRequestLog_, timeoutLog_;
};

}  // namespace sluice::core::monitoring
