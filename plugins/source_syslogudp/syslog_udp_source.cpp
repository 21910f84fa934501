#include "syslog_udp_source.hpp"

#include <span>
#include <stdexcept>
#include <utility>

#include "config_keys.hpp"
#include "listener.hpp"
#include "net/io_pool.hpp"
#include "net/keys.hpp"
#include "net/log_throttle.hpp"
#include "net/udp_receiver.hpp"
#include "syslog/framer.hpp"
#include "syslog/source_keys.hpp"
#include "syslog/syslog_utils.hpp"
#include "text_util.hpp"

namespace sluice::plugins::syslogudp {

namespace {

// Per receive batch: each datagram's message (SyslogUtils in UDP mode) parsed into the reused
// batch, then one hand-over. Runs on the receiver's thread only.
class Handler final : public net::DatagramHandler {
 public:
  Handler(SyslogUdpSource& source, const SyslogUdpSettings& s, const syslog::UdpCounterIds& ids,
          std::size_t invalidId)
      : processor_(source.getChannelProcessor()),
        counter_(source.sourceCounter()),
        ids_(ids),
        invalidId_(invalidId),
        names_(s.names),
        parser_(s.keep, s.names),
        peers_(s.ipFilter, !s.names.clientHostname.empty()),
        refusedLog_(source.logger(), sdk::LogLevel::warn, std::chrono::seconds(10)) {}

  std::size_t onDatagrams(std::span<const net::Datagram> datagrams) override {
    batch_.clear();  // left over only if a parse threw
    const int64_t now = syslog::nowMillis();
    int64_t denied = 0, unreadable = 0, invalid = 0;
    for (const net::Datagram& d : datagrams) {
      const syslog::UdpPeers::Peer& peer = peers_.lookup(*d.sender, now);
      if (!peer.allowed) {
        ++denied;
        continue;
      }
      const std::optional<syslog::Message> m = syslog::frameDatagram(d.data);
      if (!m) {  // Flume's buildEvent throws on these and drops the datagram (EventReadFail)
        ++unreadable;
        continue;
      }
      const syslog::PeerInfo info{
          names_.clientIp.empty() ? std::string_view() : peer.ip, peer.hostname, {}};
      if (parser_.parse(*m, now, info, batch_.emplace_back()) == syslog::ParseOutcome::Invalid)
        ++invalid;
    }
    if (denied) counter_.add(ids_.denied, denied);
    if (unreadable) counter_.add(sdk::SourceCounter::EventReadFail, unreadable);
    if (!syslog::handOverDatagrams(processor_, counter_, batch_, refusedLog_)) return 0;
    if (invalid) counter_.add(invalidId_, invalid);
    return datagrams.size();
  }

 private:
  sdk::ChannelProcessor& processor_;
  sdk::SourceCounter& counter_;
  const syslog::UdpCounterIds& ids_;
  const std::size_t invalidId_;
  const syslog::PeerHeaderNames names_;
  syslog::SyslogUtilsParser parser_;
  syslog::UdpPeers peers_;
  net::ThrottledLog refusedLog_;
  sdk::EventBatch batch_;
};

}  // namespace

struct SyslogUdpSource::Server : syslog::UdpEndpoint<Handler> {
  Server() : UdpEndpoint("syslogudp") {}
};

const sdk::Schema& syslogUdpSourceSchema() {
  static const sdk::Schema schema = net::withKeys(
      {
          net::bindKey("host", "0.0.0.0"),
          net::portKey(net::Transport::Udp),
          sdk::Key("receiveBufferBytes")
              .integer()
              .def("0")
              .range(0, 1 << 30)
              .doc("Socket receive buffer (SO_RCVBUF) in bytes; 0 keeps the system's default"),
          sdk::Key("eventSize")
              .integer()
              .flumeIgnored("Flume's syslogudp does not read it: a message is one datagram of up "
                            "to 64 KiB"),
      },
      syslog::messageKeys(), net::ipFilterKeys());
  return schema;
}

SyslogUdpSource::SyslogUdpSource()
    : ids_(sourceCounter()), invalidId_(sourceCounter().add("InvalidMessageCount")) {}

SyslogUdpSource::~SyslogUdpSource() { stop(); }

void SyslogUdpSource::configure(const sdk::Context& context) {
  SyslogUdpSettings s;
  s.host = syslog::readHost(context, "host");
  s.port = requireInteger(context, "port");
  syslog::readMessageKeys(context, s.keep, s.names);
  s.receiveBufferBytes = static_cast<std::size_t>(requireInteger(context, "receiveBufferBytes"));
  s.ipFilter = net::configureIpFilter(context);
  settings_ = std::move(s);
  configured_ = true;
}

void SyslogUdpSource::start() {
  if (server_) return;
  if (!configured_) throw std::logic_error("syslogudp source started before configure()");
  auto server = std::make_unique<Server>();
  net::UdpOptions o;
  o.bind = settings_.host;
  o.port = settings_.port;
  o.maxDatagramBytes = 65535;  // SyslogUDPSource's 64 KiB
  o.receiveBufferBytes = settings_.receiveBufferBytes;
  server->start(std::make_unique<Handler>(*this, settings_, ids_, invalidId_), ids_,
                sourceCounter(), o, logger());
  server_ = std::move(server);
}

void SyslogUdpSource::stop() {
  if (!server_) return;
  server_->stop();
  server_.reset();
  logger().info("stopped");
}

uint16_t SyslogUdpSource::boundPort() const noexcept { return server_ ? server_->port() : 0; }

}  // namespace sluice::plugins::syslogudp
