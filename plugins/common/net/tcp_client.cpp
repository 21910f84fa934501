// TcpClient: blocking calls with deadlines, built from Asio's asynchronous operations run on a
// private io_context until they finish or the deadline passes (then the socket is cancelled and
// the aborted operation is reaped before returning, so nothing is left pending between calls).

#include "tcp_client.hpp"

#include <arpa/inet.h>
#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>

#include <vector>

#include "byte_buffer.hpp"
#include "held_write_socket.hpp"
#include "listener.hpp"
#include "tls_impl.hpp"

namespace sluice::plugins::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr std::size_t kReadBytes = std::size_t{64} * 1024;
// An answer is consumed as it arrives; a reader that keeps more than this is not reading one.
constexpr std::size_t kMaxUnconsumed = std::size_t{64} << 20;

bool isIpAddress(const std::string& host) {
  in6_addr a6{};
  in_addr a4{};
  return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

// What one read or write ended with, filled in by its handler.
struct Outcome {
  error_code ec;
  std::size_t bytes = 0;
  bool done = false;
  auto handler() {
    return [this](const error_code& e, std::size_t n) {
      ec = e;
      bytes = n;
      done = true;
    };
  }
};

}  // namespace

struct TcpClient::Impl {
  Impl(ClientOptions opts, sdk::Logger& l)
      : o(std::move(opts)), log(l), target(hostPort(o.host, o.port)) {}

  ClientOptions o;
  sdk::Logger& log;
  Stats stats;
  const std::string target;
  asio::io_context ctx{1};
  tcp::resolver resolver{ctx};
  std::unique_ptr<tcp::socket> socket;
  std::unique_ptr<HeldWriteSocket> tlsSocket;  // under tls: a batch leaves in one write
  std::unique_ptr<asio::ssl::stream<HeldWriteSocket&>> tls;
  bool up = false;
  Clock::time_point connectedAt{};
  Clock::time_point nextAttempt{};
  std::chrono::milliseconds backoff{0};
  std::string lastError;
  ByteBuffer in;  // received and not yet consumed
  std::vector<asio::const_buffer> gather;

  // Runs the context until *done or the deadline. On the deadline the socket is closed (every
  // caller drops the connection then) and the pending operation reaped: closed, not cancelled,
  // so that a composed operation (a TLS write, then the held bytes' write) cannot start another
  // step that would block the reaping. False then (unless it completed in the same instant).
  bool runUntil(const bool& done, Clock::time_point deadline) {
    ctx.restart();
    while (!done)
      if (ctx.run_one_until(deadline) == 0 && !done) {
        error_code ignored;
        if (socket) socket->close(ignored);
        resolver.cancel();
        ctx.restart();
        ctx.run();
        return false;
      }
    return true;
  }

  void drop() noexcept {
    error_code ignored;
    tls.reset();
    tlsSocket.reset();
    if (socket) socket->close(ignored);
    socket.reset();
    in.clear();
    in.trim(kReadBytes);
    if (up) stats.add(Stat::Closed);
    up = false;
  }

  sdk::Result failConnect(std::string why) {
    drop();
    stats.add(Stat::ConnectFailures);
    if (o.backoffMin.count() > 0) {
      backoff = backoff.count() == 0 ? o.backoffMin : std::min(backoff * 2, o.backoffMax);
      nextAttempt = Clock::now() + backoff;
    }
    lastError = why;
    return sdk::Result::failure(std::move(why));
  }

  sdk::Result connect() {
    if (up) return sdk::Result::success();
    const Clock::time_point now = Clock::now();
    if (now < nextAttempt) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(nextAttempt - now);
      return sdk::Result::failure("not reconnecting for another " + ms(left) +
                                  " (back-off after: " + lastError + ")");
    }
    stats.add(Stat::ConnectAttempts);
    const Clock::time_point deadline = now + o.connectTimeout;
    const std::string expired = "connect-timeout (" + ms(o.connectTimeout) + ") expired";
    error_code ec;
    bool done = false;
    tcp::resolver::results_type results;
    resolver.async_resolve(o.host, std::to_string(o.port), tcp::resolver::numeric_service,
                           [&](const error_code& e, tcp::resolver::results_type r) {
                             ec = e;
                             results = std::move(r);
                             done = true;
                           });
    if (!runUntil(done, deadline) || ec == asio::error::operation_aborted) {
      stats.add(Stat::ConnectTimeouts);
      return failConnect(expired + " resolving '" + o.host + "'");
    }
    if (ec) return failConnect("cannot resolve '" + o.host + "': " + ec.message());

    socket = std::make_unique<tcp::socket>(ctx);
    done = false;
    asio::async_connect(*socket, results, [&](const error_code& e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    if (!runUntil(done, deadline) || ec == asio::error::operation_aborted) {
      stats.add(Stat::ConnectTimeouts);
      return failConnect(expired);
    }
    if (ec) return failConnect(ec.message());
    if (o.noDelay) socket->set_option(tcp::no_delay(true), ec);

    if (o.tls) {
      tlsSocket = std::make_unique<HeldWriteSocket>(*socket);
      tls = std::make_unique<asio::ssl::stream<HeldWriteSocket&>>(*tlsSocket, o.tls->impl().ctx);
      const std::string name = !o.serverName.empty() ? o.serverName
                               : isIpAddress(o.host) ? std::string()
                                                     : o.host;
      if (!name.empty()) SSL_set_tlsext_host_name(tls->native_handle(), name.c_str());
      done = false;
      tls->async_handshake(asio::ssl::stream_base::client, [&](const error_code& e) {
        ec = e;
        done = true;
      });
      if (!runUntil(done, deadline) || ec == asio::error::operation_aborted) {
        stats.add(Stat::ConnectTimeouts);
        stats.add(Stat::TlsFailed);
        return failConnect(expired + " during the TLS handshake");
      }
      if (ec) {
        std::string why = "TLS handshake failed: " + ec.message();
        const long verify = SSL_get_verify_result(tls->native_handle());
        if (verify != X509_V_OK)
          why += " (certificate: " + std::string(X509_verify_cert_error_string(verify)) + ")";
        stats.add(Stat::TlsFailed);
        return failConnect(why);
      }
    }
    up = true;
    connectedAt = Clock::now();
    backoff = std::chrono::milliseconds(0);
    nextAttempt = {};
    stats.add(Stat::Connects);
    log.debug("connected to ", target, tls ? " (TLS)" : "");
    return sdk::Result::success();
  }

  sdk::Result sendUntil(std::span<const std::string_view> parts, Clock::time_point deadline) {
    if (!up) return sdk::Result::failure("not connected");
    gather.clear();
    for (std::string_view p : parts)
      if (!p.empty()) gather.emplace_back(p.data(), p.size());
    Outcome w;
    if (tls) {
      // Every record of the batch is encrypted into the held buffer, then sent with one write.
      tlsSocket->hold();
      asio::async_write(*tls, gather, [this, &w](const error_code& ec, std::size_t n) {
        if (ec) {
          tlsSocket->discard();
          return w.handler()(ec, n);
        }
        tlsSocket->release([&w, n](const error_code& e, std::size_t) { w.handler()(e, n); });
      });
    } else
      asio::async_write(*socket, gather, w.handler());
    const bool finished = runUntil(w.done, deadline);
    stats.add(Stat::BytesOut, static_cast<int64_t>(w.bytes));
    if (!finished || w.ec == asio::error::operation_aborted) {
      stats.add(Stat::RequestTimeouts);
      drop();
      return sdk::Result::failure("request-timeout (" + ms(o.requestTimeout) +
                                  ") expired while sending");
    }
    if (w.ec) {
      stats.add(Stat::Errors);
      drop();
      return sdk::Result::failure("send failed: " + w.ec.message());
    }
    return sdk::Result::success();
  }

  // Offers the kept bytes to the reader; true when it is done (or failed: *result says).
  bool offer(ResponseReader& reader, sdk::Result* result) {
    const ResponseReader::Result r = reader.onData(in.view());
    in.consume(r.consumed);
    if (r.error) {
      *result = sdk::Result::failure(std::string("bad answer: ") + r.error);
      drop();
      return true;
    }
    if (r.done) return true;
    if (in.size() > kMaxUnconsumed) {
      *result = sdk::Result::failure("bad answer: more than " + std::to_string(kMaxUnconsumed) +
                                     " bytes without an end");
      drop();
      return true;
    }
    return false;
  }

  sdk::Result receiveUntil(ResponseReader& reader, Clock::time_point deadline) {
    if (!up) return sdk::Result::failure("not connected");
    sdk::Result result = sdk::Result::success();
    if (!in.empty() && offer(reader, &result)) return result;
    for (;;) {
      char* dst = in.tail(kReadBytes);
      Outcome r;
      if (tls)
        tls->async_read_some(asio::buffer(dst, kReadBytes), r.handler());
      else
        socket->async_read_some(asio::buffer(dst, kReadBytes), r.handler());
      const bool finished = runUntil(r.done, deadline);
      const error_code& ec = r.ec;
      if (!finished || ec == asio::error::operation_aborted) {
        stats.add(Stat::RequestTimeouts);
        drop();
        return sdk::Result::failure("request-timeout (" + ms(o.requestTimeout) +
                                    ") expired waiting for the answer");
      }
      if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
        drop();
        return sdk::Result::failure("the peer closed the connection before answering");
      }
      if (ec) {
        stats.add(Stat::Errors);
        drop();
        return sdk::Result::failure("receive failed: " + ec.message());
      }
      in.commit(r.bytes);
      stats.add(Stat::BytesIn, static_cast<int64_t>(r.bytes));
      if (offer(reader, &result)) return result;
    }
  }

  bool peerGone() {
    if (!up) return false;
    pollfd p{socket->native_handle(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR)) || !tls)
      return true;  // the end of the stream, a reset, or bytes nobody asked for
    // TLS 1.3 servers send session tickets after the handshake: take them in. Application
    // data, a close_notify or an error mean the connection is done.
    char scratch[4096];
    Outcome r;
    tls->async_read_some(asio::buffer(scratch), r.handler());
    ctx.restart();
    ctx.poll();
    if (r.done) return true;  // data or an error
    error_code ignored;
    socket->cancel(ignored);
    ctx.restart();
    ctx.run();
    return r.ec && r.ec != asio::error::operation_aborted;
  }
};

TcpClient::TcpClient(ClientOptions options, sdk::Logger& log)
    : impl_(std::make_unique<Impl>(std::move(options), log)) {}

TcpClient::~TcpClient() { close(); }

sdk::Result TcpClient::connect() noexcept {
  try {
    return impl_->connect();
  } catch (const std::exception& e) {
    impl_->drop();
    return sdk::Result::failure(std::string("cannot connect: ") + e.what());
  }
}

bool TcpClient::connected() const noexcept { return impl_->up; }
void TcpClient::close() noexcept { impl_->drop(); }

bool TcpClient::peerGone() noexcept {
  try {
    return impl_->peerGone();
  } catch (const std::exception&) {
    return true;
  }
}

sdk::Result TcpClient::send(std::span<const std::string_view> parts) noexcept {
  try {
    return impl_->sendUntil(parts, Clock::now() + impl_->o.requestTimeout);
  } catch (const std::exception& e) {
    impl_->drop();
    return sdk::Result::failure(std::string("send failed: ") + e.what());
  }
}

sdk::Result TcpClient::receive(ResponseReader& reader) noexcept {
  try {
    return impl_->receiveUntil(reader, Clock::now() + impl_->o.requestTimeout);
  } catch (const std::exception& e) {
    impl_->drop();
    return sdk::Result::failure(std::string("receive failed: ") + e.what());
  }
}

sdk::Result TcpClient::request(std::span<const std::string_view> parts,
                               ResponseReader& reader) noexcept {
  try {
    const Clock::time_point deadline = Clock::now() + impl_->o.requestTimeout;
    if (sdk::Result r = impl_->sendUntil(parts, deadline); !r) return r;
    return impl_->receiveUntil(reader, deadline);
  } catch (const std::exception& e) {
    impl_->drop();
    return sdk::Result::failure(std::string("request failed: ") + e.what());
  }
}

std::chrono::steady_clock::time_point TcpClient::connectedAt() const noexcept {
  return impl_->connectedAt;
}
const std::string& TcpClient::target() const noexcept { return impl_->target; }
Stats& TcpClient::stats() noexcept { return impl_->stats; }

std::string TcpClient::tlsProtocol() const {
  return impl_->tls ? SSL_get_version(impl_->tls->native_handle()) : "";
}

std::string TcpClient::tlsCipher() const {
  if (!impl_->tls) return {};
  const SSL_CIPHER* c = SSL_get_current_cipher(impl_->tls->native_handle());
  return c ? SSL_CIPHER_standard_name(c) : "";
}

}  // namespace sluice::plugins::net
