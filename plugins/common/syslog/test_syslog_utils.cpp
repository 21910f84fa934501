// SyslogUtils' path (syslogtcp, syslogudp): Flume's TestSyslogUtils and TestSyslogUdpSource cases
// with their inputs and expected headers, plus the rules they do not cover (RFC 3164 year
// resolution around New Year, lenient dates, offsets SimpleDateFormat rejects, line terminators,
// malformed UTF-8, connection headers).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "syslog/framer.hpp"
#include "syslog/syslog_utils.hpp"
#include "test_util.hpp"

namespace sdk = sluice::sdk;
using namespace sluice::plugins::syslog;
using namespace sluice::plugins::syslog::testing;

namespace {

// A fixed "now" for the tests that do not depend on it: 2026-06-15 12:00 in Berlin.
int64_t defaultNow() { return localMillis(2026, 6, 15, 12, 0, 0); }

struct UtilsRun {
  std::string keep = "none";
  int eventSize = kDefaultEventSize;
  int64_t now = 0;
  std::size_t chunk = 0;
  PeerHeaderNames names;
  PeerInfo peer;
};

std::vector<sdk::Event> viaTcp(std::string_view input, const UtilsRun& r = {}) {
  useTestZone();
  FramerOptions o;
  o.eventSize = r.eventSize;
  SyslogUtilsParser parser(parseKeepFields(r.keep), r.names, LocalZone::system());
  std::vector<sdk::Event> events;
  for (const Cut& c : cutAll<UtilsFramer>(input, o, r.chunk)) {
    events.emplace_back();
    parser.parse(asMessage(c), r.now ? r.now : defaultNow(), r.peer, events.back());
  }
  return events;
}

sdk::Event one(std::string_view input, const UtilsRun& r = {}) {
  auto events = viaTcp(input, r);
  REQUIRE(events.size() == 1);
  return std::move(events[0]);
}

// TestSyslogUtils.checkHeader: timestamp (absent when expected is 0 and absent is true), host
// (absent when empty), body.
void checkHeader(const sdk::Event& e, const char* stamp, int64_t expected, const char* host,
                 std::string_view body) {
  if (stamp == nullptr) {
    CHECK_FALSE(e.headers.contains("timestamp"));
  } else {
    CHECK(header(e, "timestamp") == std::to_string(expected));
  }
  if (host == nullptr) {
    CHECK_FALSE(e.headers.contains("host"));
  } else {
    CHECK(header(e, "host") == host);
  }
  CHECK(e.body == body);
}

const char* kCloudera = "ubuntu-11.cloudera.com";

}  // namespace

TEST_CASE("TestSyslogUtils: RFC 5424 headers (TestHeader0-8, 11)") {
  // 0: no version, +08:00 offset.
  checkHeader(one("<10>2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg\n"), "",
              utcMillis(2012, 4, 13, 3, 11, 11), kCloudera, "some msg");
  // 1: no offset: the local zone.
  checkHeader(one("<10>1 2012-04-13T11:11:11 ubuntu-11.cloudera.com some msg\n"), "",
              localMillis(2012, 4, 13, 11, 11, 11), kCloudera, "some msg");
  // 2: 'Z' is UTC.
  checkHeader(one("<10>1 2012-04-13T11:11:11Z ubuntu-11.cloudera.com some msg\n"), "",
              utcMillis(2012, 4, 13, 11, 11, 11), kCloudera, "some msg");
  // 3: version and +08:00.
  checkHeader(one("<10>1 2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg\n"), "",
              utcMillis(2012, 4, 13, 3, 11, 11), kCloudera, "some msg");
  // 4: null stamp.
  checkHeader(one("<10>1 - ubuntu-11.cloudera.com some msg\n"), nullptr, 0, kCloudera, "some msg");
  // 5-7: null host.
  checkHeader(one("<10>1 2012-04-13T11:11:11 - some msg\n"), "",
              localMillis(2012, 4, 13, 11, 11, 11), nullptr, "some msg");
  checkHeader(one("<10>1 2012-04-13T11:11:11Z - some msg\n"), "",
              utcMillis(2012, 4, 13, 11, 11, 11), nullptr, "some msg");
  checkHeader(one("<10>1 2012-04-13T11:11:11+08:00 - some msg\n"), "",
              utcMillis(2012, 4, 13, 3, 11, 11), nullptr, "some msg");
  // 8: milliseconds, local zone.
  checkHeader(one("<10>1 2012-04-13T11:11:11.999 ubuntu-11.cloudera.com some msg\n"), "",
              localMillis(2012, 4, 13, 11, 11, 11, 999), kCloudera, "some msg");
  // 11: microseconds are cut to milliseconds, and with a fraction SimpleDateFormat's first
  // pattern ("...ss.S") wins and ignores the offset: the local zone.
  checkHeader(one("<10>2014-10-03T17:20:01.123456-07:00 ubuntu-11.cloudera.com some msg\n"), "",
              localMillis(2014, 10, 3, 17, 20, 1, 123), kCloudera, "some msg");
}

TEST_CASE("TestSyslogUtils: the other headers of a parsed RFC 5424 message") {
  const sdk::Event e = one("<10>1 2012-04-13T11:11:11Z host1 some msg\n");
  CHECK(header(e, "Facility") == "1");
  CHECK(header(e, "Severity") == "2");
  CHECK(header(e, "priority") == "10");
  CHECK(header(e, "version") == "1");
  CHECK_FALSE(e.headers.contains("flume.syslog.status"));
  CHECK(e.headers.size() == 6);
  // Without a version digit there is no version header.
  CHECK_FALSE(one("<10>2012-04-13T11:11:11Z host1 some msg\n").headers.contains("version"));
}

TEST_CASE("TestSyslogUtils: RFC 3164 headers (TestHeader9, 10, ApacheLogWithNulls)") {
  UtilsRun r;
  r.now = localMillis(2026, 6, 15, 12, 0, 0);
  // Flume's test formats "MMM  d hh:MM:ss": two spaces before the day, one or two digits.
  checkHeader(one("<10>Jun  5 03:04:22 ubuntu-11.cloudera.com some msg\n", r), "",
              localMillis(2026, 6, 5, 3, 4, 22), kCloudera, "some msg");
  checkHeader(one("<10>Jun  15 03:04:22 ubuntu-11.cloudera.com some msg\n", r), "",
              localMillis(2026, 6, 15, 3, 4, 22), kCloudera, "some msg");
  checkHeader(one("<10>Jun 15 03:04:22 ubuntu-11.cloudera.com some msg\n", r), "",
              localMillis(2026, 6, 15, 3, 4, 22), kCloudera, "some msg");
  const char* data = "- hyphen_null_breaks_5424_pattern [07/Jun/2012:14:46:44 -0600]";
  checkHeader(one(std::string("<10>Jun  5 03:04:22 ubuntu-11.cloudera.com ") + data + "\n", r), "",
              localMillis(2026, 6, 5, 3, 4, 22), kCloudera, data);
  const sdk::Event e = one("<34>Oct 11 22:14:15 mymachine su: 'su root' failed\n", r);
  CHECK(header(e, "Facility") == "4");
  CHECK(header(e, "Severity") == "2");
  CHECK(header(e, "priority") == "34");
  CHECK_FALSE(e.headers.contains("version"));
  CHECK(header(e, "host") == "mymachine");
  CHECK(e.body == "su: 'su root' failed");
}

TEST_CASE(
    "TestSyslogUtils: RFC 3164 dates from ten months back to a month ahead (TestRfc3164Dates)") {
  // Flume runs this with a mocked clock for 14 successive months; each date, given without its
  // year, must come back with the year it had.
  for (int monthOffset = 0; monthOffset <= 13; ++monthOffset) {
    struct tm now {};
    now.tm_year = 2025 - 1900;
    now.tm_mon = 5 + monthOffset;
    now.tm_mday = 15;
    now.tm_hour = 12;
    now.tm_isdst = -1;
    useTestZone();
    const time_t nowT = ::mktime(&now);
    for (int i = -10; i <= 1; ++i) {
      struct tm d = now;
      d.tm_mon += i;
      if (i == 1) d.tm_mday -= 1;
      d.tm_isdst = -1;
      const time_t dt = ::mktime(&d);
      char stamp[32];
      ::strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &d);  // "Jun  5 12:00:00"
      UtilsRun r;
      r.now = static_cast<int64_t>(nowT) * 1000;
      const sdk::Event e =
          one(std::string("<10>") + stamp + " ubuntu-11.cloudera.com some msg\n", r);
      INFO("now+", monthOffset, " months, date ", i, " months: ", stamp);
      CHECK(header(e, "timestamp") == std::to_string(static_cast<int64_t>(dt) * 1000));
    }
  }
}

TEST_CASE(
    "RFC 3164 year around New Year (the current year is taken in UTC, the date read locally)") {
  UtilsRun r;
  // Just after midnight on 1 January in Berlin, which is still 31 December in UTC.
  r.now = localMillis(2026, 1, 1, 0, 30, 0);
  CHECK(header(one("<13>Dec 31 23:59:00 h m\n", r), "timestamp") ==
        std::to_string(localMillis(2025, 12, 31, 23, 59, 0)));
  CHECK(header(one("<13>Jan  1 00:10:00 h m\n", r), "timestamp") ==
        std::to_string(localMillis(2026, 1, 1, 0, 10, 0)));
  // Just before midnight on 31 December: a date in January is the coming one.
  r.now = localMillis(2025, 12, 31, 23, 30, 0);
  CHECK(header(one("<13>Jan  1 00:10:00 h m\n", r), "timestamp") ==
        std::to_string(localMillis(2026, 1, 1, 0, 10, 0)));
  // More than a month ahead: last year; more than eleven months behind: next year.
  r.now = localMillis(2026, 3, 10, 12, 0, 0);
  CHECK(header(one("<13>May 10 12:00:00 h m\n", r), "timestamp") ==
        std::to_string(localMillis(2025, 5, 10, 12, 0, 0)));
  CHECK(header(one("<13>Apr  5 12:00:00 h m\n", r), "timestamp") ==
        std::to_string(localMillis(2026, 4, 5, 12, 0, 0)));
  // 29 February in a year without one rolls into 1 March (lenient parsing).
  CHECK(header(one("<13>Feb 29 10:00:00 h m\n", r), "timestamp") ==
        std::to_string(localMillis(2026, 3, 1, 10, 0, 0)));
}

TEST_CASE("RFC 3164 stamps SimpleDateFormat does not read keep host and body") {
  // The pattern's literal ' ' matches only a space: a tab after the month fails the date, but
  // the regular expression (\s) still matched, so host and body are there without a timestamp.
  const sdk::Event e = one("<13>Jun\t5 03:04:22 host1 msg\n");
  CHECK_FALSE(e.headers.contains("timestamp"));
  CHECK(header(e, "host") == "host1");
  CHECK(e.body == "msg");
  // An unknown month likewise.
  const sdk::Event f = one("<13>Foo  5 03:04:22 host1 msg\n");
  CHECK_FALSE(f.headers.contains("timestamp"));
  CHECK(header(f, "host") == "host1");
  // A space then a tab before the day: the number's leading blanks are skipped.
  UtilsRun r;
  r.now = localMillis(2026, 6, 15, 12, 0, 0);
  CHECK(header(one("<13>Jun \t5 03:04:22 host1 msg\n", r), "timestamp") ==
        std::to_string(localMillis(2026, 6, 5, 3, 4, 22)));
}

TEST_CASE("RFC 5424 stamps read leniently and offsets SimpleDateFormat rejects") {
  // Month 13 is January of the next year, day 00 the last of the month before.
  CHECK(header(one("<13>1 2012-13-01T00:00:00Z h m\n"), "timestamp") ==
        std::to_string(utcMillis(2013, 1, 1, 0, 0, 0)));
  CHECK(header(one("<13>1 2012-03-00T00:00:00Z h m\n"), "timestamp") ==
        std::to_string(utcMillis(2012, 2, 29, 0, 0, 0)));
  CHECK(header(one("<13>1 2012-04-13T25:61:61Z h m\n"), "timestamp") ==
        std::to_string(utcMillis(2012, 4, 14, 2, 2, 1)));
  // An offset of 24 hours fails "...ssZ"; "...ss" then reads the date in the local zone.
  CHECK(header(one("<13>1 2012-04-13T11:11:11+24:00 h m\n"), "timestamp") ==
        std::to_string(localMillis(2012, 4, 13, 11, 11, 11)));
  CHECK(header(one("<13>1 2012-04-13T11:11:11-05:30 h m\n"), "timestamp") ==
        std::to_string(utcMillis(2012, 4, 13, 16, 41, 11)));
  // One or two fraction digits are milliseconds as written ('S'): .5 is 5 ms.
  CHECK(header(one("<13>1 2012-04-13T11:11:11.5Z h m\n"), "timestamp") ==
        std::to_string(localMillis(2012, 4, 13, 11, 11, 11, 5)));
  // Seven fraction digits match neither pattern: the RFC 3164 one fails too, the body is raw.
  const sdk::Event e = one("<13>1 2012-04-13T11:11:11.1234567Z h m\n");
  CHECK_FALSE(e.headers.contains("timestamp"));
  CHECK(header(e, "Facility") == "1");
  CHECK(e.body == "<13>1 2012-04-13T11:11:11.1234567Z h m");
  // Before the Gregorian cutover, GregorianCalendar counts in the Julian calendar.
  CHECK(header(one("<13>1 1000-01-01T00:00:00Z h m\n"), "timestamp") == "-30609792000000");
}

TEST_CASE("stamps of one parser: a second's instant is reused only within that second") {
  // One parser reads all four: the second line repeats the first one's second, the third moves
  // on a second, the fourth changes only the date, the fifth has no fraction.
  const auto events = viaTcp(
      "<13>1 2012-04-13T11:11:11.500Z h m\n<13>1 2012-04-13T11:11:11.999Z h m\n"
      "<13>1 2012-04-13T11:11:12.001Z h m\n<13>1 2012-04-14T11:11:12.001Z h m\n"
      "<13>1 2012-04-14T11:11:12Z h m\n");
  REQUIRE(events.size() == 5);
  CHECK(header(events[0], "timestamp") ==
        std::to_string(localMillis(2012, 4, 13, 11, 11, 11, 500)));
  CHECK(header(events[1], "timestamp") ==
        std::to_string(localMillis(2012, 4, 13, 11, 11, 11, 999)));
  CHECK(header(events[2], "timestamp") == std::to_string(localMillis(2012, 4, 13, 11, 11, 12, 1)));
  CHECK(header(events[3], "timestamp") == std::to_string(localMillis(2012, 4, 14, 11, 11, 12, 1)));
  CHECK(header(events[4], "timestamp") == std::to_string(utcMillis(2012, 4, 14, 11, 11, 12)));
}

TEST_CASE("wall times in a DST gap or overlap are read as standard time") {
  // Berlin: 31 March 2024 02:00 -> 03:00, 27 October 2024 03:00 -> 02:00.
  CHECK(header(one("<13>1 2024-03-31T02:30:00 h m\n"), "timestamp") ==
        std::to_string(utcMillis(2024, 3, 31, 1, 30, 0)));
  CHECK(header(one("<13>1 2024-10-27T02:30:00 h m\n"), "timestamp") ==
        std::to_string(utcMillis(2024, 10, 27, 1, 30, 0)));
  CHECK(header(one("<13>1 2024-10-27T01:59:59 h m\n"), "timestamp") ==
        std::to_string(utcMillis(2024, 10, 26, 23, 59, 59)));
}

TEST_CASE("TestSyslogUtils: bad events (testExtractBadEvent1-4)") {
  for (const char* bad : {"<10F> bad bad data\n", "hi guys! <10> bad bad data\n",
                          "<> bad bad data\n", "<123123123123123123123123123123> bad bad data\n"}) {
    const sdk::Event e = one(bad);
    INFO(bad);
    CHECK(header(e, "Facility") == "0");
    CHECK(header(e, "Severity") == "0");
    CHECK(header(e, "flume.syslog.status") == "Invalid");
    CHECK(e.body == std::string_view(bad).substr(0, std::string_view(bad).size() - 1));
    CHECK(e.headers.size() == 3);
  }
}

TEST_CASE("TestSyslogUtils: good and bad events in one buffer") {
  const std::string good = "<10>Good good good data\n", good2 = "<20>Good really good data\n";
  const std::string bad = "hi guys! <10F> bad bad data\n", bad2 = "hi guys! <20> bad bad data\n";
  auto isGood = [](const sdk::Event& e, const char* fac, const char* sev, const std::string& s) {
    CHECK(header(e, "Facility") == fac);
    CHECK(header(e, "Severity") == sev);
    CHECK_FALSE(e.headers.contains("flume.syslog.status"));
    CHECK(e.body + "\n" == s);  // no format matches: the raw message
  };
  auto isBad = [](const sdk::Event& e, const std::string& s) {
    CHECK(header(e, "flume.syslog.status") == "Invalid");
    CHECK(header(e, "Facility") == "0");
    CHECK(e.body + "\n" == s);
  };
  auto ev = viaTcp(good);
  REQUIRE(ev.size() == 1);
  isGood(ev[0], "1", "2", good);
  ev = viaTcp(bad + good);
  REQUIRE(ev.size() == 2);
  isBad(ev[0], bad);
  isGood(ev[1], "1", "2", good);
  ev = viaTcp(good + bad);
  REQUIRE(ev.size() == 2);
  isGood(ev[0], "1", "2", good);
  isBad(ev[1], bad);
  ev = viaTcp(bad + bad2);
  REQUIRE(ev.size() == 2);
  isBad(ev[0], bad);
  isBad(ev[1], bad2);
  ev = viaTcp(good + good2);
  REQUIRE(ev.size() == 2);
  isGood(ev[0], "1", "2", good);
  isGood(ev[1], "2", "4", good2);
}

TEST_CASE("TestSyslogUtils: a line over eventSize (testExtractBadEventLarge)") {
  // Flume's constructor raises the test's eventSize of 5 to its minimum of 10.
  UtilsRun r;
  r.eventSize = 10;
  const auto ev = viaTcp("<10> bad bad data bad bad\n", r);
  REQUIRE(ev.size() == 3);
  CHECK(header(ev[0], "Facility") == "1");
  CHECK(header(ev[0], "Severity") == "2");
  CHECK(header(ev[0], "flume.syslog.status") == "Incomplete");
  CHECK(ev[0].body == "<10> bad b");
  // The rest goes on as messages of its own, which do not start with a priority.
  CHECK(header(ev[1], "Facility") == "0");
  CHECK(header(ev[1], "flume.syslog.status") == "Invalid");
  CHECK(ev[1].body == "ad data ba");
  CHECK(header(ev[2], "flume.syslog.status") == "Invalid");
  CHECK(ev[2].body == "d bad");
}

TEST_CASE("TestSyslogUtils: keepFields (testKeepFields)") {
  const std::string msg = "<10>1 2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg\n";
  const int64_t ts = utcMillis(2012, 4, 13, 3, 11, 11);
  auto body = [&](const char* keep) {
    UtilsRun r;
    r.keep = keep;
    const sdk::Event e = one(msg, r);
    CHECK(header(e, "timestamp") == std::to_string(ts));
    CHECK(header(e, "host") == kCloudera);
    return e.body;
  };
  CHECK(body("none") == "some msg");
  CHECK(body("false") == "some msg");
  CHECK(body("hostname") == "ubuntu-11.cloudera.com some msg");
  CHECK(body("timestamp hostname") == "2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg");
  CHECK(body("priority timestamp hostname") ==
        "<10>2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg");
  CHECK(body("priority version timestamp hostname") ==
        "<10>1 2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg");
  CHECK(body("all") == "<10>1 2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg");
  CHECK(body("true") == "<10>1 2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg");
  CHECK(body("  Priority,HostName ") == "<10>ubuntu-11.cloudera.com some msg");
  // A "-" stamp or host kept in the body is Java's null.
  UtilsRun r;
  r.keep = "timestamp hostname";
  CHECK(one("<10>1 - - some msg\n", r).body == "null null some msg");
}

TEST_CASE("parseKeepFields as SyslogUtils.chooseFieldsToKeep") {
  CHECK(parseKeepFields("all").all);
  CHECK(parseKeepFields(" TRUE ").all);
  CHECK_FALSE(parseKeepFields("none").any());
  CHECK_FALSE(parseKeepFields("false").all);
  const KeepFields k = parseKeepFields("priority,version");
  CHECK(k.priority);
  CHECK(k.version);
  CHECK_FALSE(k.timestamp);
  CHECK_FALSE(k.hostname);
  CHECK_FALSE(parseKeepFields("all fields").any());
}

TEST_CASE("an empty body keeps the raw message, line terminators and malformed UTF-8") {
  // Nothing after the host: msgBody is empty, so the body is the message as received.
  CHECK(one("<13>1 - host1 \n").body == "<13>1 - host1 ");
  // A '\r' (CRLF senders) makes the body pattern fail: no format matches.
  const sdk::Event crlf = one("<13>1 2012-04-13T11:11:11Z host1 msg\r\n");
  CHECK_FALSE(crlf.headers.contains("host"));
  CHECK(header(crlf, "Facility") == "1");
  CHECK(crlf.body == "<13>1 2012-04-13T11:11:11Z host1 msg\r");
  // U+2028 is a line terminator for '.', U+00E9 is not.
  CHECK_FALSE(one("<13>1 - host1 a\xE2\x80\xA8 b\n").headers.contains("host"));
  CHECK(one("<13>1 - host1 caf\xC3\xA9\n").body == "caf\xC3\xA9");
  // Malformed UTF-8 in the body comes back through a Java String: U+FFFD where the JDK's
  // decoder cuts (one for E2 82, one for the lone FF).
  CHECK(one("<13>1 - host1 a\xE2\x82z\xFF\n").body == "a\xEF\xBF\xBDz\xEF\xBF\xBD");
  // keepFields=all keeps the bytes as received.
  UtilsRun r;
  r.keep = "all";
  CHECK(one("<13>1 - host1 a\xE2\x82z\xFF\n", r).body == "<13>1 - host1 a\xE2\x82z\xFF");
}

TEST_CASE("connection headers are set after parsing and win over parsed ones") {
  UtilsRun r;
  r.names.clientIp = "clientIP";
  r.names.clientHostname = "host";  // the same name as the parsed host
  r.peer.ip = "192.0.2.7";
  r.peer.hostname = "sender.example";
  const sdk::Event e = one("<13>1 - host1 msg\n", r);
  CHECK(header(e, "clientIP") == "192.0.2.7");
  CHECK(header(e, "host") == "sender.example");
  CHECK(e.headers.size() == 6);  // Facility Severity priority version host clientIP
}

TEST_CASE("TestSyslogUdpSource: datagrams and keepFields") {
  useTestZone();
  const std::string stamp = "2026-06-15T12:34:56.789+02:00";
  const std::string data = "test syslog data", host = "localhost.localdomain";
  const std::string datagram = "<10>" + stamp + " " + host + " " + data;
  auto parse = [&](const char* keep, std::string_view d) {
    SyslogUtilsParser p(parseKeepFields(keep), {}, LocalZone::system());
    const std::optional<Message> m = frameDatagram(d);
    REQUIRE(m);
    sdk::Event e;
    p.parse(*m, defaultNow(), {}, e);
    return e;
  };
  CHECK(parse("all", datagram).body == datagram);
  CHECK(parse("true", datagram).body == datagram);
  CHECK(parse("none", datagram).body == data);
  CHECK(parse("false", datagram).body == data);
  CHECK(parse("hostname", datagram).body == host + " " + data);
  CHECK(parse("timestamp", datagram).body == stamp + " " + data);
  CHECK(header(parse("none", datagram), "timestamp") ==
        std::to_string(localMillis(2026, 6, 15, 12, 34, 56, 789)));
  // testLargePayload: 1000 bytes of 'x' come back whole (as an Invalid event).
  const std::string large(1000, 'x');
  const sdk::Event e = parse("true", large);
  CHECK(e.body == large);
  CHECK(header(e, "flume.syslog.status") == "Invalid");
  // A datagram ends at its first '\n'; leading ones are skipped; one of only newlines, or a
  // '<' without digits, is dropped as Flume drops it.
  CHECK(parse("none", "\n\n<13>1 - h a\nb").body == "a");
  CHECK_FALSE(frameDatagram("\n\n"));
  CHECK_FALSE(frameDatagram("<"));
  const std::optional<Message> open = frameDatagram("<13");
  REQUIRE(open);
  CHECK_FALSE(open->badPriority);
  CHECK(header(parse("none", "<13"), "Facility") == "1");
}
