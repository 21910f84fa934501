// The avro source's keys: Flume's AvroSource keys and sluice's limits, then the network layer's
// shared TLS and IP filter keys. Split from avro_source.cpp, which serves the connections.

#include "avro_source.hpp"

#include <cstdint>

#include "net/ip_filter.hpp"
#include "net/keys.hpp"
#include "net/tls.hpp"

namespace sluice::plugins::avro_source {

namespace {
constexpr int64_t kMaxFrameSizeLimit = int64_t{1} << 30;
}  // namespace

const sdk::Schema& avroSourceSchema() {
  static const sdk::Schema schema = net::withKeys(
      {
          net::bindKey(),
          net::portKey(),
          net::threadsKey(),
          sdk::Key("compression-type")
              .oneOf({"none", "deflate"})
              .def("none")
              .doc("deflate expects the zlib stream of a sink with compression-type = deflate"),
          net::maxConnectionsKey(),
          sdk::Key("max-frame-size")
              .integer()
              .def("67108864")
              .range(1024, static_cast<double>(kMaxFrameSizeLimit))
              .doc("Largest request in bytes (after inflating); a larger one closes its "
                   "connection"),
          net::maxBatchSizeKey(),
          net::maxHeadersKey(),
          net::idleTimeoutKey(),
      },
      net::tlsServerKeys(), net::ipFilterKeys());
  return schema;
}

}  // namespace sluice::plugins::avro_source
