#include "core/cli/avro_client/rpc_connection.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "plugins/common/tcp_connect.hpp"
#include "plugins/common/text_util.hpp"

namespace sluice::core::cli {
namespace rpc = plugins::avro;
using Clock = std::chrono::steady_clock;

namespace {

// Waits until fd is ready for `events` or the deadline passes.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, plugins::net::msUntil(deadline));
    if (r < 0 && errno == EINTR) continue;
    return r > 0;
  }
}

}  // namespace

RpcConnection::RpcConnection(std::string host, int port, std::chrono::milliseconds connectTimeout,
                             std::chrono::milliseconds requestTimeout)
    : host_(std::move(host)),
      port_(port),
      connectTimeout_(connectTimeout),
      requestTimeout_(requestTimeout) {}

RpcConnection::~RpcConnection() {
  if (fd_ >= 0) ::close(fd_);
}

std::string RpcConnection::target() const {
  return (host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_) + ":" +
         std::to_string(port_);
}

bool RpcConnection::connect(std::string* error) {
  std::string why;
  fd_ = plugins::net::connectTcp(host_, port_, Clock::now() + connectTimeout_,
                                 connectTimeout_.count(), &why);
  if (fd_ < 0) {
    *error = "cannot connect to " + target() + ": " + why;
    return false;
  }
  handshake_ = plugins::avro::ClientHandshake{};
  return true;
}

bool RpcConnection::sendAll(const std::string& a, const std::string& b, std::string* error) {
  for (const std::string* part : {&a, &b}) {
    std::size_t off = 0;
    while (off < part->size()) {
      const ssize_t n = ::send(fd_, part->data() + off, part->size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (waitFor(fd_, POLLOUT, deadline_)) continue;
        *error = "request-timeout (" + std::to_string(requestTimeout_.count()) +
                 " ms) expired while sending";
        return false;
      }
      *error = std::string("send failed: ") + plugins::text::errnoText(errno);
      return false;
    }
  }
  return true;
}

bool RpcConnection::readResponse(int32_t serial, std::string* error) {
  rpc::ResponseFrame frame(limits_);
  char buf[16384];
  while (!frame.done()) {
    if (!waitFor(fd_, POLLIN, deadline_)) {
      *error = "request-timeout (" + std::to_string(requestTimeout_.count()) +
               " ms) expired waiting for the answer";
      return false;
    }
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      *error = std::string("receive failed: ") + plugins::text::errnoText(errno);
      return false;
    }
    if (n == 0) {
      *error = "the avro source closed the connection before answering";
      return false;
    }
    if (!frame.feed(buf, static_cast<std::size_t>(n), error)) return false;
  }
  if (!frame.answers(serial, error)) return false;
  frame.takePayload(response_);
  return true;
}

bool RpcConnection::appendBatch(std::span<const sdk::Event> events, std::string* error) {
  if (fd_ < 0 && !connect(error)) return false;
  body_.clear();
  rpc::appendCallHeader(body_, "appendBatch");
  rpc::appendEventArray(body_, events);
  deadline_ = Clock::now() + requestTimeout_;
  // At most three tries: the first, and the resend with our protocol text after a NONE.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int32_t serial = ++serial_;
    rpc::beginRequest(head_, handshake_, serial, body_.size());
    if (!sendAll(head_, body_, error) || !readResponse(serial, error)) return false;
    rpc::RpcStatus status = rpc::RpcStatus::Unknown;
    std::string why;
    const rpc::ResponseKind kind =
        rpc::readCallResponse(response_, handshake_, limits_, status, why);
    // NONE: the source did not know our protocol's hash; the request goes again with its text.
    if (kind == rpc::ResponseKind::Resend) continue;
    if (kind == rpc::ResponseKind::Status && status == rpc::RpcStatus::Ok) return true;
    if (kind == rpc::ResponseKind::Status)
      *error = target() + " answered " + rpc::nameOf(status) + " to " +
               std::to_string(events.size()) + " events";
    else if (kind == rpc::ResponseKind::Error)
      *error = target() + " answered an error: " + why;
    else
      *error = "bad answer from " + target() + ": " + why;
    return false;
  }
  *error = target() + " refused the handshake even with the protocol text";
  return false;
}

}  // namespace sluice::core::cli
