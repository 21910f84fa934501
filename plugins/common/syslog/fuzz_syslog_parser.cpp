// Fuzz target: SyslogParser's path (multiport_syslogtcp) on the lines LineFramer cuts from the
// input, with the port's charset. The first four bytes pick the charset, keepFields, eventSize
// and "now"; the rest is the stream. Checks: an Invalid event carries the raw line and only its
// status; a parsed one has the priority, Facility, Severity, timestamp and host headers, all
// well-formed UTF-8, a numeric timestamp, and (UTF-8, keepFields none) a body that is the end of
// the line or the whole line; parsing twice gives the same event.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "charset.hpp"
#include "syslog/framer.hpp"
#include "syslog/syslog_parser.hpp"

namespace sdk = sluice::sdk;
using namespace sluice::plugins::syslog;
using sluice::plugins::charset::isValidUtf8;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool isInteger(const std::string& s) {
  int64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  static const char* kCharsets[] = {"UTF-8", "ISO-8859-1", "SHIFT_JIS", "windows-1252"};
  static const char* kKeep[] = {"none", "all", "hostname", "priority version timestamp hostname"};
  CharsetConfig charsets;
  charsets.defaultCharset = kCharsets[data[0] & 3];
  const bool utf8 = (data[0] & 3) == 0;
  const bool keepNone = ((data[0] >> 2) & 3) == 0;
  const KeepFields keep = parseKeepFields(kKeep[(data[0] >> 2) & 3]);
  FramerOptions o;
  o.eventSize = 1 + (data[1] & 0x7F);
  o.framing = (data[1] & 0x80) ? Framing::NewlineOnly : Framing::Auto;
  const int64_t now =
      static_cast<int64_t>((uint32_t{data[2]} << 24) | (uint32_t{data[3]} << 16)) * 1000;
  const std::string_view in(reinterpret_cast<const char*>(data + 4), size - 4);

  MultiportParser parser(keep, {}, charsets, LocalZone::fixed(3600));
  MultiportParser again(keep, {}, charsets, LocalZone::fixed(3600));
  BufferedFramer<LineFramer> framer(o);
  framer.feed(in, [&](const Message& m) {
    sdk::Event e, f;
    const MultiportParser::Outcome outcome = parser.parse(m, now, 514, {}, e);
    again.parse(m, now, 514, {}, f);
    check(e.body == f.body && e.headers == f.headers);
    if (outcome == MultiportParser::Outcome::Invalid ||
        outcome == MultiportParser::Outcome::Undecodable) {
      check(e.headers.size() == 1 && e.headers.get("flume.syslog.status") == "Invalid");
      check(e.body == m.bytes);
      return;
    }
    for (const char* h : {"priority", "Facility", "Severity", "timestamp", "host"})
      check(e.headers.contains(h));
    for (const auto& [name, value] : e.headers) check(isValidUtf8(value));
    check(isInteger(e.headers.get("timestamp")));
    check(isInteger(e.headers.get("Facility")) && isInteger(e.headers.get("Severity")));
    check((outcome == MultiportParser::Outcome::Incomplete) ==
          e.headers.contains("flume.syslog.status"));
    if (utf8 && keepNone) {
      check(e.body == m.bytes || (e.body.size() < m.bytes.size() &&
                                  m.bytes.substr(m.bytes.size() - e.body.size()) == e.body));
    }
  });
  return 0;
}
