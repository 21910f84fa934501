#pragma once
// The I/O threads of the network layer: a small pool, each thread running its own io_context.
// A connection lives on one context for its whole life, so its handlers never run concurrently
// and need no strand or lock; connections are dealt to the contexts round robin, so the work
// spreads over the threads.
//
// Who owns a pool: the component (a source, a sink) that runs listeners, receivers or clients
// creates one in start() and destroys it in stop(), after them. See README.md for why the pool
// is per component and not process-wide.
//
// Asio stays out of this header; the layer's own code reaches the contexts through
// io_pool_impl.hpp.

#include <cstddef>
#include <memory>
#include <string>

#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::plugins::net {

class IoPool {
 public:
  struct Impl;

  // name: a short tag for the threads, "sluice-<name>-<i>" as top -H shows them (the name is
  // cut to fit Linux's 15 characters). threads: 0 means one per core, at most 4.
  explicit IoPool(std::string name, std::size_t threads = 0);
  ~IoPool();  // stop()
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  // Control thread. Starts the threads; the logger must outlive the pool. Safe to repeat.
  sdk::Result start(sdk::Logger& log) noexcept;
  // Control thread. Ends and joins the threads and drops what was still queued. Stop every
  // listener, receiver and client on the pool first. Safe to repeat; start() may follow.
  void stop() noexcept;

  std::size_t size() const noexcept;
  bool running() const noexcept;
  Impl& impl() noexcept { return *impl_; }

  // The number of threads `threads` = 0 stands for on this machine.
  static std::size_t defaultThreads() noexcept;
  // One per two cores, at most 4: for a protocol whose work per byte is less than what the sink
  // does with the same bytes (netcat), where an I/O thread per core only takes CPU from the sink.
  static std::size_t halfCoreThreads() noexcept;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::plugins::net
