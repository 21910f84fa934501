#pragma once
// What both of Flume's syslog code paths share: the keepFields setting, the header names, the
// message a framer hands to a parser, and the headers a source adds from the connection.

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::plugins::syslog {

// Small text helpers of the framer and both parsers: ASCII digits only, as Flume's regexes and
// Character.isDigit on the bytes they see; a number written into a caller's buffer.
inline constexpr bool isDigit(char c) noexcept { return c >= '0' && c <= '9'; }
template <class T>
std::string_view toChars(T value, char* buf, std::size_t size) noexcept {
  const auto r = std::to_chars(buf, buf + size, value);
  return {buf, static_cast<std::size_t>(r.ptr - buf)};
}

// Header names and values (SyslogUtils' constants).
inline constexpr std::string_view kFacility = "Facility";
inline constexpr std::string_view kSeverity = "Severity";
inline constexpr std::string_view kPriority = "priority";
inline constexpr std::string_view kVersion = "version";
inline constexpr std::string_view kTimestamp = "timestamp";
inline constexpr std::string_view kHost = "host";
inline constexpr std::string_view kStatus = "flume.syslog.status";
inline constexpr std::string_view kInvalid = "Invalid";
inline constexpr std::string_view kIncomplete = "Incomplete";

// Flume's defaults (SyslogUtils.DEFAULT_SIZE, SyslogUDPSource's 64 KiB datagram limit, the
// multiport source's batchSize and readBufferBytes).
inline constexpr int kDefaultEventSize = 2500;
inline constexpr int kUdpEventSize = 1 << 16;

// Which syslog fields stay in the event body (keepFields). `all` keeps the message as received.
struct KeepFields {
  bool all = false;
  bool priority = false;
  bool version = false;
  bool timestamp = false;
  bool hostname = false;
  bool any() const noexcept { return priority || version || timestamp || hostname; }
};

// SyslogUtils.chooseFieldsToKeep: trimmed and lower-cased, "none"/"false" keep nothing,
// "all"/"true" everything, anything else keeps each field whose name occurs in it as a substring
// ("priority,hostname", "timestamp hostname", "hostnames"...). Never fails, as in Flume.
KeepFields parseKeepFields(std::string_view value);

// One syslog message cut from the input by a framer, valid until the framer's next call (it
// points into the caller's bytes).
struct Message {
  std::string_view bytes;
  bool incomplete = false;  // cut at eventSize: flume.syslog.status = Incomplete
  bool framed = false;      // came from an RFC 6587 octet-counted frame
  // SyslogUtils' byte state machine (UtilsFramer, frameDatagram): the priority was malformed
  // (Invalid), and how many priority digits follow the '<' when it was not.
  bool badPriority = false;
  uint8_t priorityDigits = 0;
};

// Headers a source sets from the connection rather than the message, after parsing (so they win
// over a parsed header of the same name, as in Flume). Empty name: not set.
struct PeerHeaderNames {
  std::string clientIp;        // clientIPHeader
  std::string clientHostname;  // clientHostnameHeader
  std::string port;            // portHeader (multiport)
};
struct PeerInfo {
  std::string_view ip;        // Java's InetAddress.getHostAddress() text (javaHostAddress)
  std::string_view hostname;  // a reverse lookup, done by the source
  std::string_view port;      // the local port the message arrived on
};

// The receive time a source passes to the parsers (wall clock, milliseconds since the epoch).
inline int64_t nowMillis() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace sluice::plugins::syslog
