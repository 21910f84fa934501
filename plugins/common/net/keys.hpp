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

template <class... Lists>
sdk::Schema withKeys(sdk::Schema schema, const Lists&... lists) {
  (schema.keys.insert(schema.keys.end(), lists.begin(), lists.end()), ...);
  return schema;
}

}  // namespace sluice::plugins::net
