// UdpReceiver: reactor style, as the TCP listener reads: wait until the socket is readable,
// then recvmmsg without blocking until it would block (Asio's reactor is edge-triggered), a
// batch at a time, posting the next batch after a full one so other sockets of the thread get
// their turn. Asio has no recvmmsg, so the batch read uses the native descriptor.

#include "udp_receiver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "io_pool_impl.hpp"
#include "listener.hpp"
#include "log_throttle.hpp"
#include "text_util.hpp"

namespace sluice::plugins::net {

namespace asio = boost::asio;
using udp = asio::ip::udp;

std::string Datagram::senderIp() const {
  if (!sender) return {};
  char ip[INET6_ADDRSTRLEN] = "";
  if (sender->ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sender)->sin_addr, ip, sizeof ip);
  } else if (sender->ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(sender)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a))
      ::inet_ntop(AF_INET, a.s6_addr + 12, ip, sizeof ip);
    else
      ::inet_ntop(AF_INET6, &a, ip, sizeof ip);
  }
  return ip;
}

uint16_t Datagram::senderPort() const noexcept {
  if (!sender) return 0;
  if (sender->ss_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in*>(sender)->sin_port);
  if (sender->ss_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(sender)->sin6_port);
  return 0;
}

struct UdpReceiver::Core : std::enable_shared_from_this<UdpReceiver::Core> {
  Core(IoPool::Impl& p, DatagramHandler& h, UdpOptions opts, sdk::Logger& l,
       std::shared_ptr<Stats> s)
      : pool(p),
        handler(h),
        o(std::move(opts)),
        log(l),
        stats(std::move(s)),
        errorLog(l, sdk::LogLevel::warn, std::chrono::seconds(1)),
        truncLog(l, sdk::LogLevel::warn, std::chrono::seconds(10)) {
    o.maxDatagramBytes = std::clamp<std::size_t>(o.maxDatagramBytes, 1, 65535);
    // A batch's buffer stays near 1 MiB whatever the size limit.
    const std::size_t fit = std::max<std::size_t>(1, (std::size_t{1} << 20) / o.maxDatagramBytes);
    batch = std::clamp<std::size_t>(std::min(o.batchDatagrams, fit), 1, 1024);
    buf.reset(new char[batch * o.maxDatagramBytes]);
    iov.resize(batch);
    msgs.resize(batch);
    names.resize(batch);
    control.resize(batch * kControlBytes);
    datagrams.resize(batch);
  }

  sdk::Result bind() {
    const std::string where = hostPort(o.bind, o.port);
    ctxIndex = pool.pick();
    boost::system::error_code ec;
    udp::resolver resolver(pool.context(ctxIndex));
    const auto results =
        resolver.resolve(o.bind, std::to_string(o.port),
                         udp::resolver::passive | udp::resolver::numeric_service, ec);
    if (ec)
      return sdk::Result::failure("cannot bind to " + where + " (UDP): cannot resolve '" + o.bind +
                                  "': " + ec.message());
    std::string lastError = "no address";
    for (const auto& r : results) {
      auto s = std::make_unique<udp::socket>(pool.context(ctxIndex));
      s->open(r.endpoint().protocol(), ec);
      if (!ec) s->set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec && o.receiveBufferBytes > 0)
        s->set_option(
            asio::socket_base::receive_buffer_size(static_cast<int>(o.receiveBufferBytes)), ec);
      if (!ec) s->bind(r.endpoint(), ec);
      if (!ec) s->non_blocking(true, ec);
      if (ec) {
        lastError = ec.message();
        continue;
      }
      int one = 1;  // the kernel's drop count arrives with every datagram
      ::setsockopt(s->native_handle(), SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
      port = s->local_endpoint(ec).port();
      socket = std::move(s);
      break;
    }
    if (!socket) return sdk::Result::failure("cannot bind to " + where + " (UDP): " + lastError);
    return sdk::Result::success();
  }

  void wait() noexcept {
    if (!socket || !socket->is_open()) return;
    socket->async_wait(udp::socket::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                         if (!ec) self->receive();
                       });
  }

  void receive() noexcept {
    for (int round = 0; round < 16; ++round) {
      if (!socket || !socket->is_open()) return;
      const std::size_t max = o.maxDatagramBytes;
      for (std::size_t i = 0; i < batch; ++i) {
        iov[i] = {buf.get() + i * max, max};
        msghdr& h = msgs[i].msg_hdr;
        h = msghdr{};
        h.msg_name = &names[i];
        h.msg_namelen = sizeof names[i];
        h.msg_iov = &iov[i];
        h.msg_iovlen = 1;
        h.msg_control = control.data() + i * kControlBytes;
        h.msg_controllen = kControlBytes;
        msgs[i].msg_len = 0;
      }
      // MSG_TRUNC: msg_len is the datagram's real length even when it did not fit.
      const int n = ::recvmmsg(socket->native_handle(), msgs.data(), static_cast<unsigned>(batch),
                               MSG_DONTWAIT | MSG_TRUNC, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return wait();
        stats->add(Stat::Errors);
        errorLog.emit("receiving datagrams failed: ", text::errnoText(errno));
        return wait();
      }
      deliver(static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) == batch) break;  // likely more: after the others' turn
    }
    try {
      asio::post(socket->get_executor(), [self = shared_from_this()] { self->receive(); });
    } catch (const std::exception&) {
      wait();
    }
  }

  void deliver(std::size_t n) noexcept {
    int64_t bytes = 0, truncated = 0;
    for (std::size_t i = 0; i < n; ++i) {
      Datagram& d = datagrams[i];
      d.size = msgs[i].msg_len;
      d.data = std::string_view(buf.get() + i * o.maxDatagramBytes,
                                std::min<std::size_t>(d.size, o.maxDatagramBytes));
      d.sender = &names[i];
      bytes += static_cast<int64_t>(d.data.size());
      if (d.truncated()) ++truncated;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
          uint32_t total = 0;  // drops on this socket since it was opened
          std::memcpy(&total, CMSG_DATA(c), sizeof total);
          if (total != kernelDrops) {
            stats->add(Stat::KernelDropped, static_cast<int64_t>(total - kernelDrops));
            kernelDrops = total;
          }
        }
    }
    stats->add(Stat::Datagrams, static_cast<int64_t>(n));
    stats->add(Stat::BytesIn, bytes);
    if (truncated > 0) {
      stats->add(Stat::Truncated, truncated);
      truncLog.emit(truncated, " datagram(s) longer than ", o.maxDatagramBytes,
                    " bytes were cut to that size");
    }
    std::size_t accepted = 0;
    try {
      accepted = std::min(n, handler.onDatagrams(std::span<const Datagram>(datagrams.data(), n)));
    } catch (const std::exception& e) {
      stats->add(Stat::Errors);
      errorLog.emit("dropping ", n, " datagrams: ", e.what());
    }
    if (accepted < n) stats->add(Stat::Dropped, static_cast<int64_t>(n - accepted));
  }

  static constexpr std::size_t kControlBytes = CMSG_SPACE(sizeof(uint32_t)) + 16;

  IoPool::Impl& pool;
  DatagramHandler& handler;
  UdpOptions o;
  sdk::Logger& log;
  std::shared_ptr<Stats> stats;
  std::size_t ctxIndex = 0;
  std::unique_ptr<udp::socket> socket;
  uint16_t port = 0;
  uint32_t kernelDrops = 0;

  std::size_t batch = 1;
  std::unique_ptr<char[]> buf;
  std::vector<iovec> iov;
  std::vector<mmsghdr> msgs;
  std::vector<sockaddr_storage> names;
  std::vector<char> control;
  std::vector<Datagram> datagrams;
  ThrottledLog errorLog, truncLog;
  std::shared_ptr<Core> leaked;  // set only when stopped after the pool (a bug): see stop()
};

UdpReceiver::UdpReceiver() : stats_(std::make_shared<Stats>()) {}
UdpReceiver::~UdpReceiver() { stop(); }

uint16_t UdpReceiver::port() const noexcept { return core_ ? core_->port : 0; }

sdk::Result UdpReceiver::start(IoPool& pool, DatagramHandler& handler, UdpOptions options,
                               sdk::Logger& log) noexcept {
  if (core_) return sdk::Result::success();
  if (!pool.running()) return sdk::Result::failure("the I/O threads are not running");
  try {
    auto core = std::make_shared<Core>(pool.impl(), handler, std::move(options), log, stats_);
    if (sdk::Result r = core->bind(); !r) return r;
    asio::post(pool.impl().context(core->ctxIndex), [core] { core->receive(); });
    core_ = std::move(core);
    return sdk::Result::success();
  } catch (const std::exception& e) {
    return sdk::Result::failure(std::string("cannot start receiving datagrams: ") + e.what());
  }
}

void UdpReceiver::stop() noexcept {
  if (!core_) return;
  Core& c = *core_;
  if (c.pool.workers.empty()) {
    c.log.error("UDP receiver stopped after its I/O threads (a bug in the component)");
    c.leaked = core_;  // a cycle: never destroyed (see TcpListener::stop)
    core_.reset();
    return;
  }
  // On its own thread, so no receive() runs at the same time; afterwards none starts.
  runOn(c.pool.context(c.ctxIndex), [&] {
    boost::system::error_code ignored;
    c.socket->close(ignored);
    c.socket.reset();
  });
  core_.reset();
}

}  // namespace sluice::plugins::net
