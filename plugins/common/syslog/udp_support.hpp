#pragma once
// What the UDP sources (syslogudp, and netcatudp, which takes only this header of the syslog
// library) put on the network layer's UdpReceiver: a cache of per-sender facts, their counters,
// and the hand-over of a receive batch to the channels. UDP has no back-pressure: a batch the
// channels refuse is dropped and counted, as in Flume. Header-only; for plugins linking net_dep.
//
// Threads: a receiver calls its handler on one I/O thread only, so nothing here locks.

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

#include "listener.hpp"
#include "net/io_pool.hpp"
#include "net/ip_filter.hpp"
#include "net/log_throttle.hpp"
#include "net/stats.hpp"
#include "net/udp_receiver.hpp"
#include "sluice/sdk/counters.hpp"
#include "sluice/sdk/source.hpp"
#include "syslog/syslog_common.hpp"

namespace sluice::plugins::syslog {

// Facts about a sender that every datagram from it needs: whether ipFilterRules allow it, its
// address as Java prints it (clientIPHeader, netcatudp's remote address) and, when asked for,
// its host name (clientHostnameHeader: Java's getHostName(), a reverse lookup whose answer Java
// caches for 30 s). Looked up once per sender and `ttl`, not per datagram.
class UdpPeers {
 public:
  struct Peer {
    bool allowed = true;
    std::string ip;        // Java's InetAddress.getHostAddress()
    std::string hostname;  // the reverse lookup's name, else ip; only when wantHostname
    int64_t expiresMs = 0;
  };

  UdpPeers(std::shared_ptr<const net::IpFilter> filter, bool wantHostname,
           std::chrono::milliseconds ttl = std::chrono::seconds(30), std::size_t maxPeers = 4096)
      : filter_(std::move(filter)),
        wantHostname_(wantHostname),
        ttl_(ttl.count()),
        maxPeers_(maxPeers) {}

  const Peer& lookup(const sockaddr_storage& sender, int64_t nowMs) {
    const Key k = keyOf(sender);
    auto it = peers_.find(k);
    if (it != peers_.end() && it->second.expiresMs > nowMs) return it->second;
    if (it == peers_.end() && peers_.size() >= maxPeers_) peers_.clear();  // bounded
    Peer p;
    p.ip = net::javaHostAddress(sender);
    bool looked = false;
    auto name = [&](const sockaddr_storage& ss) {
      if (!looked) {
        p.hostname = net::reverseLookup(ss);
        looked = true;
      }
      return p.hostname;
    };
    if (filter_) p.allowed = filter_->allows(sender, name);
    if (wantHostname_) {
      name(sender);
      if (p.hostname.empty()) p.hostname = p.ip;
    }
    p.expiresMs = nowMs + ttl_;
    return peers_.insert_or_assign(k, std::move(p)).first->second;
  }

 private:
  struct Key {
    sa_family_t family = AF_UNSPEC;
    std::array<unsigned char, 16> addr{};
    bool operator==(const Key& o) const noexcept { return family == o.family && addr == o.addr; }
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      uint64_t h = 1469598103934665603ULL ^ k.family;
      for (unsigned char c : k.addr) h = (h ^ c) * 1099511628211ULL;
      return static_cast<std::size_t>(h);
    }
  };
  static Key keyOf(const sockaddr_storage& ss) noexcept {
    Key k;
    k.family = ss.ss_family;
    if (ss.ss_family == AF_INET)
      std::memcpy(k.addr.data(), &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, 4);
    else if (ss.ss_family == AF_INET6)
      std::memcpy(k.addr.data(), &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, 16);
    return k;
  }

  std::shared_ptr<const net::IpFilter> filter_;
  bool wantHostname_;
  int64_t ttl_;
  std::size_t maxPeers_;
  std::unordered_map<Key, Peer, KeyHash> peers_;
};

// Counters the UDP sources add to their SourceCounter after Flume's.
struct UdpCounterIds {
  std::size_t dropped, kernelDropped, truncated, denied;

  explicit UdpCounterIds(sdk::SourceCounter& c)
      : dropped(c.add("DatagramDroppedCount")),
        kernelDropped(c.add("KernelDroppedCount")),
        truncated(c.add("DatagramTruncatedCount")),
        denied(c.add("DatagramDeniedCount")) {}

  void bind(net::Stats& st, sdk::SourceCounter& c) const {
    st.bind(net::Stat::Dropped, c, dropped);
    st.bind(net::Stat::KernelDropped, c, kernelDropped);
    st.bind(net::Stat::Truncated, c, truncated);
    st.bind(net::Stat::Errors, c, sdk::SourceCounter::GenericProcessingFail);
  }
};

// Hands a receive batch's events to the channels (which consume them) and counts as Flume's UDP
// sources do, per batch: received, accepted or ChannelWriteFail. False when refused: the
// datagrams are then dropped (the receiver counts them in DatagramDroppedCount).
inline bool handOverDatagrams(sdk::ChannelProcessor& processor, sdk::SourceCounter& counter,
                              sdk::EventBatch& batch, net::ThrottledLog& refusedLog) {
  const auto n = static_cast<int64_t>(batch.size());
  if (n == 0) return true;
  counter.addToEventReceivedCount(n);
  counter.incrementAppendBatchReceivedCount();
  const sdk::Result r = processor.processEventBatch(batch);
  batch.clear();
  if (r) {
    counter.addToEventAcceptedCount(n);
    counter.incrementAppendBatchAcceptedCount();
    return true;
  }
  counter.incrementChannelWriteFail();
  refusedLog.emit("the channels refused ", n, " events (", r.error(),
                  "); their datagrams are dropped (UDP cannot hold the sender back)");
  return false;
}

// One UDP socket of a source on a single-thread I/O pool (one socket: one thread), with the
// handler it feeds: what syslogudp and netcatudp start and stop.
template <class Handler>
class UdpEndpoint {
 public:
  explicit UdpEndpoint(std::string poolName) : pool_(std::move(poolName), 1) {}

  // Starts the pool, binds the receiver's counters to the source's, starts receiving into
  // `handler` and logs where. Throws std::runtime_error with the reason; the SDK's guard turns
  // it into a failed start().
  void start(std::unique_ptr<Handler> handler, const UdpCounterIds& ids,
             sdk::SourceCounter& counter, const net::UdpOptions& o, sdk::Logger& log) {
    if (sdk::Result r = pool_.start(log); !r) throw std::runtime_error(r.error());
    handler_ = std::move(handler);
    ids.bind(receiver_.stats(), counter);
    if (sdk::Result r = receiver_.start(pool_, *handler_, o, log); !r) {
      pool_.stop();
      throw std::runtime_error(r.error());
    }
    log.info("listening on ", net::hostPort(o.bind, receiver_.port()),
             o.port == 0 ? " (port chosen by the system)" : "", " (UDP)");
  }
  void stop() {
    receiver_.stop();
    pool_.stop();
  }
  uint16_t port() const noexcept { return receiver_.port(); }

 private:
  net::IoPool pool_;
  std::unique_ptr<Handler> handler_;
  net::UdpReceiver receiver_;
};

}  // namespace sluice::plugins::syslog
