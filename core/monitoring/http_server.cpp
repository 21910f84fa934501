#include "core/monitoring/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace sluice::core::monitoring {

using Clock = std::chrono::steady_clock;

// How many requests one connection gets answered before the others have their turn: a client
// that pipelines hundreds of requests (and reads the answers as fast as they come) would
// otherwise keep the server thread to itself while each /metrics is rendered.
constexpr int kRequestsPerTurn = 4;

struct HttpServer::Conn {
  int fd = -1;
  std::string in;
  std::string out;
  std::size_t outOff = 0;
  bool closeAfterWrite = false;
  bool writing = false;
  bool peerClosed = false;           // the client sent FIN: answer what is buffered, then close
  bool queued = false;               // on pending_
  Clock::time_point firstByte{};     // of the request being read; {} while idle
  Clock::time_point lastActivity{};  // last complete response or accept
  Clock::time_point writeStart{};
};

// Lets the first occurrence of a kind of rejection through, then at most one log line per
// interval carrying how many were held back, so that a hostile or broken client cannot turn the
// agent's log into a flood. Server thread only.
class HttpServer::RejectLog {
 public:
  explicit RejectLog(Clock::duration every) : every_(every) {}
  // True when this occurrence may be logged; *suppressed is then the number held back since.
  bool admit(Clock::time_point now, int64_t* suppressed) {
    if (now < next_) {
      ++suppressed_;
      return false;
    }
    *suppressed = suppressed_;
    suppressed_ = 0;
    next_ = now + every_;
    return true;
  }

 private:
  Clock::duration every_;
  Clock::time_point next_{};
  int64_t suppressed_ = 0;
};

namespace {
std::string heldBack(int64_t n) {
  return n > 0 ? " (" + std::to_string(n) + " similar since the last report)" : std::string();
}

// Peer address of a socket as "ip:port", for rejection logs.
std::string peerOf(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
  ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
  port = ntohs(a->sin_port);
  return std::string(host) + ":" + std::to_string(port);
}
}  // namespace

const char* reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

HttpServer::HttpServer(ServerOptions options, Handler handler, std::shared_ptr<spdlog::logger> log)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      log_(std::move(log)),
      refusedLog_(std::make_unique<RejectLog>(options_.rejectLogInterval)),
      badRequestLog_(std::make_unique<RejectLog>(options_.rejectLogInterval)),
      timeoutLog_(std::make_unique<RejectLog>(options_.rejectLogInterval)) {}

HttpServer::~HttpServer() { stop(); }

sdk::Result HttpServer::start() {
  if (thread_.joinable()) return sdk::Result::success();
  std::string where = options_.bind + ":" + std::to_string(options_.port);
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (options_.bind.find(':') != std::string::npos) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(options_.port));
    std::string host = options_.bind;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) != 1)
      return sdk::Result::failure("monitoring.bind: '" + options_.bind + "' is not an IP address");
    family = AF_INET6;
    len = sizeof(sockaddr_in6);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<uint16_t>(options_.port));
    std::string host = options_.bind == "localhost" ? "127.0.0.1" : options_.bind;
    if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) != 1)
      return sdk::Result::failure("monitoring.bind: '" + options_.bind + "' is not an IP address");
    len = sizeof(sockaddr_in);
  }
  listenFd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listenFd_ < 0)
    return sdk::Result::failure("monitoring: socket(): " + std::string(std::strerror(errno)));
  int one = 1;
  ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      ::listen(listenFd_, 128) != 0) {
    std::string err = std::strerror(errno);
    ::close(listenFd_);
    listenFd_ = -1;
    return sdk::Result::failure("monitoring: cannot listen on " + where + ": " + err);
  }
  sockaddr_storage got{};
  socklen_t gotLen = sizeof(got);
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&got), &gotLen);
  boundPort_ = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&got)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&got)->sin_port);
  epollFd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wakeFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epollFd_ < 0 || wakeFd_ < 0) return sdk::Result::failure("monitoring: epoll/eventfd failed");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listenFd_;
  ::epoll_ctl(epollFd_, EPOLL_CTL_ADD, listenFd_, &ev);
  ev.data.fd = wakeFd_;
  ::epoll_ctl(epollFd_, EPOLL_CTL_ADD, wakeFd_, &ev);
  stop_ = false;
  thread_ = std::thread([this] { run(); });
  return sdk::Result::success();
}

void HttpServer::stop() {
  if (thread_.joinable()) {
    stop_ = true;
    uint64_t one = 1;
    (void)!::write(wakeFd_, &one, sizeof(one));
    thread_.join();
  }
  for (auto& c : conns_)
    if (c) ::close(c->fd);
  conns_.clear();
  open_ = 0;
  for (int* fd : {&listenFd_, &epollFd_, &wakeFd_})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
}

void HttpServer::closeConn(int fd) {
  if (fd < 0 || static_cast<std::size_t>(fd) >= conns_.size() || !conns_[fd]) return;
  ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  conns_[fd].reset();
  --open_;
  stats_.open.store(static_cast<int64_t>(open_), std::memory_order_relaxed);
}

void HttpServer::acceptAll() {
  for (;;) {
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
        log_->warn("monitoring: accept failed: {}", std::strerror(errno));
      return;
    }
    if (open_ >= options_.maxConnections) {
      // Over the limit: a short best-effort answer, then close. Never waits on this client.
      static const char kBusy[] =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 33\r\n"
          "Connection: close\r\n\r\ntoo many monitoring connections\r\n";
      (void)!::send(fd, kBusy, sizeof(kBusy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      int64_t held = 0;
      if (refusedLog_->admit(Clock::now(), &held))
        log_->warn("monitoring: refused a connection from {} with 503: {} connections are open "
                   "(monitoring.maxConnections){}",
                   peerOf(fd), open_, heldBack(held));
      ::close(fd);
      stats_.refused.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(fd + 1);
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->lastActivity = Clock::now();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    if (::epoll_ctl(epollFd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conns_[fd] = std::move(c);
    ++open_;
    stats_.open.store(static_cast<int64_t>(open_), std::memory_order_relaxed);
    stats_.accepted.fetch_add(1, std::memory_order_relaxed);
  }
}

void HttpServer::queueResponse(Conn& c, const HttpResponse& r, bool head) {
  std::string& o = c.out;
  o += "HTTP/1.1 ";
  o += std::to_string(r.status);
  o += ' ';
  o += reasonPhrase(r.status);
  o += "\r\nContent-Type: ";
  o += r.contentType;
  o += "\r\nContent-Length: ";
  o += std::to_string(r.body.size());
  o += "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n";
  for (const auto& [k, v] : r.headers) {
    o += k;
    o += ": ";
    o += v;
    o += "\r\n";
  }
  if (r.close) {
    o += "Connection: close\r\n";
    c.closeAfterWrite = true;
  } else {
    o += "Connection: keep-alive\r\n";
  }
  o += "\r\n";
  if (!head) o += r.body;
}

void HttpServer::serveBuffered(Conn& c) {
  const int fd = c.fd;  // c is destroyed when the connection closes
  // One request at a time: the next pipelined one is parsed once this response is out.
  int served = 0;
  while (!c.writing && !c.closeAfterWrite && !c.in.empty()) {
    if (served++ == kRequestsPerTurn) {
      if (!c.queued) {
        c.queued = true;
        pending_.push_back(fd);
      }
      return;
    }
    HttpRequest req;
    ParseResult pr = parseRequest(c.in, options_.limits, req);
    if (pr.state == ParseResult::State::Incomplete) return;
    HttpResponse resp;
    bool head = false;
    if (pr.state == ParseResult::State::Error) {
      stats_.badRequests.fetch_add(1, std::memory_order_relaxed);
      int64_t held = 0;
      if (badRequestLog_->admit(Clock::now(), &held))
        log_->warn("monitoring: answered {} {} to {} and closed: {}{}", pr.status,
                   reasonPhrase(pr.status), peerOf(fd), pr.reason, heldBack(held));
      resp.status = pr.status;
      resp.body = pr.reason + "\n";
      resp.close = true;
      c.in.clear();
    } else {
      stats_.requests.fetch_add(1, std::memory_order_relaxed);
      head = req.method == "HEAD";
      try {
        resp = handler_(req);
      } catch (const std::exception& e) {
        resp = HttpResponse{};
        resp.status = 500;
        resp.body = std::string("internal error: ") + e.what() + "\n";
      }
      if (!req.keepAlive || c.peerClosed) resp.close = true;
      c.in.erase(0, pr.consumed);
    }
    c.firstByte = c.in.empty() ? Clock::time_point{} : Clock::now();
    queueResponse(c, resp, head);
    c.writing = true;
    c.writeStart = Clock::now();
    onWritable(c);
    if (!conns_[fd]) return;  // closed
  }
}

void HttpServer::servePending() {
  std::vector<int> turn;
  turn.swap(pending_);
  for (const int fd : turn) {
    if (static_cast<std::size_t>(fd) >= conns_.size() || !conns_[fd] || !conns_[fd]->queued)
      continue;  // closed meanwhile (the fd may already belong to another connection)
    Conn& c = *conns_[fd];
    c.queued = false;
    serveBuffered(c);
    if (conns_[fd] && c.peerClosed && !c.writing && !c.queued) closeConn(fd);
  }
}

std::size_t HttpServer::maxBufferedInput() const {
  // The parser settles any request within maxHeaderBytes of head plus as much body (413 past
  // that), so a buffer of twice that always holds a complete request or an answerable error.
  return options_.limits.maxHeaderBytes * 2 + 4096;
}

void HttpServer::watch(Conn& c) {
  // While a response is being written the connection is not read at all: a client that
  // pipelines requests without reading the answers is held back by TCP flow control, not by
  // our memory. Input is read again once the response is out (or never, after the peer's FIN).
  epoll_event ev{};
  if (c.writing)
    ev.events = EPOLLOUT;
  else
    ev.events = c.peerClosed ? 0u : static_cast<uint32_t>(EPOLLIN | EPOLLRDHUP);
  ev.data.fd = c.fd;
  ::epoll_ctl(epollFd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void HttpServer::onReadable(Conn& c) {
  const int fd = c.fd;  // c is destroyed when the connection closes
  if (c.peerClosed || c.writing) return;  // see watch(): no reading while a response is pending
  const std::size_t cap = maxBufferedInput();
  char buf[8192];
  while (c.in.size() < cap) {
    // Never past the cap, whatever the client sends: memory per connection stays bounded.
    ssize_t n = ::recv(c.fd, buf, std::min(sizeof(buf), cap - c.in.size()), 0);
    if (n > 0) {
      if (c.in.empty() && c.firstByte == Clock::time_point{}) c.firstByte = Clock::now();
      // Bytes after a response that closes the connection are ignored.
      if (!c.closeAfterWrite) c.in.append(buf, static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < sizeof(buf)) break;
      continue;
    }
    if (n == 0) {
      // The client closed or half-closed: answer a complete request already buffered, then
      // close. Stop watching for input so the level-triggered hang-up does not spin.
      c.peerClosed = true;
      watch(c);
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    closeConn(c.fd);
    return;
  }
  serveBuffered(c);
  if (!conns_[fd] || c.queued) return;  // queued: more requests to answer on its next turn
  if (c.peerClosed && !c.writing) {
    closeConn(fd);
    return;
  }
  if (!c.writing && !c.closeAfterWrite && c.in.size() >= cap) {
    // Unreachable while the parser keeps its bounds (a full buffer always parses to a request
    // or an error); kept so that a parser bug cannot become unbounded memory or a busy loop.
    stats_.badRequests.fetch_add(1, std::memory_order_relaxed);
    int64_t held = 0;
    if (badRequestLog_->admit(Clock::now(), &held))
      log_->warn("monitoring: closed the connection of {}: {} bytes of input without a complete "
                 "request{}",
                 peerOf(fd), c.in.size(), heldBack(held));
    closeConn(fd);
  }
}

void HttpServer::onWritable(Conn& c) {
  while (c.outOff < c.out.size()) {
    ssize_t n = ::send(c.fd, c.out.data() + c.outOff, c.out.size() - c.outOff, MSG_NOSIGNAL);
    if (n > 0) {
      c.outOff += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      watch(c);  // c.writing: EPOLLOUT only
      return;
    }
    closeConn(c.fd);
    return;
  }
  // Everything sent.
  c.out.clear();
  c.outOff = 0;
  c.writing = false;
  if (c.closeAfterWrite || c.peerClosed) {
    // Let the client read the response before the FIN; unread input would otherwise turn the
    // close into a reset that can destroy the response in flight.
    ::shutdown(c.fd, SHUT_WR);
    closeConn(c.fd);
    return;
  }
  c.lastActivity = Clock::now();
  watch(c);
}

void HttpServer::expire() {
  auto now = Clock::now();
  for (auto& cp : conns_) {
    if (!cp) continue;
    Conn& c = *cp;
    bool expired = false;
    if (c.writing)
      expired = now - c.writeStart > options_.writeTimeout;
    else if (!c.in.empty() || c.firstByte != Clock::time_point{})
      expired = now - c.firstByte > options_.requestTimeout;
    else
      expired = now - c.lastActivity > options_.idleTimeout;
    if (!expired) continue;
    stats_.timedOut.fetch_add(1, std::memory_order_relaxed);
    const bool idle = !c.writing && c.in.empty() && c.firstByte == Clock::time_point{};
    int64_t held = 0;
    // An idle keep-alive connection closing is routine, not a rejection: not logged.
    if (!idle && timeoutLog_->admit(now, &held))
      log_->warn("monitoring: closed the connection of {}: {}{}", peerOf(c.fd),
                 c.writing    ? "it did not read its response within the write timeout"
                 : c.in.empty() ? "its request did not arrive within monitoring.requestTimeoutMs"
                                : "answered 408, its request did not arrive within "
                                  "monitoring.requestTimeoutMs",
                 heldBack(held));
    if (!c.writing && !c.in.empty()) {
      // A request that never completed: say so, best effort, and close.
      static const char k408[] =
          "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::send(c.fd, k408, sizeof(k408) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    closeConn(c.fd);
  }
}

void HttpServer::run() {
  std::vector<epoll_event> events(64);
  auto lastExpire = Clock::now();
  while (!stop_.load()) {
    // Connections with requests left over do not wait for new input.
    int n = ::epoll_wait(epollFd_, events.data(), static_cast<int>(events.size()),
                         pending_.empty() ? 200 : 0);
    if (n < 0 && errno != EINTR) {
      log_->error("monitoring: epoll_wait failed: {}", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wakeFd_) continue;
      if (fd == listenFd_) {
        acceptAll();
        continue;
      }
      if (static_cast<std::size_t>(fd) >= conns_.size() || !conns_[fd]) continue;
      Conn& c = *conns_[fd];
      uint32_t e = events[i].events;
      if (e & EPOLLERR) {
        closeConn(fd);
        continue;
      }
      if ((e & EPOLLOUT) && c.writing) {
        onWritable(c);
        if (!conns_[fd]) continue;
        serveBuffered(c);
        if (!conns_[fd]) continue;
      }
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) onReadable(c);
    }
    servePending();
    auto now = Clock::now();
    if (now - lastExpire >= std::chrono::milliseconds(100)) {
      expire();
      lastExpire = now;
    }
  }
}

}  // namespace sluice::core::monitoring
