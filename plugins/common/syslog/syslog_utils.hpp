#pragma once
// Flume's org.apache.flume.source.SyslogUtils (buildEvent/formatHeaders), the parser of the
// syslogtcp and syslogudp sources: Flume's two regular expressions (RFC 5424 first, then RFC
// 3164) matched by hand with the same backtracking outcome, and the timestamp read as
// SimpleDateFormat and GregorianCalendar read it in the JVM's default time zone. README.md lists
// every rule and the few places where sluice deliberately differs.

#include <cstdint>
#include <string_view>

#include "sluice/sdk/event.hpp"
#include "syslog/headers.hpp"
#include "syslog/java_time.hpp"
#include "syslog/syslog_common.hpp"

namespace sluice::plugins::syslog {

// What parse() found, for the caller's counters.
enum class ParseOutcome {
  Parsed,      // a format matched: headers from the message
  Unmatched,   // a valid priority but neither format matched: Facility/Severity only, raw body
  Invalid,     // flume.syslog.status = Invalid
  Incomplete,  // flume.syslog.status = Incomplete
};

// The instant of the last RFC 5424 stamp's whole second (syslog_utils.cpp, stamp5424).
struct StampCache {
  char second[19];  // "yyyy-MM-ddTHH:mm:ss"
  int64_t utcMs = 0;
  bool valid = false;
};

class SyslogUtilsParser {
 public:
  // zone: the time zone RFC 3164 dates and RFC 5424 dates without (usable) offset are read in,
  // Flume's JVM default (LocalZone::system()).
  SyslogUtilsParser(KeepFields keep, const PeerHeaderNames& peerNames,
                    LocalZone zone = LocalZone::system());

  // Builds the event of one message from a UtilsFramer or frameDatagram into `out` (a fresh
  // event: its headers and body are assigned). nowMs: the receive time, which decides the year
  // of an RFC 3164 date. Allocates only the event's header vector and body (and header values
  // longer than the small-string buffer).
  ParseOutcome parse(const Message& message, int64_t nowMs, const PeerInfo& peer, sdk::Event& out);

 private:
  KeepFields keep_;
  HeaderBuilder headers_;
  LocalZone zone_;
  StampCache stamps_;
};

}  // namespace sluice::plugins::syslog
