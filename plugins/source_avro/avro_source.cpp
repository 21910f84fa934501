#include "avro_source.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "config_keys.hpp"
#include "counter_layout.hpp"
#include "listener.hpp"
#include "text_util.hpp"
#include "zlib_stream.hpp"

namespace sluice::plugins::avro_source {

using Clock = std::chrono::steady_clock;
namespace rpc = sluice::plugins::avro;

namespace {

using net::errnoText;
using net::hostPort;
using net::sockaddrText;

using text::lower;
using text::trimmed;

// Lets one log line through per interval and counts the ones it held back. One thread only.
class LogThrottle {
 public:
  explicit LogThrottle(Clock::duration every) : every_(every) {}
  bool admit(Clock::time_point now, int64_t* suppressed) noexcept {
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

std::string suppressedNote(int64_t n) {
  return n > 0 ? " (" + std::to_string(n) + " similar since the last report)" : std::string();
}

}  // namespace

class AvroServer;

// One client connection. Owned by its Worker; touched only on that worker's thread.
struct Connection {
  int fd = -1;
  std::size_t slot = 0;
  std::string peer;
  rpc::FrameDecoder frames;
  bool handshaken = false;
  bool bad = false;  // a protocol error was found: close
  std::unique_ptr<zlib_stream::Inflater> inflater;
  std::unique_ptr<zlib_stream::Deflater> deflater;
  std::unique_ptr<tls::TlsSession> tls;
  std::string out;  // responses not yet sent, from outSent on
  std::size_t outSent = 0;
  Clock::time_point lastActive{};
  uint32_t interest = 0;

  explicit Connection(const rpc::RpcLimits& limits) : frames(limits) {}
  std::size_t outPending() const noexcept { return out.size() - outSent; }
};

// One I/O thread: an epoll set over its connections (and, for the first, the listener).
class Worker {
 public:
  Worker(AvroServer& server, std::size_t index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void open();  // epoll and wake-up descriptors; throws
  void watchListener(int fd);
  void startThread();
  void requestStop() noexcept;
  void join() noexcept;
  // Any thread: hands over an accepted socket. Takes ownership of fd.
  void adopt(int fd, const sockaddr_storage& peer) noexcept;

 private:
  void run() noexcept;
  void acceptAll(Clock::time_point now) noexcept;
  void takeInbox(Clock::time_point now) noexcept;
  void addConnection(int fd, const sockaddr_storage& peer, Clock::time_point now) noexcept;
  void handle(Connection& c, uint32_t events, Clock::time_point now) noexcept;
  bool readOnce(Connection& c, Clock::time_point now);
  bool feedPlain(Connection& c, const char* data, std::size_t n);
  bool feedFrames(Connection& c, const char* data, std::size_t n);
  bool onFrame(Connection& c, int32_t serial, std::string_view payload);
  void badFrame(Connection& c, const char* why) noexcept;
  bool flush(Connection& c) noexcept;
  bool updateInterest(Connection& c) noexcept;
  void close(Connection& c) noexcept;
  void sweepIdle(Clock::time_point now) noexcept;
  int timeoutMs(Clock::time_point now) const noexcept;

  AvroServer& server_;
  const std::size_t index_;
  int epollFd_ = -1;
  int wakeFd_ = -1;
  int listenFd_ = -1;
  char listenTag_ = 0;
  char wakeTag_ = 0;
  std::thread thread_;

  std::mutex inboxMu_;
  std::vector<std::pair<int, sockaddr_storage>> inbox_;

  // Thread state.
  std::vector<std::unique_ptr<Connection>> conns_;
  std::unique_ptr<char[]> readBuf_;
  std::unique_ptr<char[]> inflateBuf_;
  std::unique_ptr<char[]> tlsBuf_;  // decrypted bytes (ssl only)
  std::string reply_;               // a response being built (deflate or ssl)
  std::string zbuf_;                // a compressed response on its way into TLS
  sdk::EventBatch batch_;           // reused; the processor leaves it empty with its capacity
  std::size_t nextWorker_ = 0;
  bool acceptPaused_ = false;
  Clock::time_point acceptResumeAt_{};
  Clock::time_point nextIdleSweep_{};
  LogThrottle badFrameLog_{std::chrono::seconds(1)};
  LogThrottle refuseLog_{std::chrono::seconds(1)};
  LogThrottle rejectLog_{std::chrono::seconds(1)};
  LogThrottle limitLog_{std::chrono::seconds(1)};
  LogThrottle acceptLog_{std::chrono::seconds(1)};
};

// Everything that exists while the source runs. Created by start(), destroyed by stop().
class AvroServer {
 public:
  AvroServer(AvroSource& source, AvroSourceSettings settings)
      : source(source),
        counter(source.sourceCounter()),
        processor(source.getChannelProcessor()),
        s(std::move(settings)) {}

  ~AvroServer() {
    stopThreads();
    workers.clear();
    if (listenFd >= 0) ::close(listenFd);
  }

  void open() {
    const net::Listener l = net::openListener(s.bind, s.port);
    listenFd = l.fd;
    port = l.port;
    for (std::size_t i = 0; i < s.threads; ++i) {
      workers.push_back(std::make_unique<Worker>(*this, i));
      workers.back()->open();
    }
    workers.front()->watchListener(listenFd);
  }

  void startThreads() {
    for (auto& w : workers) w->startThread();
  }

  void stopThreads() noexcept {
    stopping.store(true, std::memory_order_release);
    for (auto& w : workers) w->requestStop();
    for (auto& w : workers) w->join();
  }

  // Any I/O thread. The counter is a gauge updated by atomic adds, so it never goes stale.
  void connectionOpened() noexcept {
    openCount.fetch_add(1, std::memory_order_relaxed);
    counter.add(sdk::SourceCounter::OpenConnectionCount, 1);
  }
  void connectionClosed() noexcept {
    openCount.fetch_sub(1, std::memory_order_relaxed);
    counter.add(sdk::SourceCounter::OpenConnectionCount, -1);
  }

  AvroSource& source;
  sdk::SourceCounter& counter;
  sdk::ChannelProcessor& processor;
  const AvroSourceSettings s;
  rpc::KnownClientProtocols known;
  int listenFd = -1;
  uint16_t port = 0;
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> openCount{0};  // connections open or being handed over
};

Worker::Worker(AvroServer& server, std::size_t index)
    : server_(server),
      index_(index),
      readBuf_(new char[AvroSource::kReadBufferBytes]),
      inflateBuf_(server.s.deflate ? new char[AvroSource::kReadBufferBytes] : nullptr),
      tlsBuf_(server.s.tls ? new char[AvroSource::kReadBufferBytes] : nullptr) {}

Worker::~Worker() {
  join();
  for (auto& c : conns_) {
    ::close(c->fd);
    server_.connectionClosed();
  }
  for (auto& [fd, peer] : inbox_) {
    ::close(fd);
    server_.connectionClosed();
  }
  for (int fd : {wakeFd_, epollFd_})
    if (fd >= 0) ::close(fd);
}

void Worker::open() {
  epollFd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epollFd_ < 0) throw std::runtime_error("epoll_create1: " + errnoText(errno));
  wakeFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeFd_ < 0) throw std::runtime_error("eventfd: " + errnoText(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &wakeTag_;
  if (::epoll_ctl(epollFd_, EPOLL_CTL_ADD, wakeFd_, &ev) != 0)
    throw std::runtime_error("epoll_ctl: " + errnoText(errno));
}

void Worker::watchListener(int fd) {
  listenFd_ = fd;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &listenTag_;
  if (::epoll_ctl(epollFd_, EPOLL_CTL_ADD, fd, &ev) != 0)
    throw std::runtime_error("epoll_ctl: " + errnoText(errno));
}

void Worker::startThread() {
  thread_ = std::thread([this] {
    const std::string name = "sluice-avro-" + std::to_string(index_);
    ::pthread_setname_np(::pthread_self(), name.c_str());
    run();
  });
}

void Worker::requestStop() noexcept {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wakeFd_, &one, sizeof one);
}

void Worker::join() noexcept {
  if (thread_.joinable()) thread_.join();
}

void Worker::adopt(int fd, const sockaddr_storage& peer) noexcept {
  try {
    std::lock_guard<std::mutex> lock(inboxMu_);
    inbox_.emplace_back(fd, peer);
  } catch (...) {
    ::close(fd);
    server_.connectionClosed();
    return;
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wakeFd_, &one, sizeof one);
}

int Worker::timeoutMs(Clock::time_point now) const noexcept {
  int64_t ms = -1;
  if (server_.s.idleTimeout.count() > 0) ms = 1000;
  if (acceptPaused_)
    ms = std::clamp<int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(acceptResumeAt_ - now).count(), 0,
        ms < 0 ? 1000 : ms);
  return static_cast<int>(ms);
}

void Worker::run() noexcept {
  std::vector<epoll_event> events(256);
  while (!server_.stopping.load(std::memory_order_acquire)) {
    const int n = ::epoll_wait(epollFd_, events.data(), static_cast<int>(events.size()),
                               timeoutMs(Clock::now()));
    if (n < 0) {
      if (errno == EINTR) continue;
      server_.source.logger().error("epoll_wait failed, the source stops: ", errnoText(errno));
      break;
    }
    const Clock::time_point now = Clock::now();
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &wakeTag_) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = ::read(wakeFd_, &v, sizeof v);
        takeInbox(now);
      } else if (tag == &listenTag_) {
        acceptAll(now);
      } else {
        handle(*static_cast<Connection*>(tag), events[i].events, now);
      }
    }
    if (acceptPaused_ && now >= acceptResumeAt_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = &listenTag_;
      if (::epoll_ctl(epollFd_, EPOLL_CTL_ADD, listenFd_, &ev) == 0) acceptPaused_ = false;
    }
    if (server_.s.idleTimeout.count() > 0 && now >= nextIdleSweep_) {
      sweepIdle(now);
      nextIdleSweep_ = now + std::chrono::seconds(1);
    }
  }
  for (std::size_t i = conns_.size(); i-- > 0;) {
    Connection& c = *conns_[i];
    if (c.outPending() > 0) flush(c);  // best effort: responses already earned
    close(c);
  }
}

void Worker::acceptAll(Clock::time_point now) noexcept {
  for (int round = 0; round < 64; ++round) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd =
        ::accept4(listenFd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // Out of descriptors (EMFILE/ENFILE) or memory: stop accepting for a moment rather than
      // spin on a listener that stays readable.
      int64_t suppressed = 0;
      if (acceptLog_.admit(now, &suppressed))
        server_.source.logger().error("accept failed: ", errnoText(errno),
                                      "; pausing accepts for 100 ms", suppressedNote(suppressed));
      ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, listenFd_, nullptr);
      acceptPaused_ = true;
      acceptResumeAt_ = now + std::chrono::milliseconds(100);
      return;
    }
    const AvroSourceSettings& s = server_.s;
    if (static_cast<std::size_t>(server_.openCount.load(std::memory_order_relaxed)) >=
        s.maxConnections) {
      server_.counter.increment(AvroSource::kConnectionRejectedCount);
      ::close(fd);
      int64_t suppressed = 0;
      if (rejectLog_.admit(now, &suppressed))
        server_.source.logger().warn("refused a connection from ", sockaddrText(ss), ": ",
                                     s.maxConnections, " connections are open (max-connections)",
                                     suppressedNote(suppressed));
      continue;
    }
    if (s.ipFilter) {
      bool allowed = true;
      try {
        allowed = ipFilterAllows(s.ipFilterRules, ss,
                                 [](const sockaddr_storage& p) { return reverseLookup(p); });
      } catch (...) {
        allowed = false;
      }
      if (!allowed) {
        server_.counter.increment(AvroSource::kConnectionDeniedCount);
        ::close(fd);
        server_.source.logger().debug("ipFilterRules denied a connection from ", sockaddrText(ss));
        continue;
      }
    }
    server_.connectionOpened();
    Worker& target = *server_.workers[nextWorker_++ % server_.workers.size()];
    if (&target == this)
      addConnection(fd, ss, now);
    else
      target.adopt(fd, ss);
  }
}

void Worker::takeInbox(Clock::time_point now) noexcept {
  std::vector<std::pair<int, sockaddr_storage>> taken;
  {
    std::lock_guard<std::mutex> lock(inboxMu_);
    taken.swap(inbox_);
  }
  for (auto& [fd, peer] : taken) addConnection(fd, peer, now);
}

void Worker::addConnection(int fd, const sockaddr_storage& peer, Clock::time_point now) noexcept {
  try {
    // Responses are small and a client waits for each: without this, Nagle plus the client's
    // delayed ACK would add up to 40 ms to every request.
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto conn = std::make_unique<Connection>(server_.s.limits);
    conn->fd = fd;
    conn->peer = sockaddrText(peer);
    conn->lastActive = now;
    if (server_.s.deflate) {
      conn->inflater = std::make_unique<zlib_stream::Inflater>();
      conn->deflater = std::make_unique<zlib_stream::Deflater>();
      // Responses are a few bytes each: a small window and memory level keep the per-connection
      // state at a few KiB.
      if (!conn->inflater->init() || !conn->deflater->init(6, 9, 1))
        throw std::runtime_error("zlib initialisation failed");
    }
    if (server_.s.tls) conn->tls = std::make_unique<tls::TlsSession>(*server_.s.tls);
    conn->slot = conns_.size();
    conns_.push_back(std::move(conn));
  } catch (const std::exception& e) {
    ::close(fd);
    server_.connectionClosed();
    server_.source.logger().error("cannot take a connection: ", e.what());
    return;
  }
  Connection& c = *conns_.back();
  server_.source.logger().debug("connection from ", c.peer);
  if (!updateInterest(c)) close(c);
}

void Worker::handle(Connection& c, uint32_t events, Clock::time_point now) noexcept {
  try {
    if ((events & EPOLLOUT) && !flush(c)) return close(c);
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (c.interest & EPOLLIN)) {
      if (!readOnce(c, now)) return close(c);
    } else if (events & (EPOLLHUP | EPOLLERR)) {
      return close(c);
    }
    if (!updateInterest(c)) close(c);
  } catch (const std::exception& e) {
    server_.counter.incrementGenericProcessingFail();
    server_.source.logger().error("closing the connection from ", c.peer, ": ", e.what());
    batch_.clear();
    close(c);
  }
}

bool Worker::readOnce(Connection& c, Clock::time_point now) {
  ssize_t n;
  do {
    n = ::read(c.fd, readBuf_.get(), AvroSource::kReadBufferBytes);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    server_.source.logger().debug("read from ", c.peer, " failed: ", errnoText(errno));
    return false;
  }
  if (n == 0) {
    if (c.frames.midFrame()) badFrame(c, "connection closed in the middle of a frame");
    server_.source.logger().debug(c.peer, " closed the connection");
    return false;
  }
  c.lastActive = now;
  if (c.tls) {
    std::string error;
    const bool ok = c.tls->feed(
        readBuf_.get(), static_cast<std::size_t>(n), tlsBuf_.get(), AvroSource::kReadBufferBytes,
        c.out, [&](const char* p, std::size_t len) { return feedPlain(c, p, len); }, &error);
    if (!ok) badFrame(c, error.c_str());
    if (c.tls->peerClosed() && !c.bad) {
      if (c.frames.midFrame()) badFrame(c, "TLS closed in the middle of a frame");
      if (c.outPending() > 0) flush(c);
      return false;
    }
  } else {
    feedPlain(c, readBuf_.get(), static_cast<std::size_t>(n));
  }
  if (c.bad) return false;
  c.frames.trim(AvroSource::kKeepPayloadBytes);
  return c.outPending() == 0 || flush(c);
}

bool Worker::feedPlain(Connection& c, const char* data, std::size_t n) {
  if (!c.inflater) return feedFrames(c, data, n);
  const char* error = nullptr;
  const bool ok = c.inflater->feed(
      data, n, inflateBuf_.get(), AvroSource::kReadBufferBytes,
      [&](const char* p, std::size_t len) { return feedFrames(c, p, len); }, &error);
  if (!ok) badFrame(c, error);
  return !c.bad;
}

bool Worker::feedFrames(Connection& c, const char* data, std::size_t n) {
  if (c.bad) return false;
  const rpc::FrameDecoder::Error err = c.frames.feed(
      data, n,
      [&](int32_t serial, std::string_view payload) { return onFrame(c, serial, payload); });
  if (err != rpc::FrameDecoder::Error::None) badFrame(c, rpc::FrameDecoder::describe(err));
  return !c.bad;
}

bool Worker::onFrame(Connection& c, int32_t serial, std::string_view payload) {
  AvroServer& srv = server_;
  sdk::SourceCounter& counter = srv.counter;
  const bool staged = c.deflater || c.tls;  // the response is transformed before c.out
  std::string& dst = staged ? reply_ : c.out;
  if (staged) reply_.clear();
  const std::size_t at = rpc::beginFrame(dst);
  rpc::RequestInfo info;
  if (!rpc::decodeRequest(payload, c.handshaken, srv.known, srv.s.limits, dst, batch_, info)) {
    batch_.clear();
    dst.resize(at);
    badFrame(c, info.problem);
    return false;
  }
  if (info.hadHandshake) {
    counter.increment(AvroSource::kHandshakeCount);
    if (info.match == rpc::HandshakeMatch::None) counter.increment(AvroSource::kHandshakeNoneCount);
    srv.source.logger().debug("handshake with ", c.peer, ": ", rpc::nameOf(info.match));
  }
  const auto n = static_cast<int64_t>(batch_.size());
  switch (info.kind) {
    case rpc::RequestKind::HandshakeRefused:
    case rpc::RequestKind::Ping:
      break;
    case rpc::RequestKind::Append:
    case rpc::RequestKind::AppendBatch: {
      const bool single = info.kind == rpc::RequestKind::Append;
      if (single)
        counter.incrementAppendReceivedCount();
      else
        counter.incrementAppendBatchReceivedCount();
      counter.addToEventReceivedCount(n);
      sdk::Result r;
      if (n > 0) r = srv.processor.processEventBatch(batch_);
      batch_.clear();
      if (r) {
        if (single)
          counter.incrementAppendAcceptedCount();
        else
          counter.incrementAppendBatchAcceptedCount();
        counter.addToEventAcceptedCount(n);
        rpc::appendStatusResponse(dst, rpc::RpcStatus::Ok);
      } else {
        counter.incrementChannelWriteFail();
        rpc::appendStatusResponse(dst, rpc::RpcStatus::Failed);
        int64_t suppressed = 0;
        if (refuseLog_.admit(Clock::now(), &suppressed))
          srv.source.logger().warn("channels refused ", n, " events from ", c.peer, ": ", r.error(),
                                   "; answered FAILED", suppressedNote(suppressed));
      }
      break;
    }
    case rpc::RequestKind::Unknown:
      counter.increment(AvroSource::kErrorResponseCount);
      rpc::appendErrorResponse(dst, "No such message: " + std::string(info.message));
      break;
    case rpc::RequestKind::TooLarge: {
      batch_.clear();
      counter.increment(AvroSource::kErrorResponseCount);
      const std::string why = std::string(info.problem) + " (max-batch-size " +
                              std::to_string(srv.s.limits.maxBatchEvents) + ", max-headers " +
                              std::to_string(srv.s.limits.maxHeaders) + ")";
      rpc::appendErrorResponse(dst, why);
      int64_t suppressed = 0;
      if (limitLog_.admit(Clock::now(), &suppressed))
        srv.source.logger().warn("refused a request from ", c.peer, ": ", why,
                                 suppressedNote(suppressed));
      break;
    }
  }
  rpc::finishFrame(dst, at, serial);
  const std::string* plain = &reply_;
  if (c.deflater) {
    std::string& zdst = c.tls ? zbuf_ : c.out;
    if (c.tls) zbuf_.clear();
    if (!c.deflater->compress(reply_.data(), reply_.size(), zdst)) {
      badFrame(c, "deflate failed");
      return false;
    }
    plain = &zbuf_;
  }
  if (c.tls) {
    std::string error;
    if (!c.tls->write(plain->data(), plain->size(), c.out, &error)) {
      badFrame(c, error.c_str());
      return false;
    }
  }
  return true;
}

void Worker::badFrame(Connection& c, const char* why) noexcept {
  if (c.bad) return;
  c.bad = true;
  server_.counter.incrementEventReadFail();
  int64_t suppressed = 0;
  if (badFrameLog_.admit(Clock::now(), &suppressed))
    server_.source.logger().warn("closing the connection from ", c.peer, ": ", why,
                                 suppressedNote(suppressed));
}

bool Worker::flush(Connection& c) noexcept {
  while (c.outSent < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.outSent, c.out.size() - c.outSent,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.outSent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    server_.source.logger().debug("cannot answer ", c.peer, ": ", errnoText(errno));
    return false;
  }
  if (c.outSent == c.out.size()) {
    c.out.clear();
    c.outSent = 0;
    if (c.out.capacity() > AvroSource::kKeepPayloadBytes) std::string().swap(c.out);
  } else if (c.outSent >= AvroSource::kMaxPendingReplyBytes) {
    c.out.erase(0, c.outSent);
    c.outSent = 0;
  }
  return true;
}

bool Worker::updateInterest(Connection& c) noexcept {
  uint32_t want = 0;
  if (c.outPending() < AvroSource::kMaxPendingReplyBytes) want |= EPOLLIN;
  if (c.outPending() > 0) want |= EPOLLOUT;
  if (want == c.interest) return true;
  epoll_event ev{};
  ev.events = want;
  ev.data.ptr = &c;
  if (::epoll_ctl(epollFd_, c.interest == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev) != 0) {
    server_.source.logger().error("epoll_ctl for ", c.peer, " failed: ", errnoText(errno));
    return false;
  }
  c.interest = want;
  return true;
}

void Worker::close(Connection& c) noexcept {
  ::close(c.fd);  // also leaves the epoll set
  const std::size_t slot = c.slot;
  if (slot + 1 != conns_.size()) {
    std::swap(conns_[slot], conns_.back());
    conns_[slot]->slot = slot;
  }
  conns_.pop_back();
  server_.connectionClosed();
}

void Worker::sweepIdle(Clock::time_point now) noexcept {
  for (std::size_t i = conns_.size(); i-- > 0;) {
    Connection& c = *conns_[i];
    if (now - c.lastActive < server_.s.idleTimeout) continue;
    server_.counter.increment(AvroSource::kConnectionIdleClosedCount);
    server_.source.logger().debug("closing the idle connection from ", c.peer);
    close(c);
  }
}

AvroSource::AvroSource() {
  counter_layout::addInOrder(
      sourceCounter(), kConnectionRejectedCount,
      {"ConnectionRejectedCount", "ConnectionDeniedCount", "ConnectionIdleClosedCount",
       "HandshakeCount", "HandshakeNoneCount", "ErrorResponseCount"},
      "avro source");
}

AvroSource::~AvroSource() { stop(); }

void AvroSource::configure(const sdk::Context& context) {
  AvroSourceSettings s;
  s.bind = trimmed(context.requireString("bind"));
  s.port = static_cast<int>(requireInteger(context, "port"));
  s.threads = static_cast<std::size_t>(requireInteger(context, "threads"));
  if (s.threads == 0)
    s.threads = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);

  s.deflate = lower(trimmed(requireValue(context, "compression-type"))) == "deflate";
  if (requireBoolean(context, "ssl")) {
    tls::TlsOptions o;
    o.keystore = trimmed(context.getString("keystore", ""));
    o.keystorePassword = context.getString("keystore-password", "");
    o.keystoreType = trimmed(requireValue(context, "keystore-type"));
    o.includeProtocols = tls::splitNames(context.getString("include-protocols", ""));
    o.excludeProtocols = tls::splitNames(requireValue(context, "exclude-protocols"));
    o.includeCipherSuites = tls::splitNames(context.getString("include-cipher-suites", ""));
    o.excludeCipherSuites = tls::splitNames(context.getString("exclude-cipher-suites", ""));
    try {
      s.tls = tls::TlsContext::server(o);
    } catch (const tls::TlsConfigError& e) {
      context.fail(e.key, e.what());
    }
  }

  s.ipFilter = requireBoolean(context, "ipFilter");
  const std::string rules = trimmed(context.getString("ipFilterRules", ""));
  if (s.ipFilter && rules.empty())
    context.fail("ipFilterRules", "is required when ipFilter = true");
  try {
    s.ipFilterRules = parseIpFilterRules(rules);  // checked even when ipFilter is off
  } catch (const std::invalid_argument& e) {
    context.fail("ipFilterRules", e.what());
  }

  s.maxConnections = static_cast<std::size_t>(requireInteger(context, "max-connections"));
  s.limits.maxFrameBytes = static_cast<std::size_t>(requireInteger(context, "max-frame-size"));
  s.limits.maxBatchEvents = static_cast<std::size_t>(requireInteger(context, "max-batch-size"));
  s.limits.maxHeaders = static_cast<std::size_t>(requireInteger(context, "max-headers"));
  s.idleTimeout = std::chrono::seconds(requireInteger(context, "idleTimeout"));
  settings_ = std::move(s);
  configured_ = true;
}

void AvroSource::start() {
  if (server_) return;
  if (!configured_) throw std::logic_error("avro source started before configure()");
  auto server = std::make_unique<AvroServer>(*this, settings_);
  server->open();
  boundPort_.store(server->port, std::memory_order_release);
  logger().info("listening on ", hostPort(settings_.bind, server->port),
                settings_.port == 0 ? " (port chosen by the system)" : "", ", ", settings_.threads,
                " I/O thread(s)", settings_.tls ? ", TLS" : "",
                settings_.deflate ? ", compression-type deflate" : "");
  server->startThreads();
  server_ = std::move(server);
}

void AvroSource::stop() {
  if (!server_) return;
  server_->stopThreads();
  server_.reset();
  boundPort_.store(0, std::memory_order_release);
  sourceCounter().setOpenConnectionCount(0);
  logger().info("stopped");
}

}  // namespace sluice::plugins::avro_source
