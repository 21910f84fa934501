// Fuzz target: SyslogUtils' parser (syslogtcp, syslogudp) on what UtilsFramer and frameDatagram
// cut from the input. The first four bytes pick keepFields, eventSize, the time zone and "now";
// the rest is the stream. Checks: Facility and Severity always; Invalid only with both 0 and the
// raw body; a parsed priority of 1-3 digits; a numeric timestamp; a host of the pattern's
// characters; a body that is either the raw message or well-formed UTF-8; the same event when
// parsed twice (no state leaks from one message into the next).
#include <stdlib.h>
#include <time.h>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "charset.hpp"
#include "syslog/framer.hpp"
#include "syslog/syslog_utils.hpp"

namespace sdk = sluice::sdk;
using namespace sluice::plugins::syslog;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool isInteger(const std::string& s) {
  int64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

void checkEvent(const Message& m, const sdk::Event& e, const KeepFields& keep) {
  const std::string* fac = e.headers.find("Facility");
  const std::string* sev = e.headers.find("Severity");
  check(fac && sev && isInteger(*fac) && isInteger(*sev));
  const std::string* status = e.headers.find("flume.syslog.status");
  if (status) check(*status == "Invalid" || *status == "Incomplete");
  if (m.badPriority) {
    check(status && *status == "Invalid" && *fac == "0" && *sev == "0");
    check(e.body == m.bytes);
    check(e.headers.size() == 3);
    return;
  }
  if (const std::string* p = e.headers.find("priority")) {
    check(!p->empty() && p->size() <= 3 && isInteger(*p));
  }
  if (const std::string* ts = e.headers.find("timestamp")) check(isInteger(*ts));
  if (const std::string* host = e.headers.find("host")) {
    check(!host->empty());
    for (char c : *host)
      check((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            c == '_' || c == '.' || c == '@' || c == '-');
  }
  if (e.body != m.bytes) {
    check(!keep.all);
    check(sluice::plugins::charset::isValidUtf8(e.body));
  }
}

bool sameEvent(const sdk::Event& a, const sdk::Event& b) {
  return a.body == b.body && a.headers == b.headers;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  static const char* kKeep[] = {"none",
                                "all",
                                "hostname",
                                "timestamp",
                                "priority version",
                                "priority version timestamp hostname",
                                "true",
                                "false"};
  const KeepFields keep = parseKeepFields(kKeep[data[0] & 7]);
  FramerOptions o;
  o.eventSize = 1 + (data[1] & 0x7F);
  o.framing = (data[1] & 0x80) ? Framing::NewlineOnly : Framing::Auto;
  // Zones: a fixed offset, or Europe/Berlin through libc (DST gaps and overlaps).
  static const bool zoneSet = [] {
    ::setenv("TZ", "Europe/Berlin", 1);
    ::tzset();
    return true;
  }();
  (void)zoneSet;
  const LocalZone zone = (data[0] & 8) ? LocalZone::system()
                                       : LocalZone::fixed((static_cast<int>(data[2]) - 128) * 900);
  // Now: somewhere between 1970 and 2106, around New Year when the low bits say so.
  const int64_t now = static_cast<int64_t>((uint32_t{data[2]} << 24) | (uint32_t{data[3]} << 16) |
                                           (uint32_t{data[0]} << 8) | data[1]) *
                      1000;
  const std::string_view in(reinterpret_cast<const char*>(data + 4), size - 4);

  SyslogUtilsParser parser(keep, {}, zone);
  SyslogUtilsParser again(keep, {}, zone);
  BufferedFramer<UtilsFramer> framer(o);
  framer.feed(in, [&](const Message& m) {
    sdk::Event e, f;
    parser.parse(m, now, {}, e);
    checkEvent(m, e, keep);
    again.parse(m, now, {}, f);
    check(sameEvent(e, f));
  });
  if (const std::optional<Message> m = frameDatagram(in)) {
    sdk::Event e;
    parser.parse(*m, now, {}, e);
    checkEvent(*m, e, keep);
  }
  return 0;
}
