#pragma once
// Counters of the network layer's listeners, receivers and clients. The layer counts every
// connection-level fact here (relaxed atomics, added per read or per connection, never per
// event); a plugin binds the ones Flume users know to its own counter group under their Flume
// names, e.g. for the netcat source
//
//   stats.bind(net::Stat::Rejected, sourceCounter(), kConnectionRejectedCount);
//   stats.bind(net::Stat::Open, sourceCounter(), sdk::SourceCounter::OpenConnectionCount);
//
// and the layer then counts into both. Bind before start(); read at any time from any thread.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "sluice/sdk/counters.hpp"

namespace sluice::plugins::net {

enum class Stat : std::size_t {
  // TCP listener
  Accepted,         // connections taken in (within max-connections and allowed by the filter)
  Rejected,         // accepted and closed at once: max-connections were open
  Denied,           // accepted and closed at once: the IP filter refused the peer
  Open,             // gauge: connections open now
  IdleClosed,       // closed after the idle timeout
  RequestTimedOut,  // closed: a request did not complete within the request timeout
  WriteTimedOut,    // closed: the peer did not take its replies within the write timeout
  InputOverflow,    // closed: more unconsumed input than the read buffer limit
  TlsFailed,        // TLS handshakes that failed or timed out (listener and client)
  Errors,           // sockets closed on an I/O error or an exception in the protocol
  BytesIn,          // bytes received (plaintext after TLS)
  BytesOut,         // bytes sent (plaintext before TLS)
  // UDP receiver
  Datagrams,      // datagrams received
  Truncated,      // datagrams longer than the size limit, delivered cut to it
  Dropped,        // datagrams the protocol did not accept (a full channel)
  KernelDropped,  // datagrams the kernel dropped because the socket's queue was full
  // TCP client
  ConnectAttempts,  // connection attempts made (not those skipped during back-off)
  Connects,         // connections established (TLS included)
  ConnectFailures,  // attempts that failed, timeouts included
  ConnectTimeouts,  // attempts that ran out of connect timeout
  RequestTimeouts,  // requests that ran out of request timeout
  Closed,           // connections closed, by either side
  kCount
};

// The name the layer itself uses for a statistic (logs, tests, the monitoring page).
const char* nameOf(Stat s) noexcept;

class Stats {
 public:
  static constexpr std::size_t kCount = static_cast<std::size_t>(Stat::kCount);

  int64_t get(Stat s) const noexcept { return v_[idx(s)].load(std::memory_order_relaxed); }

  // Makes `s` count into `group`'s counter `index` as well. Control thread, before start().
  void bind(Stat s, sdk::CounterGroup& group, std::size_t index) noexcept {
    group_[idx(s)] = &group;
    index_[idx(s)] = index;
  }

  // The layer's side; any thread.
  void add(Stat s, int64_t n = 1) noexcept {
    v_[idx(s)].fetch_add(n, std::memory_order_relaxed);
    if (sdk::CounterGroup* g = group_[idx(s)]) g->add(index_[idx(s)], n);
  }

 private:
  static constexpr std::size_t idx(Stat s) noexcept { return static_cast<std::size_t>(s); }

  std::array<std::atomic<int64_t>, kCount> v_{};
  std::array<sdk::CounterGroup*, kCount> group_{};
  std::array<std::size_t, kCount> index_{};
};

}  // namespace sluice::plugins::net
