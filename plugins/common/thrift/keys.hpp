#pragma once
// The keys the thrift source and sink share (protocol, kerberos and its principals) and how their
// configure() reads them. Header-only; libthrift stays out.

#include <cstdint>
#include <string>

#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "text_util.hpp"
#include "thrift/flume_rpc.hpp"

namespace sluice::plugins::thrift {

inline sdk::Key protocolKey(std::string doc) {
  return sdk::Key("protocol").oneOf({"compact", "binary"}).def("compact").doc(std::move(doc));
}

inline sdk::Key kerberosKey() {
  return sdk::Key("kerberos")
      .boolean()
      .def("false")
      .doc("Kerberos authentication: not supported, true is refused (use ssl)");
}

// Flume's principal and keytab keys: accepted (with the host's warning) and ignored.
inline sdk::Key kerberosOnlyKey(std::string name) {
  return sdk::Key(std::move(name))
      .flumeIgnored(
          "accepted and ignored: only used with kerberos = true, which sluice does not "
          "support");
}

// Kerberos (SASL/GSSAPI) is out of scope: kerberos = true is a config error saying so and what to
// use instead.
inline void refuseKerberos(const sdk::Context& context, const std::string& instead) {
  if (context.getBoolean("kerberos", false))
    context.fail("kerberos",
                 "Kerberos (SASL/GSSAPI) authentication is not supported by sluice's thrift "
                 "source or sink; use ssl = true instead (" +
                     instead + ")");
}

inline Protocol configureProtocol(const sdk::Context& context) {
  const std::string p = text::lower(text::trimmed(context.getString("protocol", "compact")));
  if (p == "binary") return Protocol::Binary;
  if (p != "compact")
    context.fail("protocol",
                 "expected compact or binary, got '" + context.getString("protocol", "") + "'");
  return Protocol::Compact;
}

// An integer key within [lo, hi]; out of range is an error naming the key and the range.
inline int64_t longIn(const sdk::Context& context, const char* key, int64_t def, int64_t lo,
                      int64_t hi) {
  const int64_t v = context.getLong(key, def);
  if (v < lo || v > hi)
    context.fail(key, "expected a value between " + std::to_string(lo) + " and " +
                          std::to_string(hi) + ", got " + std::to_string(v));
  return v;
}

}  // namespace sluice::plugins::thrift
