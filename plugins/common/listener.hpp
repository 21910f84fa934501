// The listening side of the TCP sources (netcat, avro): address text for messages and logs, and
// the listening socket itself. Header-only, compiled into each plugin that uses it.
#pragma once

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "text_util.hpp"

namespace sluice::plugins::net {

using text::errnoText;

// "host:port", or "[v6]:port" so that the port stays readable.
inline std::string hostPort(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

// A peer's address as hostPort() writes it ("?" for a family other than IPv4/IPv6).
inline std::string sockaddrText(const sockaddr_storage& ss) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    port = ntohs(in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    port = ntohs(in6->sin6_port);
  }
  return hostPort(ip, port);
}

struct Listener {
  int fd = -1;        // non-blocking, close-on-exec; the caller closes it
  uint16_t port = 0;  // the bound port (the kernel's choice when 0 was asked for)
};

// Listens on the first address `bind` resolves to that accepts bind() and listen(), with
// SO_REUSEADDR so that a restart does not wait out TIME_WAIT. Throws std::runtime_error naming
// bind:port and the reason (resolution or the last socket error).
inline Listener openListener(const std::string& bind, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  const std::string portText = std::to_string(port);
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(bind.c_str(), portText.c_str(), &hints, &res); rc != 0)
    throw std::runtime_error("cannot bind to " + hostPort(bind, port) + ": cannot resolve '" +
                             bind + "': " + ::gai_strerror(rc));
  Listener l;
  int lastErr = EADDRNOTAVAIL;
  for (addrinfo* ai = res; ai && l.fd < 0; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      lastErr = errno;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) {
      l.fd = fd;
    } else {
      lastErr = errno;
      ::close(fd);
    }
  }
  ::freeaddrinfo(res);
  if (l.fd < 0)
    throw std::runtime_error("cannot bind to " + hostPort(bind, port) + ": " +
                             errnoText(lastErr));
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(l.fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    l.port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return l;
}

}  // namespace sluice::plugins::net
