// The listening side of TcpListener: bind, accept (with the connection limit), the per-thread
// sweep of timeouts, and stop. One connection's life is in tcp_connection.cpp.

#include <boost/asio/post.hpp>

#include <algorithm>
#include <utility>

#include "listener.hpp"
#include "listener_core.hpp"

namespace sluice::plugins::net {

const char* nameOf(Stat s) noexcept {
  static const char* const kNames[] = {
      "accepted",        "rejected",        "denied",          "open",
      "idleClosed",      "requestTimedOut", "writeTimedOut",   "inputOverflow",
      "tlsFailed",       "errors",          "bytesIn",         "bytesOut",
      "datagrams",       "truncated",       "dropped",         "kernelDropped",
      "connectAttempts", "connects",        "connectFailures", "connectTimeouts",
      "requestTimeouts", "closed"};
  static_assert(sizeof kNames / sizeof kNames[0] == Stats::kCount);
  const auto i = static_cast<std::size_t>(s);
  return i < Stats::kCount ? kNames[i] : "?";
}

const char* nameOf(CloseReason r) noexcept {
  switch (r) {
    case CloseReason::PeerClosed:
      return "closed by the peer";
    case CloseReason::Closed:
      return "closed";
    case CloseReason::IdleTimeout:
      return "idle timeout";
    case CloseReason::RequestTimeout:
      return "request timeout";
    case CloseReason::WriteTimeout:
      return "write timeout";
    case CloseReason::InputOverflow:
      return "input over the read buffer limit";
    case CloseReason::Error:
      return "error";
    case CloseReason::Stopping:
      return "stopping";
  }
  return "?";
}

std::string endpointText(const tcp::endpoint& ep) {
  boost::system::error_code ec;
  asio::ip::address a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return hostPort(a.to_string(ec), ep.port());
}

namespace {

// How often each thread checks its connections' deadlines: often enough that the shortest
// deadline is met within a quarter of it, never more than 20 times a second.
std::chrono::milliseconds sweepInterval(const ListenerOptions& o) {
  std::chrono::milliseconds shortest = o.closeTimeout;
  for (auto t : {o.idleTimeout, o.requestTimeout, o.writeTimeout, o.lingerTimeout,
                 o.tls ? o.handshakeTimeout : std::chrono::milliseconds(0)})
    if (t.count() > 0) shortest = std::min(shortest, t);
  return std::clamp(shortest / 4, std::chrono::milliseconds(50), std::chrono::milliseconds(1000));
}

}  // namespace

TcpListener::Core::Core(IoPool::Impl& p, Protocol& proto, ListenerOptions options, sdk::Logger& l,
                        std::shared_ptr<Stats> s)
    : pool(p),
      protocol(proto),
      o(std::move(options)),
      log(l),
      stats(std::move(s)),
      rejectLog(l, sdk::LogLevel::warn, std::chrono::seconds(1)),
      acceptLog(l, sdk::LogLevel::error, std::chrono::seconds(1)),
      tlsLog(l, sdk::LogLevel::warn, std::chrono::seconds(1)),
      errorLog(l, sdk::LogLevel::warn, std::chrono::seconds(1)),
      overflowLog(l, sdk::LogLevel::warn, std::chrono::seconds(1)),
      timeoutLog(l, sdk::LogLevel::info, std::chrono::seconds(10)) {
  workers.resize(pool.contexts.size());
  for (Worker& w : workers) w.buf.reset(new char[o.readChunkBytes + kInlineCarry]);
  sweepEvery = sweepInterval(o);
}

sdk::Result TcpListener::Core::bind() {
  const std::string where = hostPort(o.bind, o.port);
  boost::system::error_code ec;
  acceptWorker = pool.pick();
  asio::io_context& ctx = pool.context(acceptWorker);
  tcp::resolver resolver(ctx);
  const auto results = resolver.resolve(
      o.bind, std::to_string(o.port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec)
    return sdk::Result::failure("cannot bind to " + where + ": cannot resolve '" + o.bind +
                                "': " + ec.message());
  std::string lastError = "no address";
  for (const auto& r : results) {
    auto a = std::make_unique<tcp::acceptor>(ctx);
    const tcp::endpoint ep = r.endpoint();
    a->open(ep.protocol(), ec);
    if (!ec) a->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a->bind(ep, ec);
    if (!ec) a->listen(o.backlog, ec);
    if (ec) {
      lastError = ec.message();
      continue;
    }
    port = a->local_endpoint(ec).port();
    acceptor = std::move(a);
    break;
  }
  if (!acceptor) return sdk::Result::failure("cannot bind to " + where + ": " + lastError);
  acceptPause = std::make_unique<asio::steady_timer>(ctx);
  return sdk::Result::success();
}

void TcpListener::Core::startAccepting() {
  auto self = shared_from_this();
  for (std::size_t w = 0; w < workers.size(); ++w)
    asio::post(pool.context(w), [self, w] { self->armSweep(w); });
  asio::post(pool.context(acceptWorker), [self] { self->acceptNext(); });
}

void TcpListener::Core::acceptNext() noexcept {
  if (stopping.load(std::memory_order_acquire) || !acceptor) return;
  const std::size_t w = pool.pick();
  try {
    acceptor->async_accept(
        pool.context(w),
        [self = shared_from_this(), w](const boost::system::error_code& ec, tcp::socket s) mutable {
          self->onAccept(ec, std::move(s), w);
        });
  } catch (const std::exception& e) {  // out of memory for the operation
    acceptLog.emit("cannot accept connections: ", e.what());
  }
}

void TcpListener::Core::onAccept(const boost::system::error_code& ec, tcp::socket s,
                                 std::size_t w) {
  if (stopping.load(std::memory_order_acquire) || !acceptor) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    if (ec == asio::error::connection_aborted || ec == asio::error::interrupted ||
        ec == asio::error::would_block || ec == asio::error::try_again) {
      acceptNext();
      return;
    }
    // Out of descriptors or memory: stop accepting for a moment rather than spin on a
    // listener that stays readable.
    stats->add(Stat::Errors);
    acceptLog.emit("accept failed: ", ec.message(), "; pausing accepts for 100 ms");
    acceptPause->expires_after(std::chrono::milliseconds(100));
    acceptPause->async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->acceptNext();
    });
    return;
  }
  boost::system::error_code ignored;
  if (open.load(std::memory_order_relaxed) >= o.maxConnections) {
    stats->add(Stat::Rejected);
    const tcp::endpoint peer = s.remote_endpoint(ignored);
    if (!o.rejectReply.empty()) {
      s.non_blocking(true, ignored);
      s.send(asio::buffer(o.rejectReply), 0, ignored);  // best effort, never waits
    }
    rejectLog.emit("refused a connection from ", endpointText(peer), ": ", o.maxConnections,
                   " connections are open (max-connections)");
    s.close(ignored);
    acceptNext();
    return;
  }
  open.fetch_add(1, std::memory_order_relaxed);
  stats->add(Stat::Open);
  try {
    auto c = std::make_shared<ConnectionImpl>(shared_from_this(), w, std::move(s));
    asio::post(pool.context(w), [c] { c->begin(); });
  } catch (const std::exception& e) {
    errorLog.emit("cannot take a connection: ", e.what());
    stats->add(Stat::Errors);
    stats->add(Stat::Open, -1);
    open.fetch_sub(1, std::memory_order_relaxed);
  }
  acceptNext();
}

void TcpListener::Core::add(const std::shared_ptr<ConnectionImpl>& c) noexcept {
  std::vector<std::shared_ptr<ConnectionImpl>>& v = workers[c->worker()].conns;
  try {
    v.push_back(c);
    c->slot = v.size() - 1;
  } catch (...) {
    c->slot = SIZE_MAX;  // not registered; its pending handlers keep it alive
  }
}

void TcpListener::Core::remove(ConnectionImpl& c) noexcept {
  std::vector<std::shared_ptr<ConnectionImpl>>& v = workers[c.worker()].conns;
  // The caller holds its own reference: the connection survives its removal from here.
  if (c.slot < v.size() && v[c.slot].get() == &c) {
    const std::size_t slot = c.slot;
    if (slot + 1 != v.size()) {
      std::swap(v[slot], v.back());
      v[slot]->slot = slot;
    }
    v.pop_back();
  }
  c.slot = SIZE_MAX;
  stats->add(Stat::Open, -1);
  {
    std::lock_guard<std::mutex> lock(mu);
    open.fetch_sub(1, std::memory_order_relaxed);
  }
  closedCv.notify_all();
}

void TcpListener::Core::armSweep(std::size_t w) noexcept {
  Worker& wk = workers[w];
  try {
    if (!wk.sweep) {
      if (stopping.load(std::memory_order_acquire)) return;
      wk.sweep = std::make_unique<asio::steady_timer>(pool.context(w));
    }
    wk.sweep->expires_after(sweepEvery);
    wk.sweep->async_wait([self = shared_from_this(), w](const boost::system::error_code& ec) {
      if (ec) return;
      const Clock::time_point now = Clock::now();
      // Copies: a connection that closes leaves the registry while it is being walked.
      std::vector<std::shared_ptr<ConnectionImpl>>& v = self->workers[w].conns;
      for (std::size_t i = v.size(); i-- > 0;) {
        if (i >= v.size()) continue;
        std::shared_ptr<ConnectionImpl> c = v[i];
        c->sweep(now);
      }
      self->armSweep(w);
    });
  } catch (const std::exception& e) {
    errorLog.emit("cannot arm the timeout sweep: ", e.what());
  }
}

void TcpListener::Core::stop(std::chrono::milliseconds grace) noexcept {
  stopping.store(true, std::memory_order_release);
  boost::system::error_code ignored;
  // After this no accept handler makes a new connection; the ones already made were posted to
  // their threads before the passes below, so they run (and close) first.
  runOn(pool.context(acceptWorker), [&] {
    if (acceptor) acceptor->close(ignored);
    if (acceptPause) acceptPause->cancel();
  });
  auto self = shared_from_this();
  for (std::size_t w = 0; w < workers.size(); ++w)
    asio::post(pool.context(w), [self, w] {
      const auto list = self->workers[w].conns;
      for (const auto& c : list) c->stopGracefully();
    });
  {
    std::unique_lock<std::mutex> lock(mu);
    closedCv.wait_for(lock, grace, [&] { return open.load(std::memory_order_relaxed) == 0; });
  }
  for (std::size_t w = 0; w < workers.size(); ++w)
    runOn(pool.context(w), [&] {
      const auto list = workers[w].conns;
      for (const auto& c : list) c->abort(CloseReason::Stopping);
      workers[w].sweep.reset();
    });
  runOn(pool.context(acceptWorker), [&] {
    acceptor.reset();
    acceptPause.reset();
  });
  std::unique_lock<std::mutex> lock(mu);
  closedCv.wait(lock, [&] { return open.load(std::memory_order_relaxed) == 0; });
}

TcpListener::TcpListener() : stats_(std::make_shared<Stats>()) {}
TcpListener::TcpListener(std::shared_ptr<Stats> stats) : stats_(std::move(stats)) {}
TcpListener::~TcpListener() { stop(); }

uint16_t TcpListener::port() const noexcept { return core_ ? core_->port : 0; }
bool TcpListener::running() const noexcept { return core_ != nullptr; }

sdk::Result TcpListener::start(IoPool& pool, Protocol& protocol, ListenerOptions options,
                               sdk::Logger& log) noexcept {
  if (core_) return sdk::Result::success();
  if (!pool.running()) return sdk::Result::failure("the I/O threads are not running");
  try {
    options.readChunkBytes = std::max<std::size_t>(options.readChunkBytes, 4096);
    options.maxPendingOutputBytes = std::max<std::size_t>(options.maxPendingOutputBytes, 1);
    auto core = std::make_shared<Core>(pool.impl(), protocol, std::move(options), log, stats_);
    if (sdk::Result r = core->bind(); !r) return r;
    core->startAccepting();
    core_ = std::move(core);
    return sdk::Result::success();
  } catch (const std::exception& e) {
    return sdk::Result::failure(std::string("cannot start listening: ") + e.what());
  }
}

void TcpListener::stop(std::chrono::milliseconds grace) noexcept {
  if (!core_) return;
  if (core_->pool.workers.empty()) {
    // The pool was stopped first, which destroyed what the listener had on it: nothing is left
    // to close, and touching it would be a use after free.
    // Its sockets and timers refer to the destroyed contexts: leak them rather than destroy them.
    core_->log.error("network listener stopped after its I/O threads (a bug in the component)");
    core_->leaked = core_;  // a cycle: never destroyed
  } else {
    core_->stop(grace);
  }
  core_.reset();
}

}  // namespace sluice::plugins::net
