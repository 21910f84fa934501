#pragma once
// Flume's SyslogTcpSource (type syslogtcp): listens on one TCP port for syslog messages (RFC 5424
// or RFC 3164, newline-framed or RFC 6587 octet-counted) and turns each into an event with
// Flume's headers, parsed as Flume's SyslogUtils does (plugins/common/syslog). A thin protocol
// layer over the network layer: the I/O threads, TLS, limits, the IP filter and back-pressure
// are plugins/common/net's (README.md describes what users see).

#include <cstdint>
#include <memory>
#include <string>

#include "net/tcp_listener.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"
#include "syslog/tcp_protocol.hpp"

namespace sluice::plugins::syslogtcp {

// The keys this source accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& syslogTcpSourceSchema();

struct SyslogTcpSettings {
  std::string host = "0.0.0.0";
  int port = 0;
  syslog::KeepFields keep;
  syslog::TcpProtocolOptions protocol;
  net::ListenerOptions listener;  // TLS and the IP filter included
};

class SyslogTcpSource final : public sdk::EventDrivenSource {
 public:
  SyslogTcpSource();
  ~SyslogTcpSource() override;

  // Control thread, before start (again after stop for a reload).
  void configure(const sdk::Context& context) override;
  // Starts the I/O threads and listens; throws naming the address when it cannot be bound. A
  // second start() while running does nothing.
  void start() override;
  // Closes the listener and every connection and ends the threads. Safe to repeat.
  void stop() override;

  // The bound port (the system's choice for port = 0); 0 when stopped.
  uint16_t boundPort() const noexcept;
  const SyslogTcpSettings& settings() const noexcept { return settings_; }

 private:
  struct Server;
  SyslogTcpSettings settings_;
  bool configured_ = false;
  syslog::SyslogCounterIds ids_;
  std::unique_ptr<Server> server_;
};

}  // namespace sluice::plugins::syslogtcp
