// The avro source's keys: Flume's AvroSource keys, TLS, the IP filter and sluice's limits.
// Split from avro_source.cpp, which serves the connections.

#include "avro_source.hpp"

#include <cstdint>

namespace sluice::plugins::avro_source {

namespace {
constexpr int64_t kMaxFrameSizeLimit = int64_t{1} << 30;
}  // namespace

const sdk::Schema& avroSourceSchema() {
  static const sdk::Schema schema{
      sdk::Key("bind").string().req().doc("Host name or IP address to listen on"),
      sdk::Key("port").integer().req().range(0, 65535).doc(
          "TCP port to listen on; 0 picks a free port and logs it"),
      sdk::Key("threads").integer().def("0").range(0, 64).doc(
          "I/O threads serving the connections; 0 means one per core, at most 4"),
      sdk::Key("compression-type")
          .oneOf({"none", "deflate"})
          .def("none")
          .doc("deflate expects the zlib stream of a sink with compression-type = deflate"),
      sdk::Key("ssl").boolean().def("false").doc(
          "Serve TLS with the key store's certificate; the sinks must use ssl = true too"),
      sdk::Key("keystore")
          .string()
          .doc("Key store with the certificate and key: PKCS12 or PEM (JKS must be converted)"),
      sdk::Key("keystore-password")
          .string()
          .isSecret()
          .doc("Password of the key store (used only with ssl = true)"),
      sdk::Key("keystore-type")
          .string()
          .def("JKS")
          .doc("PKCS12, PEM, or JKS (read only when the file is really PKCS12)"),
      sdk::Key("exclude-protocols")
          .string()
          .def("SSLv3")
          .doc("TLS protocols not to use, space-separated (used only with ssl = true)"),
      sdk::Key("include-protocols")
          .string()
          .doc("TLS protocols to use, space-separated (used only with ssl = true)"),
      sdk::Key("exclude-cipher-suites")
          .string()
          .doc("TLS cipher suites not to use, space-separated (used only with ssl = true)"),
      sdk::Key("include-cipher-suites")
          .string()
          .doc("TLS cipher suites to use, space-separated (used only with ssl = true)"),
      sdk::Key("ipFilter")
          .boolean()
          .def("false")
          .doc("Check every new connection against ipFilterRules"),
      sdk::Key("ipFilterRules")
          .string()
          .doc("Comma-separated rules (allow or deny):(ip or name):glob; the first match decides, "
               "no match allows"),
      sdk::Key("max-connections")
          .integer()
          .def("1000")
          .range(1, 1000000)
          .doc("Open connections allowed; further clients are accepted and closed at once"),
      sdk::Key("max-frame-size")
          .integer()
          .def("67108864")
          .range(1024, static_cast<double>(kMaxFrameSizeLimit))
          .doc("Largest request in bytes (after inflating); a larger one closes its connection"),
      sdk::Key("max-batch-size")
          .integer()
          .def("100000")
          .range(1, 10000000)
          .doc("Most events in one appendBatch; a larger batch is answered with an error"),
      sdk::Key("max-headers")
          .integer()
          .def("256")
          .range(0, 65536)
          .doc("Most headers of one event; an event with more is answered with an error"),
      sdk::Key("idleTimeout")
          .integer()
          .def("0")
          .range(0, 31536000)
          .doc("Seconds after which a connection that sent nothing is closed; 0 means never"),
  };
  return schema;
}

}  // namespace sluice::plugins::avro_source
