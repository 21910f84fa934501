#include "multiport_syslog_source.hpp"

#include <charconv>
#include <stdexcept>
#include <utility>

#include "net/ip_filter.hpp"
#include "net/keys.hpp"
#include "net/tls.hpp"
#include "syslog/source_keys.hpp"
#include "syslog/tcp_server.hpp"
#include "text_util.hpp"

namespace sluice::plugins::multiport_syslog {

namespace {

// Flume's SyslogParser path: LineSplitter's framing (LineFramer) and position-based parsing with
// the port's charset.
struct MultiportTraits {
  using Framer = syslog::LineFramer;
  using Parser = syslog::MultiportParser;
  static syslog::MessageKind parse(Parser& p, const syslog::Message& m, int64_t nowMs,
                                   int localPort, const syslog::PeerInfo& peer, sdk::Event& out) {
    switch (p.parse(m, nowMs, localPort, peer, out)) {
      case Parser::Outcome::Invalid:
        return syslog::MessageKind::Invalid;
      case Parser::Outcome::Undecodable:
        return syslog::MessageKind::Undecodable;
      case Parser::Outcome::Incomplete:
        return syslog::MessageKind::Incomplete;
      default:
        return syslog::MessageKind::Parsed;
    }
  }
};

// A port number as Flume's Integer.parseInt reads it, checked to be one.
bool parsePort(std::string_view s, int& port) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size() && port >= 0 &&
         port <= 65535;
}

}  // namespace

struct MultiportSyslogSource::Server : syslog::TcpServer<MultiportTraits> {};

const sdk::Schema& multiportSyslogSourceSchema() {
  static const sdk::Schema schema = net::withKeys(
      {
          net::bindKey("host", "0.0.0.0"),
          sdk::Key("ports").list().req().doc(
              "TCP ports to listen on, space-separated; 0 picks a free port and logs it"),
          sdk::Key("portHeader").string().doc("Header that gets the port a message arrived on"),
          sdk::Key("charset.default")
              .string()
              .def("UTF-8")
              .doc("Character set of the messages (ASCII-compatible)"),
          sdk::Key("charset.port.*")
              .string()
              .doc("Character set of the messages on port <port>, instead of charset.default"),
          sdk::Key("numProcessors")
              .integer()
              .range(1, 64)
              .doc("I/O threads serving the ports; one per core (at most 4) when unset"),
          sdk::Key("readBufferBytes")
              .integer()
              .flumeIgnored("Flume's MINA read buffer size; sluice reads up to 256 KiB at once"),
      },
      syslog::tcpKeys(), net::tlsServerKeys(), net::ipFilterKeys());
  return schema;
}

MultiportSyslogSource::MultiportSyslogSource() : ids_(sourceCounter()) {}

MultiportSyslogSource::~MultiportSyslogSource() { stop(); }

void MultiportSyslogSource::configure(const sdk::Context& context) {
  MultiportSyslogSettings s;
  s.host = syslog::readHost(context, "host");
  const std::string ports = context.requireString("ports");
  for (const std::string& p : text::split(ports, " \t,")) {
    int port = 0;
    if (!parsePort(p, port))
      context.fail("ports", "expected port numbers between 0 and 65535, got '" + p + "'");
    for (const int seen : s.ports)
      if (seen == port && port != 0) context.fail("ports", "port " + p + " is listed twice");
    s.ports.push_back(port);
  }
  if (s.ports.empty()) context.fail("ports", "is required but missing");
  s.threads = static_cast<std::size_t>(context.getInteger("numProcessors").value_or(0));

  syslog::TcpSettings t = syslog::readTcpKeys(context);
  s.keep = t.keep;
  s.protocol = std::move(t.protocol);
  s.protocol.names.port = text::trimmed(context.getString("portHeader").value_or(""));
  s.listener = std::move(t.listener);
  s.listener.bind = s.host;

  s.charsets.defaultCharset = text::trimmed(requireValue(context, "charset.default"));
  const sdk::Context portCharsets = context.getSubProperties("charset.port.");
  for (const auto& entry : portCharsets.parameters()) {
    int port = 0;
    if (!parsePort(entry.first, port))
      context.fail("charset.port." + entry.first, "expected charset.port.<port number>");
    s.charsets.ports.emplace_back(port, text::trimmed(entry.second.value));
  }
  if (const std::string bad = s.charsets.validate(); !bad.empty()) {
    const std::string key = bad.substr(0, bad.find(':'));
    context.fail(key, bad.substr(bad.find(':') + 2));
  }

  s.listener.tls = net::configureTls(context, net::TlsRole::Server);
  s.listener.ipFilter = net::configureIpFilter(context);
  settings_ = std::move(s);
  configured_ = true;
}

void MultiportSyslogSource::start() {
  if (server_) return;
  if (!configured_) throw std::logic_error("multiport_syslogtcp source started before configure()");
  auto server = std::make_unique<Server>();
  syslog::TcpServer<MultiportTraits>::Config cfg;
  cfg.threadName = "syslogmulti";
  cfg.threads = settings_.threads;
  cfg.protocol = settings_.protocol;
  const syslog::KeepFields keep = settings_.keep;
  const syslog::PeerHeaderNames names = settings_.protocol.names;
  const syslog::CharsetConfig charsets = settings_.charsets;
  cfg.makeParser = [keep, names, charsets] {
    return std::make_unique<syslog::MultiportParser>(keep, names, charsets);
  };
  cfg.listener = settings_.listener;
  cfg.ports = settings_.ports;
  server->start(cfg, logger(), getChannelProcessor(), sourceCounter(), ids_);
  server_ = std::move(server);
}

void MultiportSyslogSource::stop() {
  if (!server_) return;
  server_->stop();
  server_.reset();
  sourceCounter().setOpenConnectionCount(0);
  logger().info("stopped");
}

std::vector<uint16_t> MultiportSyslogSource::boundPorts() const {
  return server_ ? server_->ports() : std::vector<uint16_t>{};
}

}  // namespace sluice::plugins::multiport_syslog
