#include "tcp_service.hpp"

#include <exception>
#include <utility>

#include "io_pool.hpp"
#include "listener.hpp"

namespace sluice::plugins::net {

TcpService::TcpService() = default;
TcpService::~TcpService() { stop(); }

sdk::Result TcpService::start(std::string name, std::size_t threads, const ListenerOptions& options,
                              sdk::Logger& log, const MakeProtocol& makeProtocol) noexcept {
  if (running()) return sdk::Result::success();
  try {
    auto pool = std::make_unique<IoPool>(std::move(name), threads);
    if (sdk::Result r = pool->start(log); !r) return r;
    std::unique_ptr<Protocol> protocol = makeProtocol(pool->size());
    if (!protocol) return sdk::Result::failure("no protocol to serve");
    // On failure the listener holds nothing, and the pool stops as it goes out of scope.
    if (sdk::Result r = listener_.start(*pool, *protocol, options, log); !r) return r;
    pool_ = std::move(pool);
    protocol_ = std::move(protocol);
    bind_ = options.bind;
    systemPort_ = options.port == 0;
    port_.store(listener_.port(), std::memory_order_release);
    return sdk::Result::success();
  } catch (const std::exception& e) {
    return sdk::Result::failure(e.what());
  }
}

void TcpService::stop() noexcept {
  if (!running()) return;
  port_.store(0, std::memory_order_release);
  listener_.stop();  // first: it waits for every session, which use the threads and the protocol
  pool_.reset();
  protocol_.reset();
}

std::size_t TcpService::ioThreads() const noexcept { return pool_ ? pool_->size() : 0; }

std::string TcpService::address() const {
  return hostPort(bind_, port()) + (systemPort_ ? " (port chosen by the system)" : "");
}

}  // namespace sluice::plugins::net
