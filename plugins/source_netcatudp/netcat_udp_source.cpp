#include "netcat_udp_source.hpp"

#include <cstring>
#include <span>
#include <stdexcept>
#include <utility>

#include "config_keys.hpp"
#include "listener.hpp"
#include "net/io_pool.hpp"
#include "net/keys.hpp"
#include "net/log_throttle.hpp"
#include "net/udp_receiver.hpp"
#include "text_util.hpp"

namespace sluice::plugins::netcatudp {

namespace {

// Per receive batch: one event per datagram into the reused batch, then one hand-over. Runs on
// the receiver's thread only.
class Handler final : public net::DatagramHandler {
 public:
  Handler(NetcatUdpSource& source, const NetcatUdpSettings& s, const syslog::UdpCounterIds& ids)
      : processor_(source.getChannelProcessor()),
        counter_(source.sourceCounter()),
        ids_(ids),
        header_(s.remoteAddressHeader),
        peers_(s.ipFilter, false),
        refusedLog_(source.logger(), sdk::LogLevel::warn, std::chrono::seconds(10)) {}

  std::size_t onDatagrams(std::span<const net::Datagram> datagrams) override {
    batch_.clear();  // left over only if an allocation threw
    const int64_t now = syslog::nowMillis();
    int64_t denied = 0;
    for (const net::Datagram& d : datagrams) {
      const syslog::UdpPeers::Peer& peer = peers_.lookup(*d.sender, now);
      if (!peer.allowed) {
        ++denied;
        continue;
      }
      // NetcatUdpSource.extractEvent: the bytes before the first '\n' ('\r' kept).
      std::string_view line = d.data;
      if (const void* nl = std::memchr(line.data(), '\n', line.size()))
        line = line.substr(0, static_cast<std::size_t>(static_cast<const char*>(nl) - line.data()));
      sdk::Event& e = batch_.emplace_back(std::string(line));
      if (!header_.empty()) {
        // Java's InetSocketAddress.toString() of the sender: "/address:port".
        std::string where;
        where.reserve(peer.ip.size() + 8);
        where += '/';
        where += peer.ip;
        where += ':';
        where += std::to_string(d.senderPort());
        e.headers.set(header_, std::move(where));
      }
    }
    if (denied) counter_.add(ids_.denied, denied);
    if (!syslog::handOverDatagrams(processor_, counter_, batch_, refusedLog_)) return 0;
    return datagrams.size();
  }

 private:
  sdk::ChannelProcessor& processor_;
  sdk::SourceCounter& counter_;
  const syslog::UdpCounterIds& ids_;
  const std::string header_;
  syslog::UdpPeers peers_;
  net::ThrottledLog refusedLog_;
  sdk::EventBatch batch_;
};

}  // namespace

struct NetcatUdpSource::Server : syslog::UdpEndpoint<Handler> {
  Server() : UdpEndpoint("netcatudp") {}
};

const sdk::Schema& netcatUdpSourceSchema() {
  static const sdk::Schema schema = net::withKeys(
      {
          net::bindKey("bind", "0.0.0.0"),
          net::portKey(net::Transport::Udp),
          sdk::Key("remoteAddressHeader")
              .string()
              .doc("Header that gets the sender's address as /ip:port"),
          sdk::Key("remoteAddress")
              .string()
              .doc("The same as remoteAddressHeader: the key Flume's code actually reads"),
          sdk::Key("maxDatagramBytes")
              .integer()
              .def("65535")
              .range(1, 65535)
              .doc("Longest datagram read; a longer one is cut to this many bytes and counted"),
          sdk::Key("receiveBufferBytes")
              .integer()
              .def("0")
              .range(0, 1 << 30)
              .doc("Socket receive buffer (SO_RCVBUF) in bytes; 0 keeps the system's default"),
      },
      net::ipFilterKeys());
  return schema;
}

NetcatUdpSource::NetcatUdpSource() : ids_(sourceCounter()) {}

NetcatUdpSource::~NetcatUdpSource() { stop(); }

void NetcatUdpSource::configure(const sdk::Context& context) {
  NetcatUdpSettings s;
  s.bind = text::trimmed(requireValue(context, "bind"));
  if (s.bind.empty()) s.bind = "0.0.0.0";  // Flume: no bind address binds every interface
  s.port = requireInteger(context, "port");
  const std::string documented =
      text::trimmed(context.getString("remoteAddressHeader").value_or(""));
  const std::string actual = text::trimmed(context.getString("remoteAddress").value_or(""));
  if (!documented.empty() && !actual.empty() && documented != actual)
    context.fail("remoteAddress", "names a different header than remoteAddressHeader ('" +
                                      documented + "'); set one of them");
  s.remoteAddressHeader = documented.empty() ? actual : documented;
  s.maxDatagramBytes = static_cast<std::size_t>(requireInteger(context, "maxDatagramBytes"));
  s.receiveBufferBytes = static_cast<std::size_t>(requireInteger(context, "receiveBufferBytes"));
  s.ipFilter = net::configureIpFilter(context);
  settings_ = std::move(s);
  configured_ = true;
}

void NetcatUdpSource::start() {
  if (server_) return;
  if (!configured_) throw std::logic_error("netcatudp source started before configure()");
  auto server = std::make_unique<Server>();
  net::UdpOptions o;
  o.bind = settings_.bind;
  o.port = settings_.port;
  o.maxDatagramBytes = settings_.maxDatagramBytes;
  o.receiveBufferBytes = settings_.receiveBufferBytes;
  server->start(std::make_unique<Handler>(*this, settings_, ids_), ids_, sourceCounter(), o,
                logger());
  server_ = std::move(server);
}

void NetcatUdpSource::stop() {
  if (!server_) return;
  server_->stop();
  server_.reset();
  logger().info("stopped");
}

uint16_t NetcatUdpSource::boundPort() const noexcept { return server_ ? server_->port() : 0; }

}  // namespace sluice::plugins::netcatudp
