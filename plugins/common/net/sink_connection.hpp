#pragma once
// The connection of an RPC sink (avro, thrift) on the network layer's TcpClient, as Flume's
// AbstractRpcSink keeps it: one connection, driven by the sink runner's thread, made when
// needed (the first batch, after a failure, after the reset interval, after the peer closed an
// idle one) and counted in Flume's SinkCounter names. No client back-off: after a failure the
// sink reports it and the runner backs off.
//
//   configureRpcSink(context, logger(), settings);  // configure(): the keys of rpcSinkKeys()
//   SinkConnection conn;                 // a member of the sink
//   conn.open(settings, logger(), sinkCounter());      // start()
//   if (sdk::Result r = conn.ready(resetInterval, &fresh); !r)  // process(), before a take
//     return deliveryFailed("cannot connect to " + target + ": " + r.error());
//   conn.client().request(...);

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "config_keys.hpp"
#include "listener.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/counters.hpp"
#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/result.hpp"
#include "sluice/sdk/schema.hpp"
#include "tcp_client.hpp"
#include "text_util.hpp"
#include "tls.hpp"

namespace sluice::plugins::net {

// The keys the RPC sinks spell the same way (Flume's AbstractRpcSink), with one default and range.
// sourceType names the next hop's source in the descriptions ("avro", "thrift").
inline sdk::Key sinkHostnameKey(const std::string& sourceType) {
  return sdk::Key("hostname")
      .string()
      .req()
      .doc("Host name or IP address of the next hop's " + sourceType + " source");
}
inline sdk::Key sinkPortKey(const std::string& sourceType) {
  return sdk::Key("port").integer().req().range(1, 65535).doc("Port of the next hop's " +
                                                              sourceType + " source");
}
inline sdk::Key sinkBatchSizeKey() {
  return sdk::Key("batch-size")
      .integer()
      .def("100")
      .range(1, 1000000)
      .doc("Events taken from the channel and sent in one appendBatch");
}
inline sdk::Key connectTimeoutKey() {
  return sdk::Key("connect-timeout")
      .longValue()
      .def("20000")
      .range(1000, 3600000)
      .doc("Milliseconds to wait for a connection (and TLS handshake) to the next hop");
}
inline sdk::Key requestTimeoutKey() {
  return sdk::Key("request-timeout")
      .longValue()
      .def("20000")
      .range(1000, 3600000)
      .doc("Milliseconds to wait for the next hop's answer to a batch");
}

// SinkConnection::ready()'s resetInterval, under the name the sink's Flume counterpart reads.
inline sdk::Key resetIntervalKey(const std::string& name) {
  return sdk::Key(name)
      .longValue()
      .def("0")
      .range(0, 31536000)
      .doc("Seconds after which the connection is closed and opened again; 0 means never");
}

// The next hop and the batch: hostname, port, batch-size, connect-timeout, request-timeout; a
// sink adds its own keys and the TLS ones with withKeys (keys.hpp).
inline sdk::Schema rpcSinkKeys(const std::string& sourceType) {
  return {sinkHostnameKey(sourceType), sinkPortKey(sourceType), sinkBatchSizeKey(),
          connectTimeoutKey(), requestTimeoutKey()};
}

// What rpcSinkKeys() and the TLS client keys configure; an RPC sink's settings extend it.
struct RpcSinkTarget {
  std::string hostname;
  int port = 0;
  std::size_t batchSize = 0;
  std::chrono::milliseconds connectTimeout{};
  std::chrono::milliseconds requestTimeout{};
  std::shared_ptr<const TlsContext> tls;  // ssl = true

  std::string address() const { return hostPort(hostname, port); }
};

// Control thread (configure()): reads the keys of rpcSinkKeys() and the TLS client keys into
// `target`, and warns when the next hop's certificate is not going to be verified.
inline void configureRpcSink(const sdk::Context& context, sdk::Logger& log, RpcSinkTarget& target) {
  target.hostname = text::trimmed(context.requireString("hostname"));
  target.port = static_cast<int>(requireInteger(context, "port"));
  target.batchSize = static_cast<std::size_t>(requireInteger(context, "batch-size"));
  target.connectTimeout = std::chrono::milliseconds(requireLong(context, "connect-timeout"));
  target.requestTimeout = std::chrono::milliseconds(requireLong(context, "request-timeout"));
  target.tls = configureTls(context, TlsRole::Client);
  if (target.tls && requireBoolean(context, "trust-all-certs"))
    log.warn(context.describe("trust-all-certs"),
             " = true: the next hop's certificate is not verified");
}

class SinkConnection {
 public:
  // Control thread (start()): makes the client unless there is one; a reconfigured sink
  // calls reset() first, so that a new target takes effect. `log` and `counter` outlive it.
  void open(const RpcSinkTarget& target, sdk::Logger& log, sdk::SinkCounter& counter) {
    if (client_) return;
    ClientOptions o;
    o.host = target.hostname;
    o.port = target.port;
    o.connectTimeout = target.connectTimeout;
    o.requestTimeout = target.requestTimeout;
    o.backoffMin = std::chrono::milliseconds(0);
    o.tls = target.tls;
    tls_ = o.tls != nullptr;
    log_ = &log;
    client_ = std::make_unique<TcpClient>(std::move(o), log);
    Stats& st = client_->stats();
    st.bind(Stat::Connects, counter, sdk::SinkCounter::ConnectionCreatedCount);
    st.bind(Stat::ConnectFailures, counter, sdk::SinkCounter::ConnectionFailedCount);
    st.bind(Stat::Closed, counter, sdk::SinkCounter::ConnectionClosedCount);
  }
  void reset() noexcept { client_.reset(); }
  void close() noexcept {
    if (client_) client_->close();
  }
  bool opened() const noexcept { return client_ != nullptr; }
  bool connected() const noexcept { return client_ && client_->connected(); }
  TcpClient& client() noexcept { return *client_; }

  // Runner thread, before taking a batch: drops the connection once resetInterval (0: never)
  // has passed since it was made, or when the peer closed it while it sat idle (a restart, an
  // idle timeout: found here, it costs no batch); connects when there is none. *fresh tells
  // whether this call made a new connection (a protocol's per-connection state starts over).
  sdk::Result ready(std::chrono::seconds resetInterval, bool* fresh = nullptr) {
    if (fresh) *fresh = false;
    const std::string& target = client_->target();
    if (client_->connected() && resetInterval.count() > 0 &&
        std::chrono::steady_clock::now() - client_->connectedAt() >= resetInterval) {
      log_->debug("the reset interval passed: reconnecting to ", target);
      client_->close();
    }
    if (client_->connected() && client_->peerGone()) {
      log_->info(target, " closed the connection; reconnecting");
      client_->close();
    }
    if (client_->connected()) return sdk::Result::success();
    if (sdk::Result r = client_->connect(); !r) return r;
    log_->info("connected to ", target, tls_ ? " (TLS)" : "");
    if (fresh) *fresh = true;
    return sdk::Result::success();
  }

 private:
  std::unique_ptr<TcpClient> client_;
  sdk::Logger* log_ = nullptr;
  bool tls_ = false;
};

}  // namespace sluice::plugins::net
