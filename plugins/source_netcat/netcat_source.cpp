#include "netcat_source.hpp"

#include "config_keys.hpp"
#include "counter_layout.hpp"
#include "listener.hpp"
#include "netcat_lines.hpp"
#include "source_put.hpp"

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
#include <limits>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace sluice::plugins::netcat {

using Clock = std::chrono::steady_clock;

namespace {

using net::errnoText;
using net::hostPort;
using net::sockaddrText;

constexpr int64_t kMaxLineLengthLimit = int64_t{64} * 1024 * 1024;

// A reply line must stay one line whatever the channel's error text holds.
std::string oneLine(std::string s) {
  for (char& ch : s)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return s;
}

// Lets one log line through per interval and counts the ones it held back. I/O thread only.
class LogThrottle {
 public:
  explicit LogThrottle(Clock::duration every) : every_(every) {}
  // True when this occurrence (of `n` events) may be logged; *suppressed is then the number of
  // events held back since.
  bool admit(Clock::time_point now, int64_t* suppressed, int64_t n = 1) noexcept {
    if (now < next_) {
      suppressed_ += n;
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

const sdk::Schema& netcatSourceSchema() {
  static const sdk::Schema schema{
      sdk::Key("bind").string().req().doc("Host name or IP address to listen on"),
      sdk::Key("port").integer().req().range(0, 65535).doc(
          "TCP port to listen on; 0 picks a free port and logs it"),
      sdk::Key("max-line-length")
          .integer()
          .def("512")
          .range(1, static_cast<double>(kMaxLineLengthLimit))
          .doc("Longest event body in bytes; a longer line is truncated to it and counted"),
      sdk::Key("ack-every-event")
          .boolean()
          .def("true")
          .doc("Reply OK (or FAILED: reason) to the client for every line"),
      sdk::Key("batchSize")
          .integer()
          .def("100")
          .range(1, 1000000)
          .doc("Lines of one read handed to the channels per transaction"),
      sdk::Key("max-connections")
          .integer()
          .def("1000")
          .range(1, 1000000)
          .doc("Open connections allowed; further clients are accepted and closed at once"),
      sdk::Key("idleTimeout")
          .integer()
          .def("0")
          .range(0, 31536000)
          .doc("Seconds after which a connection that sent nothing is closed; 0 means never"),
      sdk::Key("encoding")
          .flumeIgnored("line bytes are passed through unchanged; sluice does not transcode"),
  };
  return schema;
}

// One client connection. Owned by NetcatServer::conns_; touched only on the I/O thread.
struct Connection {
  int fd = -1;
  std::size_t slot = 0;  // index in conns_
  std::string peer;      // "ip:port", for logs
  explicit Connection(std::size_t maxLineLength) : splitter(maxLineLength) {}

  // Bytes received but not yet turned into events: normally the unfinished last line (at most
  // max-line-length + 1 bytes). While held: every byte that followed the refused batch.
  std::string carry;
  // Keeps the first max-line-length bytes of an over-long line whose newline has not arrived;
  // the bytes in between are discarded as they come.
  lines::LineSplitter splitter;
  bool eof = false;  // the client shut down its sending side
  // Held: the refused batch, rebuilt from the read buffer; retried until the channels take it.
  sdk::EventBatch pending;
  Clock::time_point retryAt{};
  std::chrono::milliseconds backoff{0};
  Clock::time_point lastActive{};  // last read that returned data
  std::string out;                 // replies not yet sent, from outSent on
  std::size_t outSent = 0;
  uint32_t interest = 0;  // epoll events registered; 0 = not in the epoll set

  bool held() const noexcept { return !pending.empty(); }
  std::size_t outPending() const noexcept { return out.size() - outSent; }
};

// Everything that exists while the source runs: the listener, the epoll set, the connections
// and the I/O thread. Created by start(), destroyed by stop(), so each start begins clean.
class NetcatServer {
 public:
  NetcatServer(NetcatSource& source, NetcatSettings settings)
      : source_(source),
        counter_(source.sourceCounter()),
        processor_(source.getChannelProcessor()),
        s_(std::move(settings)),
        readCap_(NetcatSource::kReadBufferBytes + s_.maxLineLength + 1),
        readBuf_(new char[readCap_]) {
    batch_.reserve(s_.batchSize);
    spans_.reserve(s_.batchSize);
  }

  ~NetcatServer() {
    stopThread();
    for (auto& c : conns_)
      if (c->fd >= 0) ::close(c->fd);
    for (int fd : {listenFd_, wakeFd_, epollFd_})
      if (fd >= 0) ::close(fd);
  }

  // Control thread. Binds and listens; throws with bind:port and strerror on failure.
  void open() {
    const net::Listener l = net::openListener(s_.bind, s_.port);
    listenFd_ = l.fd;
    port_ = l.port;

    epollFd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epollFd_ < 0) throw std::runtime_error("epoll_create1: " + errnoText(errno));
    wakeFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wakeFd_ < 0) throw std::runtime_error("eventfd: " + errnoText(errno));
    watch(listenFd_, &listenTag_);
    watch(wakeFd_, &wakeTag_);
  }

  uint16_t port() const noexcept { return port_; }

  void startThread() {
    thread_ = std::thread([this] {
      ::pthread_setname_np(::pthread_self(), NetcatSource::kThreadName);  // visible in top -H
      run();
    });
  }

  // Control thread. Ends the I/O loop and joins it; the loop closes every connection.
  void stopThread() noexcept {
    if (!thread_.joinable()) return;
    stopping_.store(true, std::memory_order_release);
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wakeFd_, &one, sizeof one);
    thread_.join();
  }

 private:
  // A line of the batch being built: where its body lies in the data being consumed, so the
  // events are made in one loop, and a refused batch is rebuilt without copying anything on the
  // normal path.
  struct Span {
    std::size_t offset;  // in the data being consumed, or kKeptHead: the body is in keptHead_
    std::size_t length;
  };

  void watch(int fd, void* tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = tag;
    if (::epoll_ctl(epollFd_, EPOLL_CTL_ADD, fd, &ev) != 0)
      throw std::runtime_error("epoll_ctl: " + errnoText(errno));
  }

  void run() noexcept {
    std::vector<epoll_event> events(256);
    while (!stopping_.load(std::memory_order_acquire)) {
      const int timeout = timeoutMs(Clock::now());
      const int n = ::epoll_wait(epollFd_, events.data(), static_cast<int>(events.size()), timeout);
      if (n < 0) {
        if (errno == EINTR) continue;
        source_.logger().error("epoll_wait failed, the source stops reading: ", errnoText(errno));
        break;
      }
      const Clock::time_point now = Clock::now();
      for (int i = 0; i < n && !stopping_.load(std::memory_order_relaxed); ++i) {
        void* tag = events[static_cast<std::size_t>(i)].data.ptr;
        if (tag == &listenTag_) {
          acceptAll(now);
        } else if (tag == &wakeTag_) {
          uint64_t v;
          [[maybe_unused]] ssize_t r = ::read(wakeFd_, &v, sizeof v);
        } else {
          handle(*static_cast<Connection*>(tag), events[static_cast<std::size_t>(i)].events, now);
        }
      }
      if (!stopping_.load(std::memory_order_relaxed)) runTimers(Clock::now());
    }
    shutdown();
  }

  int timeoutMs(Clock::time_point now) const noexcept {
    Clock::time_point next = Clock::time_point::max();
    if (heldCount_ > 0)
      for (const auto& c : conns_)
        if (c->held()) next = std::min(next, c->retryAt);
    if (s_.idleTimeout.count() > 0) next = std::min(next, nextIdleSweep_);
    if (acceptPaused_) next = std::min(next, acceptResumeAt_);
    if (next == Clock::time_point::max()) return -1;
    if (next <= now) return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
    return static_cast<int>(std::min<int64_t>(ms, 60000));
  }

  void runTimers(Clock::time_point now) noexcept {
    if (acceptPaused_ && now >= acceptResumeAt_) {
      acceptPaused_ = false;
      try {
        watch(listenFd_, &listenTag_);
      } catch (const std::exception& e) {
        source_.logger().error("cannot resume accepting connections: ", e.what());
      }
    }
    // Backwards: closing swaps the last connection into the closed one's slot.
    // A retry may block in the channel (a put commit waits keep-alive), so stop() is checked
    // between connections.
    if (heldCount_ > 0)
      for (std::size_t i = conns_.size(); i-- > 0 && !stopping_.load(std::memory_order_relaxed);)
        if (i < conns_.size() && conns_[i]->held() && now >= conns_[i]->retryAt)
          guarded(*conns_[i], [&](Connection& c) { retry(c, now); });
    if (s_.idleTimeout.count() > 0 && now >= nextIdleSweep_) {
      for (std::size_t i = conns_.size(); i-- > 0;) {
        if (i >= conns_.size()) continue;
        Connection& c = *conns_[i];
        if (c.held() || now - c.lastActive < s_.idleTimeout) continue;
        counter_.increment(NetcatSource::kConnectionIdleClosedCount);
        source_.logger().debug("closing ", c.peer, ": idle for ", s_.idleTimeout.count(), " ms");
        dropPartial(c);
        close(c);
      }
      nextIdleSweep_ = now + std::clamp(s_.idleTimeout / 4, std::chrono::milliseconds(50),
                                        std::chrono::milliseconds(1000));
    }
  }

  // Runs f on a connection; an exception (out of memory) closes that connection only.
  template <class F>
  void guarded(Connection& c, F&& f) noexcept {
    try {
      f(c);
    } catch (const std::exception& e) {
      counter_.incrementGenericProcessingFail();
      source_.logger().error("closing ", c.peer, ": ", e.what());
      close(c);
    } catch (...) {
      counter_.incrementGenericProcessingFail();
      source_.logger().error("closing ", c.peer, ": unknown exception");
      close(c);
    }
  }

  void acceptAll(Clock::time_point now) noexcept {
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      const int fd = ::accept4(listenFd_, reinterpret_cast<sockaddr*>(&ss), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const int err = errno;
        if (err == EINTR || err == ECONNABORTED) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) return;
        int64_t suppressed = 0;
        if (acceptLog_.admit(now, &suppressed))
          source_.logger().error("accept failed: ", errnoText(err), "; pausing accepts for 100 ms",
                                 suppressedNote(suppressed));
        // Out of descriptors or memory: the pending connection stays in the backlog and would
        // wake us again at once, so stop watching the listener for a moment.
        ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, listenFd_, nullptr);
        acceptPaused_ = true;
        acceptResumeAt_ = now + std::chrono::milliseconds(100);
        return;
      }
      if (conns_.size() >= s_.maxConnections) {
        ::close(fd);
        counter_.increment(NetcatSource::kConnectionRejectedCount);
        int64_t suppressed = 0;
        if (rejectLog_.admit(now, &suppressed))
          source_.logger().warn("rejected a connection from ", sockaddrText(ss), ": ",
                                s_.maxConnections, " connections open (max-connections)",
                                suppressedNote(suppressed));
        continue;
      }
      try {
        if (s_.ackEveryEvent) {
          // Replies are small; without this, Nagle plus the client's delayed ACK would add up
          // to 40 ms to every acknowledged line.
          int one = 1;
          ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        auto conn = std::make_unique<Connection>(s_.maxLineLength);
        conn->fd = fd;
        conn->peer = sockaddrText(ss);
        conn->lastActive = now;
        conn->slot = conns_.size();
        conns_.push_back(std::move(conn));
      } catch (const std::exception& e) {
        ::close(fd);
        source_.logger().error("cannot take a connection: ", e.what());
        continue;
      }
      Connection& c = *conns_.back();
      counter_.setOpenConnectionCount(static_cast<int64_t>(conns_.size()));
      source_.logger().debug("connection from ", c.peer);
      if (!updateInterest(c)) close(c);
    }
  }

  void handle(Connection& c, uint32_t events, Clock::time_point now) noexcept {
    guarded(c, [&](Connection& conn) {
      if ((events & EPOLLOUT) && !flush(conn)) return close(conn);
      if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (conn.interest & EPOLLIN)) {
        if (!readOnce(conn, now)) return close(conn);
      } else if (events & (EPOLLHUP | EPOLLERR)) {
        return close(conn);  // not reading, and replies can no longer be delivered
      }
      settle(conn);
    });
  }

  // After any progress: close a finished connection, or register what it waits for.
  void settle(Connection& c) noexcept {
    if (c.eof && !c.held() && c.outPending() == 0) return close(c);
    if (!updateInterest(c)) close(c);
  }

  // One read, then the complete lines in it. Returns false when the connection must close.
  bool readOnce(Connection& c, Clock::time_point now) {
    const std::size_t pre = c.carry.size();  // <= max-line-length + 1 while not held
    char* buf = readBuf_.get();
    ssize_t n;
    do {
      n = ::read(c.fd, buf + pre, readCap_ - pre);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      source_.logger().debug("read from ", c.peer, " failed: ", errnoText(errno));
      dropPartial(c);
      return false;
    }
    if (n == 0) {
      c.eof = true;
      dropPartial(c);
      return true;  // settle() closes once the replies are out
    }
    if (pre > 0) std::copy_n(c.carry.data(), pre, buf);
    c.carry.clear();
    c.lastActive = now;
    consume(c, buf, pre + static_cast<std::size_t>(n));
    return c.outPending() == 0 || flush(c);
  }

  // A connection that ends in the middle of a line: that line is dropped, as Flume does.
  void dropPartial(Connection& c) noexcept {
    if (c.carry.empty() && !c.splitter.skipping()) return;
    counter_.increment(NetcatSource::kPartialLineDroppedCount);
    source_.logger().debug(c.peer, " closed in the middle of a line; dropped ", c.carry.size(),
                           " bytes");
    c.carry.clear();
    c.splitter.reset(0);
  }

  // Turns the complete lines of data[0, len) into events and hands them over in batches. data
  // starts with what the connection had left over and must not alias c.carry. Afterwards c.carry
  // holds the unfinished tail; or, when the channels refused a batch and acks are off, c.pending
  // holds that batch and c.carry everything after it.
  void consume(Connection& c, const char* data, std::size_t len) {
    // Only where each line lies is noted while splitting; deliver() makes the events, in one
    // tight loop per batch.
    int64_t truncated = 0;
    const std::size_t keep = splitBatches(
        c.splitter, data, len, s_.batchSize,
        [&](const lines::Line& l, std::size_t at) {
          if (l.truncated) {
            counter_.increment(NetcatSource::kLineTruncatedCount);
            ++truncated;
          }
          // The kept prefix changes when the next over-long line starts, which may be before the
          // batch is delivered (rare: only the end of an over-long line comes here).
          if (at == kKeptHead) keptHead_.assign(l.body);
          spans_.push_back(Span{at, l.body.size()});
        },
        [&](std::size_t) { return deliver(c, data); });
    c.carry.assign(data + keep, len - keep);
    // Logged per read, not per line, and at most once per interval: a client sending only
    // over-long lines must not flood the log (LineTruncatedCount has the exact number).
    int64_t suppressed = 0;
    if (truncated > 0 && truncateLog_.admit(Clock::now(), &suppressed, truncated))
      source_.logger().warn("truncated ", truncated, " line(s) from ", c.peer,
                            " to max-line-length (", s_.maxLineLength, " bytes)",
                            suppressedNote(suppressed));
  }

  const char* bodyOf(const Span& s, const char* data) const noexcept {
    return s.offset == kKeptHead ? keptHead_.data() : data + s.offset;
  }

  // Makes the events of the lines in spans_ (which lie in data) and hands them to the channels.
  // Returns false when the connection is now held.
  bool deliver(Connection& c, const char* data) {
    for (const Span& s : spans_) batch_.emplace_back(std::string(bodyOf(s, data), s.length));
    const auto n = static_cast<int64_t>(batch_.size());
    sdk::Result r = sources::putBatch(processor_, counter_, batch_);
    if (r) {
      if (s_.ackEveryEvent)
        for (int64_t i = 0; i < n; ++i) c.out.append("OK\n", 3);
      spans_.clear();
      return true;
    }
    int64_t suppressed = 0;
    const bool log = refuseLog_.admit(Clock::now(), &suppressed);
    if (s_.ackEveryEvent) {
      const std::string reply = "FAILED: " + oneLine(r.error()) + "\n";
      for (int64_t i = 0; i < n; ++i) c.out += reply;
      spans_.clear();
      if (log)
        source_.logger().warn("channels refused ", n, " lines from ", c.peer, ": ", r.error(),
                              "; replied FAILED", suppressedNote(suppressed));
      return true;
    }
    // Hold: rebuild the refused lines from the read buffer (the only copy, and only here).
    c.pending.reserve(spans_.size());
    for (const Span& s : spans_) c.pending.emplace_back().body.assign(bodyOf(s, data), s.length);
    spans_.clear();
    c.backoff = NetcatSource::kRetryMin;
    c.retryAt = Clock::now() + c.backoff;
    ++heldCount_;
    if (log)
      source_.logger().warn("channels refused ", n, " lines from ", c.peer, ": ", r.error(),
                            "; holding the connection and retrying", suppressedNote(suppressed));
    return false;
  }

  void retry(Connection& c, Clock::time_point now) {
    batch_.clear();
    for (const sdk::Event& e : c.pending) batch_.push_back(e.clone());
    counter_.incrementAppendBatchReceivedCount();
    sdk::Result r = processor_.processEventBatch(batch_);
    batch_.clear();
    if (!r) {
      counter_.incrementChannelWriteFail();
      c.backoff = std::min(c.backoff * 2, NetcatSource::kRetryMax);
      c.retryAt = Clock::now() + c.backoff;
      return;
    }
    counter_.addToEventAcceptedCount(static_cast<int64_t>(c.pending.size()));
    counter_.incrementAppendBatchAcceptedCount();
    c.pending.clear();
    --heldCount_;
    source_.logger().debug("channels accepted the held lines from ", c.peer, "; reading again");
    c.lastActive = now;
    // What was read after the refused batch; it may be refused again and hold once more.
    const std::size_t len = c.carry.size();
    std::memcpy(readBuf_.get(), c.carry.data(), len);
    c.carry.clear();
    consume(c, readBuf_.get(), len);
    settle(c);
  }

  // Sends pending replies without blocking. Returns false when the client is gone.
  bool flush(Connection& c) noexcept {
    while (c.outSent < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.outSent, c.out.size() - c.outSent,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        c.outSent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      source_.logger().debug("cannot reply to ", c.peer, ": ", errnoText(errno));
      return false;
    }
    if (c.outSent == c.out.size()) {
      c.out.clear();
      c.outSent = 0;
    } else if (c.outSent >= NetcatSource::kMaxPendingReplyBytes) {
      c.out.erase(0, c.outSent);
      c.outSent = 0;
    }
    return true;
  }

  // Registers what the connection waits for: input unless held, finished or backed up with
  // replies; output while replies are pending. A held connection leaves the epoll set entirely
  // (epoll would report a hang-up even with no events asked for). False on an epoll error.
  bool updateInterest(Connection& c) noexcept {
    uint32_t want = 0;
    if (!c.held()) {
      if (!c.eof && c.outPending() < NetcatSource::kMaxPendingReplyBytes) want |= EPOLLIN;
      if (c.outPending() > 0) want |= EPOLLOUT;
    }
    if (want == c.interest) return true;
    int rc;
    if (want == 0) {
      rc = ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, c.fd, nullptr);
    } else {
      epoll_event ev{};
      ev.events = want;
      ev.data.ptr = &c;
      rc = ::epoll_ctl(epollFd_, c.interest == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
    }
    if (rc != 0) {
      source_.logger().error("epoll_ctl for ", c.peer, " failed: ", errnoText(errno));
      return false;
    }
    c.interest = want;
    return true;
  }

  // Closes and frees the connection; c is invalid afterwards.
  void close(Connection& c) noexcept {
    if (c.held()) {
      --heldCount_;
      dropPending(c);
    }
    // Closing the descriptor also removes it from the epoll set.
    ::close(c.fd);
    const std::size_t slot = c.slot;
    if (slot + 1 != conns_.size()) {
      std::swap(conns_[slot], conns_.back());
      conns_[slot]->slot = slot;
    }
    conns_.pop_back();
    counter_.setOpenConnectionCount(static_cast<int64_t>(conns_.size()));
  }

  void dropPending(Connection& c) noexcept {
    const auto n = static_cast<int64_t>(c.pending.size());
    counter_.add(NetcatSource::kPendingLineDroppedCount, n);
    source_.logger().warn("dropping ", n, " lines from ", c.peer,
                          " that the channels never accepted (the source is stopping)");
    c.pending.clear();
  }

  // I/O thread, on the way out: best-effort replies, then every connection closes.
  void shutdown() noexcept {
    for (std::size_t i = conns_.size(); i-- > 0;) {
      Connection& c = *conns_[i];
      if (c.outPending() > 0) flush(c);
      if (!c.held()) dropPartial(c);
      close(c);
    }
  }

  NetcatSource& source_;
  sdk::SourceCounter& counter_;
  sdk::ChannelProcessor& processor_;
  const NetcatSettings s_;

  int listenFd_ = -1;
  int epollFd_ = -1;
  int wakeFd_ = -1;
  uint16_t port_ = 0;
  char listenTag_ = 0;  // addresses used as epoll tags for the two non-connection fds
  char wakeTag_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;

  // I/O thread state.
  const std::size_t readCap_;
  std::unique_ptr<char[]> readBuf_;
  sdk::EventBatch batch_;    // reused; the processor leaves it empty with its capacity
  std::vector<Span> spans_;  // parallel to batch_
  std::string keptHead_;     // see consume()
  std::vector<std::unique_ptr<Connection>> conns_;
  std::size_t heldCount_ = 0;
  Clock::time_point nextIdleSweep_{};
  bool acceptPaused_ = false;
  Clock::time_point acceptResumeAt_{};
  LogThrottle acceptLog_{std::chrono::seconds(1)};
  LogThrottle rejectLog_{std::chrono::seconds(1)};
  LogThrottle refuseLog_{std::chrono::seconds(1)};
  LogThrottle truncateLog_{std::chrono::seconds(10)};
};

NetcatSource::NetcatSource() {
  counter_layout::addInOrder(
      sourceCounter(), kLineTruncatedCount,
      {"LineTruncatedCount", "PartialLineDroppedCount", "ConnectionRejectedCount",
       "ConnectionIdleClosedCount", "PendingLineDroppedCount"},
      "netcat source");
}

NetcatSource::~NetcatSource() { stop(); }

void NetcatSource::configure(const sdk::Context& context) {
  NetcatSettings s;
  s.bind = context.requireString("bind");
  while (!s.bind.empty() && (s.bind.back() == ' ' || s.bind.back() == '\t')) s.bind.pop_back();
  while (!s.bind.empty() && (s.bind.front() == ' ' || s.bind.front() == '\t')) s.bind.erase(0, 1);

  s.port = static_cast<int>(requireInteger(context, "port"));
  s.maxLineLength = static_cast<std::size_t>(requireInteger(context, "max-line-length"));
  s.ackEveryEvent = requireBoolean(context, "ack-every-event");
  s.batchSize = static_cast<std::size_t>(requireInteger(context, "batchSize"));
  s.maxConnections = static_cast<std::size_t>(requireInteger(context, "max-connections"));
  s.idleTimeout = std::chrono::seconds(requireInteger(context, "idleTimeout"));
  if (context.containsKey("encoding")) {
    std::string enc = context.getString("encoding", "");
    for (char& ch : enc) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (enc != "utf-8" && enc != "utf8")
      logger().warn(context.describe("encoding"), ": '", context.getString("encoding", ""),
                    "' is ignored; line bytes are passed through unchanged");
  }
  settings_ = std::move(s);
  configured_ = true;
}

void NetcatSource::start() {
  if (server_) return;
  if (!configured_) throw std::logic_error("netcat source started before configure()");
  auto server = std::make_unique<NetcatServer>(*this, settings_);
  server->open();
  boundPort_.store(server->port(), std::memory_order_release);
  logger().info("listening on ", hostPort(settings_.bind, server->port()),
                settings_.port == 0 ? " (port chosen by the system)" : "");
  server->startThread();
  server_ = std::move(server);
}

void NetcatSource::stop() {
  if (!server_) return;
  server_->stopThread();
  server_.reset();
  boundPort_.store(0, std::memory_order_release);
  sourceCounter().setOpenConnectionCount(0);
  logger().info("stopped");
}

}  // namespace sluice::plugins::netcat
