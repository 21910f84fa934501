#pragma once
// What a TCP syslog source runs while started: its I/O threads (an IoPool of its own, see
// plugins/common/net/README.md for why per component), the protocol (tcp_protocol.hpp) and one
// listener per port (syslogtcp has one, multiport_syslogtcp several, all on the same pool and
// protocol). start() and stop() run on the control thread; header-only like the protocol.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "listener.hpp"
#include "net/io_pool.hpp"
#include "net/tcp_listener.hpp"
#include "syslog/tcp_protocol.hpp"

namespace sluice::plugins::syslog {

template <class Traits>
class TcpServer {
 public:
  struct Config {
    std::string threadName;  // "sluice-<threadName>-<i>"
    std::size_t threads = 0;  // 0: the pool's default
    TcpProtocolOptions protocol;
    typename TcpProtocol<Traits>::ParserFactory makeParser;
    net::ListenerOptions listener;  // port ignored: one listener per entry of ports
    std::vector<int> ports;
  };

  TcpServer() = default;
  ~TcpServer() { stop(); }
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  // Starts the threads and listens on every port; logs "listening on host:port" per port. Throws
  // std::runtime_error naming the address that could not be bound, after undoing the rest.
  // `log`, `processor`, `counter` and `ids` must outlive stop().
  void start(const Config& cfg, sdk::Logger& log, sdk::ChannelProcessor& processor,
             sdk::SourceCounter& counter, const SyslogCounterIds& ids) {
    if (pool_) return;
    pool_ = std::make_unique<net::IoPool>(cfg.threadName, cfg.threads);
    if (sdk::Result r = pool_->start(log); !r) {
      pool_.reset();
      throw std::runtime_error(r.error());
    }
    protocol_ = std::make_unique<TcpProtocol<Traits>>(processor, counter, ids, log, pool_->size(),
                                                      cfg.protocol, cfg.makeParser);
    net::ListenerOptions o = cfg.listener;
    o.maxBufferedInputBytes =
        std::max(o.maxBufferedInputBytes, protocol_->maxKeptBytes(o.readChunkBytes));
    for (const int port : cfg.ports) {
      auto l = std::make_unique<net::TcpListener>();
      ids.bind(l->stats(), counter);
      o.port = port;
      if (sdk::Result r = l->start(*pool_, *protocol_, o, log); !r) {
        stop();
        throw std::runtime_error(r.error());
      }
      log.info("listening on ", net::hostPort(o.bind, l->port()),
               port == 0 ? " (port chosen by the system)" : "", o.tls ? " (TLS)" : "");
      listeners_.push_back(std::move(l));
    }
  }

  // Closes every listener and connection (a held connection's refused messages are dropped and
  // counted), then ends the threads. Safe to repeat.
  void stop() noexcept {
    for (auto& l : listeners_) l->stop();
    listeners_.clear();
    if (pool_) pool_->stop();
    protocol_.reset();
    pool_.reset();
  }

  bool running() const noexcept { return pool_ != nullptr; }
  // The bound ports, in the order of Config::ports (the system's choice for 0).
  std::vector<uint16_t> ports() const {
    std::vector<uint16_t> out;
    for (const auto& l : listeners_) out.push_back(l->port());
    return out;
  }

 private:
  std::unique_ptr<net::IoPool> pool_;
  std::unique_ptr<TcpProtocol<Traits>> protocol_;
  std::vector<std::unique_ptr<net::TcpListener>> listeners_;
};

}  // namespace sluice::plugins::syslog
