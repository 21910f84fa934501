#pragma once
// Composing a plugin's schema from its own keys and the shared ones of the network layer:
//
//   static const sdk::Schema schema = net::withKeys(
//       {sdk::Key("bind").string().req().doc("..."), ...},
//       net::tlsServerKeys(), net::ipFilterKeys());

#include <string>
#include <utility>
#include <vector>

#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::net {

// Where a listener listens, and on how many I/O threads (the IoPool's size). Flume spells the
// address key `bind` on most sources and `host` on the syslog ones, and requires it on some
// (netcat, avro, thrift) while others listen on every address by default (syslog, http,
// netcatudp): the name and the default are the plugin's, the meaning and the text are shared.
// `defaultAddress` nullptr: required.
inline sdk::Key bindKey(const char* name = "bind", const char* defaultAddress = nullptr) {
  sdk::Key k(name);
  k.string().doc("Host name or IP address to listen on");
  if (defaultAddress != nullptr)
    k.def(defaultAddress);
  else
    k.req();
  return k;
}
enum class Transport { Tcp, Udp };
inline sdk::Key portKey(Transport t = Transport::Tcp) {
  return sdk::Key("port").integer().req().range(0, 65535).doc(
      t == Transport::Tcp ? "TCP port to listen on; 0 picks a free port and logs it"
                          : "UDP port to listen on; 0 picks a free port and logs it");
}
// zeroMeans: what threads = 0 stands for, as IoPool::defaultThreads() or halfCoreThreads() do.
inline sdk::Key threadsKey(const char* zeroMeans = "one per core, at most 4") {
  return sdk::Key("threads").integer().def("0").range(0, 64).doc(
      std::string("I/O threads serving the connections; 0 means ") + zeroMeans);
}

// The connection keys every sluice TCP listener spells the same way (netcat, syslog, avro,
// thrift, http), with one default and range. The plugin reads them into its ListenerOptions:
// maxConnections = max-connections, idleTimeout = seconds(idleTimeout).
inline sdk::Key maxConnectionsKey() {
  return sdk::Key("max-connections")
      .integer()
      .def("1000")
      .range(1, 1000000)
      .doc("Open connections allowed; further clients are accepted and closed at once");
}
inline sdk::Key idleTimeoutKey() {
  return sdk::Key("idleTimeout")
      .integer()
      .def("0")
      .range(0, 31536000)
      .doc("Seconds after which a connection that sent nothing is closed; 0 means never");
}

// The request limits the RPC sources (avro, thrift) spell the same: RpcLimits::maxBatchEvents
// and maxHeaders. A request beyond them is answered with the protocol's error.
inline sdk::Key maxBatchSizeKey() {
  return sdk::Key("max-batch-size")
      .integer()
      .def("100000")
      .range(1, 10000000)
      .doc("Most events in one appendBatch; a larger batch is answered with an error");
}
inline sdk::Key maxHeadersKey() {
  return sdk::Key("max-headers")
      .integer()
      .def("256")
      .range(0, 65536)
      .doc("Most headers of one event; an event with more is answered with an error");
}

template <class... Lists>
sdk::Schema withKeys(sdk::Schema schema, const Lists&... lists) {
  (schema.keys.insert(schema.keys.end(), lists.begin(), lists.end()), ...);
  return schema;
}

}  // namespace sluice::plugins::net
