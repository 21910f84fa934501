#pragma once
// A listening TCP service, the way a source runs one: its own I/O threads (IoPool), the plugin's
// Protocol made for that many threads, and a TcpListener on them. The three must start in that
// order and stop in the reverse one (the listener waits for every session to end, and the
// sessions use the protocol and the threads), and a start that fails half-way must leave nothing
// running. The avro, thrift, netcat and http sources each wrote that sequence; this is it once.
//
// Threads: start() and stop() on the control thread; port() on any.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

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

  // The listener's counters; bind them to the plugin's counter group before start().
  Stats& stats() noexcept { return listener_.stats(); }

  // Control thread. Starts `threads` I/O threads named `name` (0: one per core, IoPool's rule),
  // makes the protocol, binds and listens. On failure nothing is left running and the result
  // says why ("cannot bind to host:port: reason"). A second start() while running does nothing.
  // `log` must outlive stop().
  sdk::Result start(std::string name, std::size_t threads, const ListenerOptions& options,
                    sdk::Logger& log, const MakeProtocol& makeProtocol) noexcept;

  // Control thread. Stops listening and closes every connection (queued replies are sent), then
  // joins the threads, then drops the protocol. Safe to repeat; start() may follow.
  void stop() noexcept;

  bool running() const noexcept { return protocol_ != nullptr; }
  // The bound port (the system's choice for port 0); 0 when stopped. Any thread.
  uint16_t port() const noexcept { return port_.load(std::memory_order_acquire); }
  std::size_t ioThreads() const noexcept;

  // "host:port", plus " (port chosen by the system)" when the options asked for port 0: what a
  // source's "listening on ..." line starts with (tests/support/sluice_test.py reads the port
  // from it).
  std::string address() const;

 private:
  std::unique_ptr<IoPool> pool_;
  std::unique_ptr<Protocol> protocol_;
  TcpListener listener_;
  std::string bind_;
  bool systemPort_ = false;
  std::atomic<uint16_t> port_{0};
};

}  // namespace sluice::plugins::net
