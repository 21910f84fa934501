#pragma once
// Flume's org.apache.flume.source.SyslogParser with MultiportSyslogTCPSource's parseEvent, the
// parser of the multiport_syslogtcp source: the line is decoded with the port's charset
// (charset.default, charset.port.<port>), parsed by position rather than by regular expression,
// RFC 5424 dates read by Joda-Time in UTC, RFC 3164 dates in UTC with the current year. The body
// goes back into the port's charset, as Flume's EventBuilder.withBody(String, Charset) does.
// README.md lists the rules and where this path differs from SyslogUtils.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "charset.hpp"
#include "sluice/sdk/event.hpp"
#include "syslog/headers.hpp"
#include "syslog/java_time.hpp"
#include "syslog/syslog_common.hpp"

namespace sluice::plugins::syslog {

// charset.default and charset.port.<port>. Flume resolves them with Charset.forName when it is
// configured; here iconv must know them and they must be ASCII-compatible (lines are split on
// the byte '\n' before decoding, in Flume as here).
struct CharsetConfig {
  std::string defaultCharset = "UTF-8";
  std::vector<std::pair<int, std::string>> ports;  // charset.port.<port> = <charset>

  // Empty when every charset opens; else the problem, naming the key ("charset.port.5141: ...").
  std::string validate() const;
  const std::string& charsetFor(int port) const noexcept;
};

class MultiportParser {
 public:
  MultiportParser(KeepFields keep, const PeerHeaderNames& peerNames, CharsetConfig charsets,
                  LocalZone zone = LocalZone::system());
  ~MultiportParser();
  MultiportParser(const MultiportParser&) = delete;
  MultiportParser& operator=(const MultiportParser&) = delete;

  // Builds the event of one line (or octet-counted frame) from a LineFramer that arrived on
  // localPort into `out` (a fresh event). nowMs: the receive time ("-" stamps, the RFC 3164
  // year). A line the charset cannot decode, or that does not parse, becomes an event with the
  // raw bytes and flume.syslog.status = Invalid, as in Flume; the outcome tells which.
  enum class Outcome { Parsed, Incomplete, Invalid, Undecodable };
  Outcome parse(const Message& message, int64_t nowMs, int localPort, const PeerInfo& peer,
                sdk::Event& out);

 private:
  struct Codec;
  Codec* codecFor(int port);

  KeepFields keep_;
  HeaderBuilder headers_;
  CharsetConfig charsets_;
  LocalZone zone_;
  std::vector<std::pair<std::string, std::unique_ptr<Codec>>> codecs_;  // by charset name
  std::string scratch_;  // decoded text of non-UTF-8 lines, reused
};

}  // namespace sluice::plugins::syslog
