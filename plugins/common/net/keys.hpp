#pragma once
// Composing a plugin's schema from its own keys and the shared ones of the network layer:
//
//   static const sdk::Schema schema = net::withKeys(
//       {sdk::Key("bind").string().req().doc("..."), ...},
//       net::tlsServerKeys(), net::ipFilterKeys());

#include <utility>
#include <vector>

#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::net {

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

template <class... Lists>
sdk::Schema withKeys(sdk::Schema schema, const Lists&... lists) {
  (schema.keys.insert(schema.keys.end(), lists.begin(), lists.end()), ...);
  return schema;
}

}  // namespace sluice::plugins::net
