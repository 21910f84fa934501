#pragma once
// Flume's MultiportSyslogTCPSource (type multiport_syslogtcp): listens on several TCP ports at
// once for syslog messages (newline-framed or RFC 6587 octet-counted), decodes each line with
// the port's charset and parses it as Flume's SyslogParser does (plugins/common/syslog). A thin
// protocol layer over the network layer: one pool of I/O threads serves every port; TLS, limits,
// the IP filter and back-pressure are plugins/common/net's (README.md describes what users see).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/tcp_listener.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"
#include "syslog/syslog_parser.hpp"
#include "syslog/tcp_protocol.hpp"

namespace sluice::plugins::multiport_syslog {

// The keys this source accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& multiportSyslogSourceSchema();

struct MultiportSyslogSettings {
  std::string host = "0.0.0.0";
  std::vector<int> ports;
  std::size_t threads = 0;  // numProcessors; 0: the network layer's default
  syslog::KeepFields keep;
  syslog::CharsetConfig charsets;
  syslog::TcpProtocolOptions protocol;
  net::ListenerOptions listener;  // TLS and the IP filter included
};

class MultiportSyslogSource final : public sdk::EventDrivenSource {
 public:
  MultiportSyslogSource();
  ~MultiportSyslogSource() override;

  // Control thread, before start (again after stop for a reload).
  void configure(const sdk::Context& context) override;
  // Starts the I/O threads and listens on every port; throws naming the first address that
  // cannot be bound (after closing the others). A second start() while running does nothing.
  void start() override;
  // Closes the listeners and every connection and ends the threads. Safe to repeat.
  void stop() override;

  // The bound ports in the order of `ports` (the system's choice for 0); empty when stopped.
  std::vector<uint16_t> boundPorts() const;
  const MultiportSyslogSettings& settings() const noexcept { return settings_; }

 private:
  struct Server;
  MultiportSyslogSettings settings_;
  bool configured_ = false;
  syslog::SyslogCounterIds ids_;
  std::unique_ptr<Server> server_;
};

}  // namespace sluice::plugins::multiport_syslog
