#pragma once
// The UDP receiver of the network layer (syslogudp, netcatudp): datagrams are read in batches
// (recvmmsg) into one reused buffer and handed to the protocol a batch at a time. A datagram
// longer than the size limit is delivered cut to it and counted (Stat::Truncated); datagrams the
// protocol does not accept (a full channel: UDP has no back-pressure) are counted as dropped,
// and so are those the kernel dropped because the socket's queue overflowed
// (Stat::KernelDropped, from SO_RXQ_OVFL).
//
// Threads: the socket lives on one of the pool's threads; onDatagrams runs there.

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/result.hpp"
#include "stats.hpp"

namespace sluice::plugins::net {

class IoPool;

struct Datagram {
  std::string_view data;  // at most maxDatagramBytes; valid during the call only
  std::size_t size = 0;   // the datagram's real size (more than data.size() when truncated)
  const sockaddr_storage* sender = nullptr;

  bool truncated() const noexcept { return size > data.size(); }
  // The sender's address ("ip"), for a header such as Flume's clientIPHeader.
  std::string senderIp() const;
  uint16_t senderPort() const noexcept;
};

class DatagramHandler {
 public:
  virtual ~DatagramHandler() = default;
  // A batch of datagrams, in arrival order. Returns how many of them (from the front) were
  // accepted; the rest are counted as dropped. An exception counts the batch as dropped.
  virtual std::size_t onDatagrams(std::span<const Datagram> batch) = 0;
};

struct UdpOptions {
  std::string bind = "0.0.0.0";
  int port = 0;                          // 0: the system picks one
  std::size_t maxDatagramBytes = 65507;  // longer datagrams are cut to this (and counted)
  std::size_t batchDatagrams = 64;       // at most this many per onDatagrams (and per syscall)
  std::size_t receiveBufferBytes = 0;    // SO_RCVBUF; 0: the system's default
};

class UdpReceiver {
 public:
  UdpReceiver();
  ~UdpReceiver();  // stop()
  UdpReceiver(const UdpReceiver&) = delete;
  UdpReceiver& operator=(const UdpReceiver&) = delete;

  // Control thread. Binds and starts receiving on one of the pool's threads (which must run).
  // `handler`, `pool` and `log` must outlive stop(). Fails naming the address.
  sdk::Result start(IoPool& pool, DatagramHandler& handler, UdpOptions options,
                    sdk::Logger& log) noexcept;
  // Control thread. Closes the socket; returns when the handler is no longer called.
  void stop() noexcept;

  uint16_t port() const noexcept;
  Stats& stats() noexcept { return *stats_; }
  const Stats& stats() const noexcept { return *stats_; }

  struct Core;

 private:
  std::shared_ptr<Stats> stats_;
  std::shared_ptr<Core> core_;
};

}  // namespace sluice::plugins::net
