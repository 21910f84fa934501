#pragma once
// What a TCP syslog source runs while started: a net::TcpService (its own I/O threads, see
// plugins/common/net/README.md for why per component) serving the syslog protocol
// (tcp_protocol.hpp) on one listener per port (syslogtcp has one, multiport_syslogtcp several,
// all on the same pool and protocol). start() and stop() run on the control thread; header-only
// like the protocol.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/tcp_service.hpp"
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

  // Starts the threads and listens on every port; logs "listening on host:port" per port. Throws
  // std::runtime_error naming the address that could not be bound, after undoing the rest.
  // `log`, `processor`, `counter` and `ids` must outlive stop().
  void start(const Config& cfg, sdk::Logger& log, sdk::ChannelProcessor& processor,
             sdk::SourceCounter& counter, const SyslogCounterIds& ids) {
    if (service_.running()) return;
    ids.bind(service_.stats(), counter);
    net::ListenerOptions o = cfg.listener;
    o.maxBufferedInputBytes = std::max(
        o.maxBufferedInputBytes, TcpProtocol<Traits>::maxKeptBytes(cfg.protocol, o.readChunkBytes));
    const sdk::Result r = service_.start(
        cfg.threadName, cfg.threads, o, log,
        [&](std::size_t ioThreads) {
          return std::make_unique<TcpProtocol<Traits>>(processor, counter, ids, log, ioThreads,
                                                       cfg.protocol, cfg.makeParser);
        },
        cfg.ports);
    if (!r) throw std::runtime_error(r.error());
    for (std::size_t i = 0; i < cfg.ports.size(); ++i)
      log.info("listening on ", service_.address(i), o.tls ? " (TLS)" : "");
  }

  // Closes every listener and connection (a held connection's refused messages are dropped and
  // counted), then ends the threads. Safe to repeat.
  void stop() noexcept { service_.stop(); }

  bool running() const noexcept { return service_.running(); }
  // The bound ports, in the order of Config::ports (the system's choice for 0).
  std::vector<uint16_t> ports() const { return service_.ports(); }

 private:
  net::TcpService service_;
};

}  // namespace sluice::plugins::syslog
