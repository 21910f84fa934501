#pragma once
// The configuration keys the syslog sources share, and reading them in configure(). Flume's
// spellings and defaults (SyslogSourceConfigurationConstants, SyslogUtils); sluice's additions
// (limits, framing) are named in each source's README. Header-only, for plugins that link
// net_dep and syslog_dep.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "config_keys.hpp"
#include "net/tcp_listener.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "syslog/framer.hpp"
#include "syslog/syslog_common.hpp"
#include "syslog/tcp_protocol.hpp"
#include "text_util.hpp"

namespace sluice::plugins::syslog {

inline constexpr int kMaxEventSize = 64 << 20;

// keepFields, clientIPHeader, clientHostnameHeader and the rejected format.* family: every
// syslog source has them.
inline std::vector<sdk::Key> messageKeys() {
  return {
      sdk::Key("keepFields")
          .string()
          .def("none")
          .doc("Syslog fields kept in the body: none, all, or any of priority version timestamp "
               "hostname"),
      sdk::Key("clientIPHeader").string().doc("Header that gets the sender's IP address"),
      sdk::Key("clientHostnameHeader")
          .string()
          .doc("Header that gets the sender's host name (a reverse lookup; its address if none)"),
      sdk::Key("format.*")
          .string()
          .doc("Flume's undocumented custom regex and date format: not supported, rejected"),
  };
}

// The TCP sources' keys beyond host and port(s).
inline std::vector<sdk::Key> tcpKeys() {
  std::vector<sdk::Key> keys = messageKeys();
  const std::vector<sdk::Key> more = {
      sdk::Key("eventSize")
          .integer()
          .def(std::to_string(kDefaultEventSize))
          .range(1, kMaxEventSize)
          .doc("Longest message in bytes; a longer one is cut there (flume.syslog.status = "
               "Incomplete)"),
      sdk::Key("batchSize")
          .integer()
          .def("100")
          .range(1, 1000000)
          .doc("Messages of one read handed to the channels per transaction"),
      sdk::Key("framing")
          .oneOf({"auto", "newline"})
          .def("auto")
          .doc("auto: newline framing and RFC 6587 octet counting; newline: newline framing only"),
      sdk::Key("max-connections")
          .integer()
          .def("1000")
          .range(1, 1000000)
          .doc("Open connections allowed; further clients are accepted and closed at once"),
      sdk::Key("idleTimeout")
          .integer()
          .def("0")
          .range(0, 31536000)
          .doc("Seconds after which a connection that sent nothing is closed; 0 means never"),
      sdk::Key("messageTimeout")
          .integer()
          .def("60")
          .range(0, 31536000)
          .doc("Seconds a started message may take to arrive whole before its connection is "
               "closed; 0 means never"),
  };
  keys.insert(keys.end(), more.begin(), more.end());
  return keys;
}

// Flume's format.<name> keys configure SyslogUtils' user formats (a regex with search/replace
// and a SimpleDateFormat). sluice reproduces only Flume's built-in formats, so a config that
// relies on them would silently parse differently: refuse it.
inline void rejectFormatKeys(const sdk::Context& ctx) {
  for (const auto& entry : ctx.parameters())
    if (entry.first.rfind("format.", 0) == 0)
      ctx.fail(entry.first,
               "Flume's custom syslog formats (format.regex, format.search, format.replace, "
               "format.dateFormat) are not supported; sluice parses RFC 5424 and RFC 3164 as "
               "Flume's built-in formats do");
}

// keepFields and the two client headers.
inline void readMessageKeys(const sdk::Context& ctx, KeepFields& keep, PeerHeaderNames& names) {
  rejectFormatKeys(ctx);
  keep = parseKeepFields(requireValue(ctx, "keepFields"));
  names.clientIp = text::trimmed(ctx.getString("clientIPHeader").value_or(""));
  names.clientHostname = text::trimmed(ctx.getString("clientHostnameHeader").value_or(""));
}

struct TcpSettings {
  KeepFields keep;
  TcpProtocolOptions protocol;
  net::ListenerOptions listener;  // without bind, port, TLS and the IP filter
};

// Reads tcpKeys() from a Context the host has checked against the schema and filled with its
// defaults (config_keys.hpp), so neither defaults nor ranges are restated here.
inline TcpSettings readTcpKeys(const sdk::Context& ctx) {
  TcpSettings s;
  readMessageKeys(ctx, s.keep, s.protocol.names);
  s.protocol.framing.eventSize = requireInteger(ctx, "eventSize");
  s.protocol.framing.framing =
      text::lower(requireValue(ctx, "framing")) == "newline" ? Framing::NewlineOnly : Framing::Auto;
  s.protocol.batchSize = static_cast<std::size_t>(requireInteger(ctx, "batchSize"));
  s.listener.maxConnections = static_cast<std::size_t>(requireInteger(ctx, "max-connections"));
  s.listener.idleTimeout = std::chrono::seconds(requireInteger(ctx, "idleTimeout"));
  s.listener.requestTimeout = std::chrono::seconds(requireInteger(ctx, "messageTimeout"));
  return s;
}

// host (Flume's SyslogSourceConfigurationConstants.CONFIG_HOST; empty binds every interface as
// in Flume, whose Netty bind takes a null host as the wildcard) and the port.
inline std::string readHost(const sdk::Context& ctx, std::string_view key) {
  std::string host = text::trimmed(requireValue(ctx, key));
  return host.empty() ? std::string("0.0.0.0") : host;
}

}  // namespace sluice::plugins::syslog
