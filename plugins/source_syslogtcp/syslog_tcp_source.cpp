#include "syslog_tcp_source.hpp"

#include <stdexcept>
#include <utility>

#include "config_keys.hpp"
#include "net/ip_filter.hpp"
#include "net/keys.hpp"
#include "net/tls.hpp"
#include "syslog/source_keys.hpp"
#include "syslog/syslog_utils.hpp"
#include "syslog/tcp_server.hpp"
#include "text_util.hpp"

namespace sluice::plugins::syslogtcp {

namespace {

// Flume's SyslogUtils path: its byte machine (UtilsFramer) and its two regular expressions.
struct UtilsTraits {
  using Framer = syslog::UtilsFramer;
  using Parser = syslog::SyslogUtilsParser;
  static syslog::MessageKind parse(Parser& p, const syslog::Message& m, int64_t nowMs, int,
                                   const syslog::PeerInfo& peer, sdk::Event& out) {
    switch (p.parse(m, nowMs, peer, out)) {
      case syslog::ParseOutcome::Invalid:
        return syslog::MessageKind::Invalid;
      case syslog::ParseOutcome::Incomplete:
        return syslog::MessageKind::Incomplete;
      default:
        return syslog::MessageKind::Parsed;
    }
  }
};

}  // namespace

struct SyslogTcpSource::Server : syslog::TcpServer<UtilsTraits> {};

const sdk::Schema& syslogTcpSourceSchema() {
  static const sdk::Schema schema = net::withKeys(
      {
          net::bindKey("host", "0.0.0.0"),
          net::portKey(),
      },
      syslog::tcpKeys(), net::tlsServerKeys(), net::ipFilterKeys());
  return schema;
}

SyslogTcpSource::SyslogTcpSource() : ids_(sourceCounter()) {}

SyslogTcpSource::~SyslogTcpSource() { stop(); }

void SyslogTcpSource::configure(const sdk::Context& context) {
  SyslogTcpSettings s;
  s.host = syslog::readHost(context, "host");
  s.port = requireInteger(context, "port");
  syslog::TcpSettings t = syslog::readTcpKeys(context);
  s.keep = t.keep;
  s.protocol = std::move(t.protocol);
  s.listener = std::move(t.listener);
  s.listener.bind = s.host;
  s.listener.port = s.port;
  s.listener.tls = net::configureTls(context, net::TlsRole::Server);
  s.listener.ipFilter = net::configureIpFilter(context);
  settings_ = std::move(s);
  configured_ = true;
}

void SyslogTcpSource::start() {
  if (server_) return;
  if (!configured_) throw std::logic_error("syslogtcp source started before configure()");
  auto server = std::make_unique<Server>();
  syslog::TcpServer<UtilsTraits>::Config cfg;
  cfg.threadName = "syslogtcp";
  cfg.protocol = settings_.protocol;
  const syslog::KeepFields keep = settings_.keep;
  const syslog::PeerHeaderNames names = settings_.protocol.names;
  cfg.makeParser = [keep, names] {
    return std::make_unique<syslog::SyslogUtilsParser>(keep, names);
  };
  cfg.listener = settings_.listener;
  cfg.ports = {settings_.port};
  server->start(cfg, logger(), getChannelProcessor(), sourceCounter(), ids_);
  server_ = std::move(server);
}

void SyslogTcpSource::stop() {
  if (!server_) return;
  server_->stop();
  server_.reset();
  sourceCounter().setOpenConnectionCount(0);
  logger().info("stopped");
}

uint16_t SyslogTcpSource::boundPort() const noexcept {
  if (!server_) return 0;
  const auto ports = server_->ports();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace sluice::plugins::syslogtcp
