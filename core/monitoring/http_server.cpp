#include "core/monitoring/http_server.hpp"

#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

#include "net/io_pool.hpp"
#include "net/tcp_listener.hpp"

namespace sluice::core::monitoring {

namespace net = plugins::net;

namespace {

// The layer logs through sdk::Logger; the monitor has the agent's spdlog logger. Lines keep the
// "monitoring: " prefix the monitor's own lines have. Any thread.
class PrefixLogger final : public sdk::Logger {
 public:
  explicit PrefixLogger(std::shared_ptr<spdlog::logger> log) : log_(std::move(log)) {}
  bool shouldLog(sdk::LogLevel level) const noexcept override {
    return log_ && log_->should_log(static_cast<spdlog::level::level_enum>(level));
  }
  void log(sdk::LogLevel level, std::string_view message) noexcept override {
    if (!log_) return;
    try {
      log_->log(static_cast<spdlog::level::level_enum>(level), "monitoring: {}", message);
    } catch (...) {
    }
  }

 private:
  std::shared_ptr<spdlog::logger> log_;
};

// Only GET and HEAD are served: any other method is answered (405) from its head, so that a
// request body is never read.
bool servedMethod(std::string_view m) { return m == "GET" || m == "HEAD"; }

}  // namespace

struct HttpServer::Impl final : http::Handler {
  Impl(const ServerOptions& o, monitoring::Handler h, std::shared_ptr<spdlog::logger> l)
      : handler(std::move(h)), log(std::move(l)), server(*this, httpOptions(o), log) {}

  static http::ServerOptions httpOptions(const ServerOptions& o) {
    http::ServerOptions so;
    so.maxHeaderBytes = o.limits.maxHeaderBytes;
    so.maxTargetBytes = o.limits.maxTargetBytes;
    so.maxHeaders = o.limits.maxHeaders;
    // Bodies are not served, only skipped: as much as a head may be, larger ones are refused 413.
    so.maxBodyBytes = o.limits.maxHeaderBytes;
    // Every keep-alive answer says so, also on HTTP/1.1 (where it is the default), as the
    // monitoring server always did.
    so.announceKeepAlive = true;
    return so;
  }

  bool onHead(const http::Request& head, http::Response& res, http::BodyPolicy&) override {
    if (servedMethod(head.method)) return true;
    answer(head, res);  // the handler's 405
    return false;
  }

  void onRequest(http::Request& req, http::Response& res) override { answer(req, res); }

  void answer(const http::Request& req, http::Response& res) {
    res = handler(req);
    // Monitoring data is live and never to be sniffed into something else.
    res.headers.emplace_back("Cache-Control", "no-store");
    res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  }

  monitoring::Handler handler;  // the monitor's router
  PrefixLogger log;
  http::Server server;
  net::IoPool pool{"monitor", 1};  // one thread: the handler only reads counters
  net::TcpListener listener;
};

HttpServer::HttpServer(ServerOptions options, Handler handler, std::shared_ptr<spdlog::logger> log)
    : options_(std::move(options)),
      impl_(std::make_unique<Impl>(options_, std::move(handler), std::move(log))) {}

HttpServer::~HttpServer() { stop(); }

sdk::Result HttpServer::start() {
  if (impl_->listener.running()) return sdk::Result::success();
  net::ListenerOptions lo;
  lo.bind = options_.bind;
  // "[::1]" as an address, the way URLs write it.
  if (lo.bind.size() > 2 && lo.bind.front() == '[' && lo.bind.back() == ']')
    lo.bind = lo.bind.substr(1, lo.bind.size() - 2);
  lo.port = options_.port;
  lo.backlog = 128;
  lo.maxConnections = options_.maxConnections;
  lo.requestTimeout = options_.requestTimeout;
  lo.idleTimeout = options_.idleTimeout;
  lo.writeTimeout = options_.writeTimeout;
  lo.readChunkBytes = std::size_t{16} * 1024;  // requests are small: a big chunk is waste
  // Input kept per connection: prepare() raises this to a head at its limit plus one read.
  lo.maxBufferedInputBytes = 0;
  lo.rejectReply = http::closingResponse(503, "too many monitoring connections\n");
  http::Server::prepare(lo, impl_->server.options());
  if (sdk::Result r = impl_->pool.start(impl_->log); !r) return r;
  if (sdk::Result r = impl_->listener.start(impl_->pool, impl_->server, lo, impl_->log); !r) {
    impl_->pool.stop();
    return sdk::Result::failure("monitoring: " + r.error());
  }
  return sdk::Result::success();
}

void HttpServer::stop() {
  // In-flight answers get a second to go out; monitoring clients retry, the agent must not wait.
  impl_->listener.stop(std::chrono::milliseconds(1000));
  impl_->pool.stop();
}

int HttpServer::port() const { return impl_->listener.port(); }

ServerCounters HttpServer::counters() const {
  const net::Stats& n = impl_->listener.stats();
  const http::HttpStats& h = impl_->server.stats();
  ServerCounters c;
  c.accepted = n.get(net::Stat::Accepted);
  c.refused = n.get(net::Stat::Rejected);
  c.requests = h.get(http::HttpStat::Requests) + h.get(http::HttpStat::HeadRejected);
  c.badRequests = h.get(http::HttpStat::Malformed) + h.get(http::HttpStat::BodyTooLarge) +
                  n.get(net::Stat::InputOverflow);
  c.timedOut = n.get(net::Stat::IdleClosed) + n.get(net::Stat::RequestTimedOut) +
               n.get(net::Stat::WriteTimedOut);
  c.open = n.get(net::Stat::Open);
  return c;
}

}  // namespace sluice::core::monitoring
