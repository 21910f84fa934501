#include "avro_sink.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "config_keys.hpp"
#include "counter_layout.hpp"
#include "text_util.hpp"
#include "tcp_connect.hpp"

namespace sluice::plugins::avro_sink {

namespace rpc = sluice::plugins::avro;
using Clock = AvroSink::Clock;

namespace {

constexpr std::size_t kReadBytes = std::size_t{64} * 1024;
// A response is a handshake (with the server's protocol text) and a Status: small. Anything
// larger is not a Flume server.
constexpr std::size_t kMaxResponseBytes = 4u << 20;

using text::errnoText;
using text::lower;
using text::trimmed;

int msLeft(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
}

}  // namespace

const sdk::Schema& avroSinkSchema() {
  static const sdk::Schema schema{
      sdk::Key("hostname")
          .string()
          .req()
          .doc("Host name or IP address of the next hop's avro "
               "source"),
      sdk::Key("port").integer().req().range(1, 65535).doc("Port of the next hop's avro source"),
      sdk::Key("batch-size")
          .integer()
          .def("100")
          .range(1, 1000000)
          .doc("Events taken from the channel and sent in one appendBatch"),
      sdk::Key("connect-timeout")
          .longValue()
          .def("20000")
          .range(1000, 3600000)
          .doc("Milliseconds to wait for a connection to the next hop"),
      sdk::Key("request-timeout")
          .longValue()
          .def("20000")
          .range(1000, 3600000)
          .doc("Milliseconds to wait for the next hop's answer to a batch"),
      sdk::Key("reset-connection-interval")
          .longValue()
          .def("0")
          .range(0, 31536000)
          .doc("Seconds after which the connection is closed and opened again; 0 means never"),
      sdk::Key("compression-type")
          .oneOf({"none", "deflate"})
          .def("none")
          .doc("deflate compresses the connection; the next hop's source must use deflate too"),
      sdk::Key("compression-level")
          .integer()
          .def("6")
          .range(0, 9)
          .doc("zlib level for compression-type = deflate: 0 stores, 9 compresses most"),
      sdk::Key("ssl").boolean().def("false").doc(
          "Connect with TLS; the next hop's source must use ssl = true too"),
      sdk::Key("trust-all-certs")
          .boolean()
          .def("false")
          .doc("Accept any server certificate, unverified (used only with ssl = true)"),
      sdk::Key("truststore")
          .string()
          .doc("Certificates to trust, PKCS12 or PEM; none means the system's CAs (with ssl = "
               "true)"),
      sdk::Key("truststore-password")
          .string()
          .isSecret()
          .doc("Password of the trust store (used only with ssl = true)"),
      sdk::Key("truststore-type")
          .string()
          .def("JKS")
          .doc("PKCS12, PEM, or JKS (read only when the file is really PKCS12)"),
      sdk::Key("exclude-protocols")
          .string()
          .def("SSLv3")
          .doc("TLS protocols not to use, space-separated (used only with ssl = true)"),
      sdk::Key("maxIoWorkers")
          .flumeIgnored("accepted and ignored: the sink sends from its runner thread, without an "
                        "I/O worker pool"),
  };
  return schema;
}

AvroSink::AvroSink() : readBuf_(new char[kReadBytes]) {
  counter_layout::addInOrder(sinkCounter(), kHandshakeNoneCount,
                             {"HandshakeNoneCount", "BatchRefusedCount"}, "avro sink");
  limits_.maxFrameBytes = kMaxResponseBytes;
  limits_.maxBuffers = 1 << 16;
}

AvroSink::~AvroSink() { disconnect(); }

void AvroSink::configure(const sdk::Context& context) {
  AvroSinkSettings s;
  s.hostname = trimmed(context.requireString("hostname"));
  s.port = static_cast<int>(requireInteger(context, "port"));
  s.batchSize = static_cast<std::size_t>(requireInteger(context, "batch-size"));
  s.connectTimeout = std::chrono::milliseconds(requireLong(context, "connect-timeout"));
  s.requestTimeout = std::chrono::milliseconds(requireLong(context, "request-timeout"));
  s.resetConnectionInterval =
      std::chrono::seconds(requireLong(context, "reset-connection-interval"));
  s.deflate = lower(trimmed(requireValue(context, "compression-type"))) == "deflate";
  s.compressionLevel = static_cast<int>(requireInteger(context, "compression-level"));
  if (requireBoolean(context, "ssl")) {
    tls::TlsOptions o;
    o.trustAllCerts = requireBoolean(context, "trust-all-certs");
    o.truststore = trimmed(context.getString("truststore", ""));
    o.truststorePassword = context.getString("truststore-password", "");
    o.truststoreType = trimmed(requireValue(context, "truststore-type"));
    o.excludeProtocols = tls::splitNames(requireValue(context, "exclude-protocols"));
    try {
      s.tls = tls::TlsContext::client(o);
    } catch (const tls::TlsConfigError& e) {
      context.fail(e.key, e.what());
    }
    if (o.trustAllCerts)
      logger().warn(context.describe("trust-all-certs"),
                    " = true: the next hop's certificate is not verified");
  }
  disconnect();  // a reload may point the sink elsewhere
  s_ = std::move(s);
  configured_ = true;
}

void AvroSink::start() {
  if (!configured_) throw std::logic_error("avro sink started before configure()");
  logger().info("sending to ", target(), s_.tls ? " over TLS" : "",
                s_.deflate ? " (compression-type deflate)" : "");
}

void AvroSink::stop() { disconnect(); }

std::string AvroSink::target() const {
  if (s_.hostname.find(':') != std::string::npos)
    return "[" + s_.hostname + "]:" + std::to_string(s_.port);
  return s_.hostname + ":" + std::to_string(s_.port);
}

bool AvroSink::connect(std::string* error) {
  const Clock::time_point deadline = Clock::now() + s_.connectTimeout;
  fd_ = net::connectTcp(s_.hostname, s_.port, deadline, s_.connectTimeout.count(), error);
  if (fd_ < 0) return false;
  hs_ = rpc::ClientHandshake{};
  connectedAt_ = Clock::now();
  if (s_.tls && !tlsHandshake(deadline, error)) {
    disconnect();
    return false;
  }
  if (s_.deflate) {
    deflater_ = std::make_unique<zlib_stream::Deflater>();
    inflater_ = std::make_unique<zlib_stream::Inflater>();
    if (!inflateBuf_) inflateBuf_.reset(new char[kReadBytes]);
    if (!deflater_->init(s_.compressionLevel) || !inflater_->init()) {
      disconnect();
      *error = "zlib initialisation failed";
      return false;
    }
  }
  sinkCounter().incrementConnectionCreatedCount();
  logger().info("connected to ", target(), tlsSession_ ? " (TLS)" : "");
  return true;
}

bool AvroSink::tlsHandshake(Clock::time_point deadline, std::string* error) {
  in6_addr probe6{};
  in_addr probe4{};
  const bool numeric = ::inet_pton(AF_INET, s_.hostname.c_str(), &probe4) == 1 ||
                       ::inet_pton(AF_INET6, s_.hostname.c_str(), &probe6) == 1;
  tlsSession_ = std::make_unique<tls::TlsSession>(*s_.tls, numeric ? "" : s_.hostname);
  if (!tlsBuf_) tlsBuf_.reset(new char[kReadBytes]);
  for (;;) {
    tlsOut_.clear();
    std::string why;
    if (!tlsSession_->handshake(tlsOut_, &why)) {
      *error = "TLS handshake failed: " + why;
      return false;
    }
    if (!tlsOut_.empty()) {
      iovec iov{tlsOut_.data(), tlsOut_.size()};
      if (!sendBytes(&iov, 1, deadline, "connect-timeout", error)) return false;
    }
    if (tlsSession_->handshakeDone()) return true;
    pollfd p{fd_, POLLIN, 0};
    const int left = msLeft(deadline);
    const int pr = left == 0 ? 0 : ::poll(&p, 1, left);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) {
      *error = "connect-timeout (" + std::to_string(s_.connectTimeout.count()) +
               " ms) expired during the TLS handshake";
      return false;
    }
    const ssize_t n = ::recv(fd_, readBuf_.get(), kReadBytes, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) {
      *error = "the next hop closed the connection during the TLS handshake";
      return false;
    }
    tlsOut_.clear();
    bool early = false;
    if (!tlsSession_->feed(
            readBuf_.get(), static_cast<std::size_t>(n), tlsBuf_.get(), kReadBytes, tlsOut_,
            [&](const char*, std::size_t) {
              early = true;
              return false;
            },
            &why) ||
        early) {
      *error = "TLS handshake failed: " + (early ? std::string("unexpected data") : why);
      return false;
    }
    if (!tlsOut_.empty()) {
      iovec iov{tlsOut_.data(), tlsOut_.size()};
      if (!sendBytes(&iov, 1, deadline, "connect-timeout", error)) return false;
    }
  }
}

void AvroSink::disconnect() noexcept {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  deflater_.reset();
  inflater_.reset();
  tlsSession_.reset();
  sinkCounter().incrementConnectionClosedCount();
}

bool AvroSink::peerGone() noexcept {
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR)) || !tlsSession_)
    return true;  // EOF, reset, or bytes nobody asked for: this connection is done
  // TLS 1.3 servers send session tickets after the handshake: take them in; anything else
  // (application data, a close_notify, an error) ends the connection.
  const ssize_t n = ::recv(fd_, readBuf_.get(), kReadBytes, MSG_DONTWAIT);
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  if (n == 0) return true;
  bool data = false;
  std::string why;
  tlsOut_.clear();
  try {
    if (!tlsSession_->feed(
            readBuf_.get(), static_cast<std::size_t>(n), tlsBuf_.get(), kReadBytes, tlsOut_,
            [&](const char*, std::size_t) {
              data = true;
              return false;
            },
            &why))
      return true;
  } catch (...) {
    return true;
  }
  return data || tlsSession_->peerClosed() || !tlsOut_.empty();
}

bool AvroSink::sendBytes(const iovec* iovIn, int iovcnt, Clock::time_point deadline,
                         const char* what, std::string* error) {
  iovec iov[2];
  for (int i = 0; i < iovcnt; ++i) iov[i] = iovIn[i];
  int first = 0;
  while (first < iovcnt) {
    msghdr msg{};
    msg.msg_iov = iov + first;
    msg.msg_iovlen = static_cast<std::size_t>(iovcnt - first);
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        *error = "send failed: " + errnoText(errno);
        return false;
      }
      pollfd p{fd_, POLLOUT, 0};
      const int left = msLeft(deadline);
      if (left == 0 || (::poll(&p, 1, left) == 0 && msLeft(deadline) == 0)) {
        *error = std::string(what) + " expired while sending";
        return false;
      }
      continue;
    }
    auto sent = static_cast<std::size_t>(n);
    while (first < iovcnt && sent >= iov[first].iov_len) sent -= iov[first++].iov_len;
    if (first < iovcnt) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + sent;
      iov[first].iov_len -= sent;
    }
  }
  return true;
}

template <class OnPlain>
bool AvroSink::receive(const char* data, std::size_t n, OnPlain&& onPlain, std::string* error) {
  const char* zerr = nullptr;
  auto plain = [&](const char* d, std::size_t len) -> bool {
    if (!inflater_) return onPlain(d, len);
    return inflater_->feed(d, len, inflateBuf_.get(), kReadBytes, onPlain, &zerr) && !zerr;
  };
  if (tlsSession_) {
    tlsOut_.clear();
    std::string why;
    if (!tlsSession_->feed(data, n, tlsBuf_.get(), kReadBytes, tlsOut_, plain, &why)) {
      *error = "bad answer: " + why;
      return false;
    }
    if (!tlsOut_.empty()) {  // TLS's own answer (a key update): it must go out, in order
      iovec iov{tlsOut_.data(), tlsOut_.size()};
      if (!sendBytes(&iov, 1, Clock::now() + s_.requestTimeout, "request-timeout", error))
        return false;
    }
    if (tlsSession_->peerClosed() && !zerr) {
      *error = "the next hop closed the TLS session before answering";
      return false;
    }
  } else {
    plain(data, n);
  }
  if (zerr) {
    *error = std::string("bad answer: ") + zerr;
    return false;
  }
  return true;
}

bool AvroSink::sendFrame(Clock::time_point deadline, std::string* error) {
  iovec iov[2];
  int iovcnt = 2;
  iov[0] = {head_.data(), head_.size()};
  iov[1] = {body_.data(), body_.size()};
  if (deflater_) {
    wire_.clear();
    if (!deflater_->compress(head_.data(), head_.size(), wire_) ||
        !deflater_->compress(body_.data(), body_.size(), wire_)) {
      *error = "deflate failed";
      return false;
    }
    iov[0] = {wire_.data(), wire_.size()};
    iovcnt = 1;
  }
  if (tlsSession_) {
    tlsOut_.clear();
    std::string why;
    for (int i = 0; i < iovcnt; ++i)
      if (!tlsSession_->write(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len, tlsOut_,
                              &why)) {
        *error = why;
        return false;
      }
    iov[0] = {tlsOut_.data(), tlsOut_.size()};
    iovcnt = 1;
  }
  const std::string what = "request-timeout (" + std::to_string(s_.requestTimeout.count()) + " ms)";
  return sendBytes(iov, iovcnt, deadline, what.c_str(), error);
}

bool AvroSink::readFrame(int32_t serial, Clock::time_point deadline, std::string* error) {
  rpc::ResponseFrame frame(limits_);
  while (!frame.done()) {
    pollfd p{fd_, POLLIN, 0};
    const int left = msLeft(deadline);
    int pr = left == 0 ? 0 : ::poll(&p, 1, left);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) {
      *error = "request-timeout (" + std::to_string(s_.requestTimeout.count()) +
               " ms) expired waiting for the answer";
      return false;
    }
    const ssize_t n = ::recv(fd_, readBuf_.get(), kReadBytes, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      *error = "receive failed: " + errnoText(errno);
      return false;
    }
    if (n == 0) {
      *error = "the next hop closed the connection before answering";
      return false;
    }
    bool framed = true;
    auto toFrames = [&](const char* d, std::size_t len) {
      framed = frame.feed(d, len, error);
      return framed && !frame.done();
    };
    if (!receive(readBuf_.get(), static_cast<std::size_t>(n), toFrames, error) || !framed)
      return false;
  }
  if (!frame.answers(serial, error)) return false;
  frame.takePayload(response_);
  return true;
}

bool AvroSink::exchange(std::span<const sdk::Event> events, rpc::RpcStatus* status,
                        std::string* error) {
  body_.clear();
  rpc::appendCallHeader(body_, "appendBatch");
  rpc::appendEventArray(body_, events);
  const Clock::time_point deadline = Clock::now() + s_.requestTimeout;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int32_t serial = ++serial_;
    rpc::beginRequest(head_, hs_, serial, body_.size());
    if (!sendFrame(deadline, error) || !readFrame(serial, deadline, error)) return false;
    std::string why;
    switch (rpc::readCallResponse(response_, hs_, limits_, *status, why)) {
      case rpc::ResponseKind::Status:
        if (hs_.lastMatch != rpc::HandshakeMatch::Both && attempt == 0)
          logger().debug("handshake with ", target(), ": ", rpc::nameOf(hs_.lastMatch));
        return true;
      case rpc::ResponseKind::Resend:
        sinkCounter().increment(kHandshakeNoneCount);
        logger().debug(target(),
                       " does not know this protocol's hash (handshake NONE); "
                       "sending the protocol text");
        continue;
      case rpc::ResponseKind::Error:
        *error = "the next hop answered an error: " + why;
        return false;
      case rpc::ResponseKind::Malformed:
        *error = "bad answer: " + why;
        return false;
    }
  }
  *error = "the next hop refused the handshake even with the protocol text";
  return false;
}

sdk::Status AvroSink::process() {
  sdk::Channel* channel = getChannel();
  if (!channel) return deliveryFailed("no channel attached");
  sdk::SinkCounter& counter = sinkCounter();

  if (fd_ >= 0 && s_.resetConnectionInterval.count() > 0 &&
      Clock::now() - connectedAt_ >= s_.resetConnectionInterval) {
    logger().debug("reset-connection-interval passed: reconnecting to ", target());
    disconnect();
  }
  if (fd_ >= 0 && peerGone()) {
    logger().info(target(), " closed the connection; reconnecting");
    disconnect();
  }
  if (fd_ < 0) {
    std::string error;
    if (!connect(&error)) {
      counter.incrementConnectionFailedCount();
      return deliveryFailed("cannot connect to " + target() + ": " + error);
    }
  }

  sdk::SinkBatch tx(*this, s_.batchSize);
  if (!tx.ok()) return deliveryFailed(tx.error());
  const std::size_t n = tx.size();
  if (n == 0) return sdk::Status::BACKOFF;

  rpc::RpcStatus status = rpc::RpcStatus::Unknown;
  std::string error;
  if (!exchange(tx.events(), &status, &error)) {
    counter.incrementEventWriteFail();
    tx.rollback();
    disconnect();
    return deliveryFailed("sending " + std::to_string(n) + " events to " + target() +
                          " failed: " + error + "; rolled back, to be sent again");
  }
  if (status != rpc::RpcStatus::Ok) {
    // The hop is up but its channels refused the batch (full): keep the connection.
    counter.increment(kBatchRefusedCount);
    tx.rollback();
    return deliveryFailed(target() + " answered " + rpc::nameOf(status) + " to " +
                          std::to_string(n) + " events; rolled back, to be sent again");
  }
  if (sdk::Result r = tx.commit(); !r) {
    return deliveryFailed("commit to channel '" + channel->getName() + "' failed after " +
                          target() + " took the batch: " + r.error() +
                          " (the events will be sent again)");
  }
  return n < s_.batchSize ? sdk::Status::BACKOFF : sdk::Status::READY;
}

}  // namespace sluice::plugins::avro_sink
