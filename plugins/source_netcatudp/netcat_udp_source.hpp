#pragma once
// Flume's NetcatUdpSource (type netcatudp): like `nc -u -k -l [host] [port]`, every datagram
// becomes one event whose body is the datagram's text up to its first newline (the rest of the
// datagram is dropped, as in Flume), optionally with the sender's address in a header. A thin
// protocol layer over the network layer's UdpReceiver: one I/O thread reads datagrams in batches
// (recvmmsg) and hands each batch to the channels in one transaction. UDP has no back-pressure:
// a batch the channels refuse is dropped and counted, as Flume drops the event.

#include <cstdint>
#include <memory>
#include <string>

#include "net/ip_filter.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"
#include "syslog/udp_support.hpp"

namespace sluice::plugins::netcatudp {

// The keys this source accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& netcatUdpSourceSchema();

struct NetcatUdpSettings {
  std::string bind = "0.0.0.0";
  int port = 0;
  std::string remoteAddressHeader;  // empty: no header
  std::shared_ptr<const net::IpFilter> ipFilter;
  std::size_t receiveBufferBytes = 0;
  std::size_t maxDatagramBytes = 65535;
};

class NetcatUdpSource final : public sdk::EventDrivenSource {
 public:
  NetcatUdpSource();
  ~NetcatUdpSource() override;

  void configure(const sdk::Context& context) override;
  // Binds and starts receiving; throws naming the address when it cannot be bound. A second
  // start() while running does nothing.
  void start() override;
  // Closes the socket and ends the thread. Safe to repeat.
  void stop() override;

  // The bound port (the system's choice for port = 0); 0 when stopped.
  uint16_t boundPort() const noexcept;
  const NetcatUdpSettings& settings() const noexcept { return settings_; }

 private:
  struct Server;
  NetcatUdpSettings settings_;
  bool configured_ = false;
  syslog::UdpCounterIds ids_;
  std::unique_ptr<Server> server_;
};

}  // namespace sluice::plugins::netcatudp
