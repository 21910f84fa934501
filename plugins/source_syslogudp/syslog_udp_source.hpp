#pragma once
// Flume's SyslogUDPSource (type syslogudp): receives syslog messages (RFC 5424 or RFC 3164), one
// per datagram, and turns each into an event with Flume's headers, parsed as Flume's SyslogUtils
// does (plugins/common/syslog). A thin protocol layer over the network layer's UdpReceiver: one
// I/O thread reads datagrams in batches (recvmmsg) and hands each batch to the channels in one
// transaction. UDP has no back-pressure: a batch the channels refuse is dropped and counted.

#include <cstdint>
#include <memory>
#include <string>

#include "net/ip_filter.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"
#include "syslog/syslog_common.hpp"
#include "syslog/udp_support.hpp"

namespace sluice::plugins::syslogudp {

// The keys this source accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& syslogUdpSourceSchema();

struct SyslogUdpSettings {
  std::string host = "0.0.0.0";
  int port = 0;
  syslog::KeepFields keep;
  syslog::PeerHeaderNames names;
  std::shared_ptr<const net::IpFilter> ipFilter;
  std::size_t receiveBufferBytes = 0;  // SO_RCVBUF; 0: the system's default
};

class SyslogUdpSource final : public sdk::EventDrivenSource {
 public:
  SyslogUdpSource();
  ~SyslogUdpSource() override;

  void configure(const sdk::Context& context) override;
  // Binds and starts receiving; throws naming the address when it cannot be bound. A second
  // start() while running does nothing.
  void start() override;
  // Closes the socket and ends the thread. Safe to repeat.
  void stop() override;

  // The bound port (the system's choice for port = 0); 0 when stopped.
  uint16_t boundPort() const noexcept;
  const SyslogUdpSettings& settings() const noexcept { return settings_; }

 private:
  struct Server;
  SyslogUdpSettings settings_;
  bool configured_ = false;
  syslog::UdpCounterIds ids_;
  std::size_t invalidId_;
  std::unique_ptr<Server> server_;
};

}  // namespace sluice::plugins::syslogudp
