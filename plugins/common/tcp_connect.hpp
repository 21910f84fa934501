#pragma once
// A TCP client connection opened within a deadline, for the blocking RPC clients (the avro sink,
// sluice avro-client): each address the host name resolves to is tried in turn. Header-only;
// POSIX sockets.

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "text_util.hpp"

namespace sluice::plugins::net {

// Milliseconds until `deadline` (0 once it has passed), for poll().
inline int msUntil(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

// Connects to host:port before `deadline`. Returns a non-blocking socket with TCP_NODELAY set,
// or -1 with *error saying why: "cannot resolve 'h': ...", the last address's error, or
// "connect-timeout (<timeoutMs> ms) expired" (timeoutMs only names the timeout in that text).
inline int connectTcp(const std::string& host, int port,
                      std::chrono::steady_clock::time_point deadline, int64_t timeoutMs,
                      std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    *error = "cannot resolve '" + host + "': " + ::gai_strerror(rc);
    return -1;
  }
  std::string lastError = "no address";
  int connected = -1;
  for (addrinfo* ai = res; ai && connected < 0; ai = ai->ai_next) {
    const int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      lastError = text::errnoText(errno);
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int pr;
      do {
        pr = ::poll(&p, 1, msUntil(deadline));
      } while (pr < 0 && errno == EINTR);
      if (pr == 0) {
        lastError = "connect-timeout (" + std::to_string(timeoutMs) + " ms) expired";
        ::close(fd);
        continue;
      }
      int soError = 0;
      socklen_t len = sizeof soError;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len);
      rc = soError == 0 ? 0 : -1;
      errno = soError;
    }
    if (rc != 0) {
      lastError = text::errnoText(errno);
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    connected = fd;
  }
  ::freeaddrinfo(res);
  if (connected < 0) *error = lastError;
  return connected;
}

}  // namespace sluice::plugins::net
