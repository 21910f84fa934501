#pragma once
// The keys the thrift source and sink share (protocol, kerberos and its principals) and how their
// configure() reads them. Header-only; libthrift stays out.

#include <string>

#include "config_keys.hpp"
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
  if (requireBoolean(context, "kerberos"))
    context.fail("kerberos",
                 "Kerberos (SASL/GSSAPI) authentication is not supported by sluice's thrift "
                 "source or sink; use ssl = true instead (" +
                     instead + ")");
}

// The host has checked the value against the schema's oneOf (compact or binary, any case).
inline Protocol configureProtocol(const sdk::Context& context) {
  return text::lower(text::trimmed(requireValue(context, "protocol"))) == "binary"
             ? Protocol::Binary
             : Protocol::Compact;
}

}  // namespace sluice::plugins::thrift
