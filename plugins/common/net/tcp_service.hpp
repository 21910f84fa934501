#pragma once
// A listening TCP service, the way a source runs one: its own I/O threads (IoPool), the plugin's
// Protocol made for that many threads, and a TcpListener per port on them (one for most sources,
// several for multiport_syslogtcp). They must start in that order and stop in the reverse one
// (a listener waits for every session to end, and the sessions use the protocol and the
// threads), and a start that fails half-way must leave nothing running. The avro, thrift,
// netcat, http and syslog TCP sources each wrote that sequence; this is it once.
//
// Threads: start() and stop() on the control thread; port() on any.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/result.hpp"
#include "tcp_listener.hpp"

namespace sluice::plugins::net {

class TcpService {
 public:
  // Makes the protocol for a pool of `ioThreads` threads (protocols keep per-thread state).
  using MakeProtocol = std::function<std::unique_ptr<Protocol>(std::size_t ioThreads)>;

  TcpService();
  ~TcpService();  // stop()
  TcpService(const TcpService&) = delete;
  TcpService& operator=(const TcpService&) = delete;

  // The counters of all the service's listeners together; bind them to the plugin's counter
  // group before start(). Kept across restarts.
  Stats& stats() noexcept { return *stats_; }

  // Control thread. Starts `threads` I/O threads named `name` (0: one per core, IoPool's rule),
  // makes the protocol, binds and listens on options.port, or with `ports` on each of them (0:
  // the system's choice). On failure nothing is left running and the result says why ("cannot
  // bind to host:port: reason"). A second start() while running does nothing. `log` must
  // outlive stop().
  sdk::Result start(std::string name, std::size_t threads, const ListenerOptions& options,
                    sdk::Logger& log, const MakeProtocol& makeProtocol,
                    const std::vector<int>& ports = {}) noexcept;

  // Control thread. Stops listening and closes every connection (queued replies are sent), then
  // joins the threads, then drops the protocol. Safe to repeat; start() may follow.
  void stop() noexcept;

  bool running() const noexcept { return protocol_ != nullptr; }
  // The first listener's bound port (the system's choice for 0); 0 when stopped. Any thread.
  uint16_t port() const noexcept { return port_.load(std::memory_order_acquire); }
  // Every listener's bound port, in the order they were given. Control thread.
  std::vector<uint16_t> ports() const;
  std::size_t ioThreads() const noexcept;

  // Listener i's "host:port", plus " (port chosen by the system)" where it was asked for port 0:
  // what a source's "listening on ..." line starts with (tests/support/sluice_test.py reads the
  // port from it).
  std::string address(std::size_t i = 0) const;

 private:
  std::shared_ptr<Stats> stats_;
  std::unique_ptr<IoPool> pool_;
  std::unique_ptr<Protocol> protocol_;
  std::vector<std::unique_ptr<TcpListener>> listeners_;
  std::vector<int> asked_;  // the port each listener was given
  std::string bind_;
  std::atomic<uint16_t> port_{0};
};

}  // namespace sluice::plugins::net
