#include "tcp_service.hpp"

#include <exception>
#include <utility>

#include "io_pool.hpp"
#include "listener.hpp"

namespace sluice::plugins::net {

TcpService::TcpService() : stats_(std::make_shared<Stats>()) {}
TcpService::~TcpService() { stop(); }

sdk::Result TcpService::start(std::string name, std::size_t threads, const ListenerOptions& options,
                              sdk::Logger& log, const MakeProtocol& makeProtocol,
                              const std::vector<int>& ports) noexcept {
  if (running()) return sdk::Result::success();
  try {
    auto pool = std::make_unique<IoPool>(std::move(name), threads);
    if (sdk::Result r = pool->start(log); !r) return r;
    std::unique_ptr<Protocol> protocol = makeProtocol(pool->size());
    if (!protocol) return sdk::Result::failure("no protocol to serve");
    pool_ = std::move(pool);
    protocol_ = std::move(protocol);
    asked_ = ports.empty() ? std::vector<int>{options.port} : ports;
    bind_ = options.bind;
    ListenerOptions o = options;
    for (const int port : asked_) {
      auto l = std::make_unique<TcpListener>(stats_);
      o.port = port;
      if (sdk::Result r = l->start(*pool_, *protocol_, o, log); !r) {
        stop();  // the listeners already started, then the threads and the protocol
        return r;
      }
      listeners_.push_back(std::move(l));
    }
    port_.store(listeners_.front()->port(), std::memory_order_release);
    return sdk::Result::success();
  } catch (const std::exception& e) {
    stop();
    return sdk::Result::failure(e.what());
  }
}

void TcpService::stop() noexcept {
  port_.store(0, std::memory_order_release);
  // First: a listener waits for every session, which use the threads and the protocol.
  for (auto& l : listeners_) l->stop();
  listeners_.clear();
  pool_.reset();
  protocol_.reset();
}

std::vector<uint16_t> TcpService::ports() const {
  std::vector<uint16_t> out;
  for (const auto& l : listeners_) out.push_back(l->port());
  return out;
}

std::size_t TcpService::ioThreads() const noexcept { return pool_ ? pool_->size() : 0; }

std::string TcpService::address(std::size_t i) const {
  if (i >= listeners_.size()) return {};
  return hostPort(bind_, listeners_[i]->port()) +
         (asked_[i] == 0 ? " (port chosen by the system)" : "");
}

}  // namespace sluice::plugins::net
