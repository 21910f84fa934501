// SyslogParser's path (multiport_syslogtcp): Flume's TestSyslogParser and
// TestMultiportSyslogTCPSource cases with their inputs and expected headers, plus the rules they
// do not cover (UTC dates, the one-month year window, Joda's strictness, Integer.parseInt on the
// priority, UTF-16 positions, charsets).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "syslog/framer.hpp"
#include "syslog/syslog_parser.hpp"
#include "test_util.hpp"

namespace sdk = sluice::sdk;
using namespace sluice::plugins::syslog;
using namespace sluice::plugins::syslog::testing;

namespace {

struct MultiportRun {
  std::string keep = "none";
  int64_t now = utcMillis(2026, 6, 15, 12, 0, 0);
  int port = 5140;
  CharsetConfig charsets;
  PeerHeaderNames names;
  PeerInfo peer;
  int eventSize = kDefaultEventSize;
};

sdk::Event parseLine(std::string_view line, const MultiportRun& r = {}) {
  useTestZone();
  MultiportParser p(parseKeepFields(r.keep), r.names, r.charsets, LocalZone::system());
  Message m;
  m.bytes = line;
  sdk::Event e;
  p.parse(m, r.now, r.port, r.peer, e);
  return e;
}

std::vector<sdk::Event> viaLines(std::string_view input, const MultiportRun& r = {}) {
  useTestZone();
  FramerOptions o;
  o.eventSize = r.eventSize;
  MultiportParser p(parseKeepFields(r.keep), r.names, r.charsets, LocalZone::system());
  std::vector<sdk::Event> events;
  for (const Cut& c : cutAll<LineFramer>(input, o)) {
    events.emplace_back();
    p.parse(asMessage(c), r.now, r.port, r.peer, events.back());
  }
  return events;
}

bool parsed(const sdk::Event& e) { return !e.headers.contains("flume.syslog.status"); }

}  // namespace

TEST_CASE(
    "TestSyslogParser: RFC 5424 dates as Joda's ISO parser reads them (testRfc5424DateParsing)") {
  const std::pair<const char*, int64_t> cases[] = {
      {"1985-04-12T23:20:50.52Z", utcMillis(1985, 4, 12, 23, 20, 50, 520)},
      {"1985-04-12T19:20:50.52-04:00", utcMillis(1985, 4, 12, 23, 20, 50, 520)},
      {"2003-10-11T22:14:15.003Z", utcMillis(2003, 10, 11, 22, 14, 15, 3)},
      {"2003-08-24T05:14:15.000003-07:00", utcMillis(2003, 8, 24, 12, 14, 15, 0)},
      {"2012-04-13T11:11:11-08:00", utcMillis(2012, 4, 13, 19, 11, 11)},
      {"2012-04-13T08:08:08.0001+00:00", utcMillis(2012, 4, 13, 8, 8, 8, 0)},
      {"2012-04-13T08:08:08.251+00:00", utcMillis(2012, 4, 13, 8, 8, 8, 251)},
      // Without an offset: UTC (unlike SyslogUtils, which reads it in the local zone).
      {"2012-04-13T08:08:08Z", utcMillis(2012, 4, 13, 8, 8, 8)},
      {"2012-04-13t08:08:08Z", utcMillis(2012, 4, 13, 8, 8, 8)},  // Joda's literals ignore case
  };
  for (const auto& c : cases) {
    const char* ts = c.first;
    const int64_t expected = c.second;
    const sdk::Event e = parseLine(std::string("<13>1 ") + ts + " host msg");
    INFO(ts);
    CHECK(parsed(e));
    CHECK(header(e, "timestamp") == std::to_string(expected));
  }
}

TEST_CASE("TestSyslogParser: the RFC examples parse, and keepFields (testMessageParsing)") {
  const std::vector<std::string> messages = {
      "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
      "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
      std::string("<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the "
                  "do-nuts.  %%  Ingredients: Mix=OK, Jelly=OK # Devices: Mixer=OK, "
                  "Jelly_Injector=OK, Frier=OK # Transport: Conveyer1=OK, Conveyer2=OK # %%"),
      std::string("<0>Oct 22 10:52:12 scapegoat 1990 Oct 22 10:52:01 TZ-6 "
                  "scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!"),
      std::string("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOM'su root' "
                  "failed for lonvick on /dev/pts/8"),
      std::string("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's "
                  "time to make the do-nuts."),
      "<13>2003-08-24T05:14:15Z localhost snarf?",
      "<13>2012-08-16T14:34:03-08:00 127.0.0.1 test shnap!",
  };
  for (const std::string& msg : messages) {
    INFO(msg);
    CHECK(parsed(parseLine(msg)));
    MultiportRun all;
    all.keep = "all";
    const sdk::Event e = parseLine(msg, all);
    CHECK(parsed(e));
    CHECK(e.body == msg);
    MultiportRun host;
    host.keep = "hostname";
    const sdk::Event h = parseLine(msg, host);
    CHECK(parsed(h));
    CHECK(h.body.find(header(h, "host")) != std::string::npos);
  }
  const sdk::Event e = parseLine(messages[5]);
  CHECK(header(e, "priority") == "165");
  CHECK(header(e, "Facility") == "20");
  CHECK(header(e, "Severity") == "5");
  CHECK(header(e, "version") == "1");
  CHECK(header(e, "host") == "192.0.2.1");
  CHECK(e.body == "myproc 8710 - - %% It's time to make the do-nuts.");
  const sdk::Event bsd = parseLine(messages[1]);
  CHECK(header(bsd, "host") == "10.0.0.99");
  CHECK(bsd.body == "Use the BFG!");
  CHECK_FALSE(bsd.headers.contains("version"));
}

TEST_CASE("TestMultiportSyslogTCPSource: a line reassembled from fragments (testFragmented)") {
  const std::string msg = "<1>- - blah blam foo\n";
  FramerOptions o;
  o.eventSize = 100;
  BufferedFramer<LineFramer> f(o);
  std::vector<std::string> lines;
  auto take = [&](const Message& m) { lines.emplace_back(m.bytes); };
  f.feed(msg.substr(0, 11), take);
  CHECK(lines.empty());
  f.feed(msg.substr(11, 5), take);
  CHECK(lines.empty());
  f.feed(msg.substr(16), take);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "<1>- - blah blam foo");
  const sdk::Event e = parseLine(lines[0]);
  CHECK(e.body == "blah blam foo");
  CHECK(header(e, "host") == "-");
  CHECK(header(e, "timestamp") == std::to_string(MultiportRun().now));  // "-": the receive time
}

TEST_CASE("TestMultiportSyslogTCPSource: charsets (testCharsetParsing)") {
  const std::string head = "<10>2012-08-11T01:01:01Z localhost ";
  const std::vector<std::string> bodies = {"Yarf yarf yarf",
                                           "\xC2\xBF"
                                           "C\xC3\xB3mo est\xC3\xA1s?",
                                           "Comment \xC3\xAAtes-vous?"};
  for (const char* cs : {"UTF-8", "ISO-8859-1"}) {
    MultiportRun r;
    r.charsets.defaultCharset = cs;
    REQUIRE(r.charsets.validate().empty());
    for (const std::string& body : bodies) {
      // The message in the charset, and the body expected back in it.
      std::string line = head + body, expected = body;
      if (std::string(cs) == "ISO-8859-1") {
        auto latin1 = [](const std::string& utf8) {
          std::string out;
          for (std::size_t i = 0; i < utf8.size(); ++i) {
            const auto c = static_cast<unsigned char>(utf8[i]);
            if (c < 0x80) {
              out += static_cast<char>(c);
            } else {
              out += static_cast<char>(((c & 0x1F) << 6) | (utf8[++i] & 0x3F));
            }
          }
          return out;
        };
        line = latin1(line);
        expected = latin1(body);
      }
      const sdk::Event e = parseLine(line, r);
      INFO(cs, " ", body);
      CHECK(parsed(e));
      CHECK(e.body == expected);
      CHECK(header(e, "host") == "localhost");
      CHECK(header(e, "timestamp") == std::to_string(utcMillis(2012, 8, 11, 1, 1, 1)));
    }
  }
  // Bytes that are not UTF-8: an Invalid event with the raw bytes.
  std::string bad = head + "Yarf yarf yarf";
  bad[bad.size() - 2] = '\xFE';
  bad[bad.size() - 1] = '\xFF';
  const sdk::Event e = parseLine(bad);
  CHECK(header(e, "flume.syslog.status") == "Invalid");
  CHECK(e.body == bad);
  CHECK(e.headers.size() == 1);
}

TEST_CASE("TestMultiportSyslogTCPSource: a charset per port (testPortCharsetHandling)") {
  MultiportRun r;
  r.charsets.ports = {{10001, "ISO-8859-1"}, {10002, "UTF-8"}};
  r.names.port = "port";
  REQUIRE(r.charsets.validate().empty());
  const std::string head = "<10>2012-08-17T02:14:00-07:00 192.168.1.110 ";
  const std::string dangerousUtf8 = "\xC3\xBE\xC3\xBF\xC3\x80\xC3\x81";  // þÿÀÁ
  const std::string dangerousLatin1 = "\xFE\xFF\xC0\xC1";
  // ISO-8859-1 on the ISO-8859-1 port: parsed, the body stays ISO-8859-1.
  r.port = 10001;
  r.peer.port = "10001";
  auto ev = viaLines(head + dangerousLatin1 + "\n", r);
  REQUIRE(ev.size() == 1);
  CHECK(parsed(ev[0]));
  CHECK(ev[0].body == dangerousLatin1);
  CHECK(header(ev[0], "port") == "10001");
  CHECK(header(ev[0], "timestamp") == std::to_string(utcMillis(2012, 8, 17, 9, 14, 0)));
  // ISO-8859-1 on the UTF-8 port: Invalid.
  r.port = 10002;
  r.peer.port = "10002";
  ev = viaLines(head + dangerousLatin1 + "\n", r);
  REQUIRE(ev.size() == 1);
  CHECK(header(ev[0], "flume.syslog.status") == "Invalid");
  CHECK(ev[0].body == head + dangerousLatin1);
  CHECK(header(ev[0], "port") == "10002");
  // UTF-8 on the UTF-8 port.
  ev = viaLines(head + dangerousUtf8 + "\n", r);
  REQUIRE(ev.size() == 1);
  CHECK(parsed(ev[0]));
  CHECK(ev[0].body == dangerousUtf8);
  // A header in ISO-8859-1 comes out as UTF-8 (a Java String).
  r.port = 10001;
  ev = viaLines("<10>- h\xE9te msg\n", r);
  REQUIRE(ev.size() == 1);
  CHECK(header(ev[0], "host") == "h\xC3\xA9te");
}

TEST_CASE("charset configuration errors name the key") {
  CharsetConfig c;
  c.defaultCharset = "NO-SUCH-CHARSET";
  CHECK(c.validate().rfind("charset.default: unknown charset 'NO-SUCH-CHARSET'", 0) == 0);
  c.defaultCharset = "UTF-8";
  c.ports = {{5141, "UTF-16"}};
  CHECK(c.validate().rfind("charset.port.5141: charset 'UTF-16' is not ASCII-compatible", 0) == 0);
  c.ports = {{5141, "latin1"}, {5142, "windows-1252"}};
  CHECK(c.validate().empty());
  CHECK(c.charsetFor(5142) == "windows-1252");
  CHECK(c.charsetFor(9) == "UTF-8");
}

TEST_CASE("TestMultiportSyslogTCPSource: the message of testMultiplePorts") {
  // "<10>" + Joda's DateTime.toString() (local time with its offset) + host + data.
  const sdk::Event e =
      parseLine("<10>2026-06-15T14:34:56.789+02:00 localhost.localdomain proc1 - some msg 7");
  CHECK(header(e, "timestamp") == std::to_string(utcMillis(2026, 6, 15, 12, 34, 56, 789)));
  CHECK(header(e, "host") == "localhost.localdomain");
  CHECK(e.body == "proc1 - some msg 7");
}

TEST_CASE("RFC 3164 dates in UTC with a one-month window either side") {
  MultiportRun r;
  r.now = utcMillis(2026, 3, 10, 12, 0, 0);
  auto ts = [&](const char* stamp) {
    return header(parseLine(std::string("<13>") + stamp + " host msg", r), "timestamp");
  };
  CHECK(ts("Mar 10 11:00:00") == std::to_string(utcMillis(2026, 3, 10, 11, 0, 0)));
  CHECK(ts("Mar  1 11:00:00") == std::to_string(utcMillis(2026, 3, 1, 11, 0, 0)));
  CHECK(ts("OCT 11 22:14:15") != "0");  // Joda also takes an upper-case month
  // More than a month ahead: the year before (Flume 1.11 gives 1999 here, see README.md).
  CHECK(ts("May 10 12:00:00") == std::to_string(utcMillis(2025, 5, 10, 12, 0, 0)));
  // More than a month behind: the year after (Flume 1.11: 2001).
  CHECK(ts("Jan 10 12:00:00") == std::to_string(utcMillis(2027, 1, 10, 12, 0, 0)));
  // 29 February parses (Joda's default year 2000) and is pinned to the 28th in 2026.
  CHECK(ts("Feb 29 10:00:00") == std::to_string(utcMillis(2026, 2, 28, 10, 0, 0)));
  // What Joda rejects gives 0 and the message still parses.
  CHECK(ts("Feb 30 10:00:00") == "0");
  CHECK(ts("Foo 10 10:00:00") == "0");
  CHECK(ts("Mar 10 24:00:00") == "0");
}

TEST_CASE("SyslogParser: what makes a line Invalid") {
  for (const char* line : {
           "no priority",                              // no '<'
           "<13",                                      // no '>'
           "<1234567>1 - host msg",                    // '>' beyond the sixth character
           "<1x>1 - host msg",                         // Integer.parseInt fails
           "<>1 - host msg",                           // empty priority
           "<13>",                                     // no data except priority
           "<13>1 -",                                  // missing hostname
           "<13>Oct 11 22:14:1",                       // RFC 3164 stamp cut short
           "<13>1 2012-04-13T08:08:08Z",               // no space after the stamp
           "<13>1 2012-04-13T08:08:08Z host",          // missing hostname (no space after it)
           "<13>1 2012-04-13 host msg",                // stamp too short
           "<13>1 2012-04-31T08:08:08Z host msg",      // Joda: no 31 April
           "<13>1 2012-04-13T08:08:08.Z host msg",     // no fraction digits
           "<13>1 2012-04-13T08:08:08+0100 host msg",  // offset without ':'
           "<13>1 2012-04-13T08:08:08.123 host msg",   // fraction to the end: Flume throws
           "<13>1 oct 11 22:14:15 host msg",           // lower case: read as RFC 5424
       }) {
    const sdk::Event e = parseLine(line);
    INFO(line);
    CHECK(header(e, "flume.syslog.status") == "Invalid");
    CHECK(e.body == line);
    CHECK(e.headers.size() == 1);
  }
}

TEST_CASE("SyslogParser: the priority through Integer.parseInt, hosts and bodies") {
  CHECK(header(parseLine("<+13>1 - host msg"), "priority") == "+13");
  CHECK(header(parseLine("<+13>1 - host msg"), "Facility") == "1");
  const sdk::Event neg = parseLine("<-1>1 - host msg");
  CHECK(header(neg, "Facility") == "0");
  CHECK(header(neg, "Severity") == "-1");
  // Arabic-Indic digits are digits to Java.
  CHECK(header(parseLine("<\xD9\xA1\xD9\xA3>1 - host msg"), "Facility") == "1");
  CHECK(header(parseLine("<99999>1 - host msg"), "Facility") == "12499");
  // An empty host is still a header.
  const sdk::Event empty = parseLine("<13>1 -  msg");
  CHECK(header(empty, "host") == "");
  CHECK(empty.body == "msg");
  // Nothing after the host: the body is the whole line.
  CHECK(parseLine("<13>1 - host ").body == "<13>1 - host ");
  // Only "1 " is a version: "2 " is read as an (invalid) RFC 5424 stamp.
  CHECK(header(parseLine("<13>2 - host msg"), "flume.syslog.status") == "Invalid");
  // The RFC 3164 stamp is 15 UTF-16 units: a two-byte character inside it moves nothing.
  const sdk::Event bsd = parseLine("<13>Oct 11 22:1\xC3\xA9:15 host msg");
  CHECK(header(bsd, "timestamp") == "0");
  CHECK(header(bsd, "host") == "host");
  CHECK(bsd.body == "msg");
}

TEST_CASE("SyslogParser: keepFields") {
  MultiportRun r;
  r.keep = "priority version timestamp hostname";
  CHECK(parseLine("<13>1 2012-04-13T08:08:08Z host msg", r).body ==
        "<13>1 2012-04-13T08:08:08Z host msg");
  CHECK(parseLine("<13>1 - host msg", r).body == "<13>1 - host msg");
  CHECK(parseLine("<13>Oct  1 22:14:15 host msg", r).body == "<13>Oct  1 22:14:15 host msg");
  r.keep = "timestamp";
  CHECK(parseLine("<13>1 - host msg", r).body == "- msg");
  r.keep = "hostname";
  CHECK(parseLine("<13>2012-04-13T08:08:08Z host msg", r).body == "host msg");
}

TEST_CASE("LineFramer and MultiportParser: over-long lines") {
  MultiportRun r;
  r.eventSize = 12;
  // A line fits when its '\n' is among its first eventSize bytes: 11 bytes do, 12 do not (the
  // '\n' left behind is an empty line, skipped).
  auto ev = viaLines("<13>1 - h x\n<13>1 - h xyz\n<13>1 - h xy\n", r);
  REQUIRE(ev.size() == 4);
  CHECK(parsed(ev[0]));
  CHECK(ev[0].body == "x");
  CHECK(header(ev[1], "flume.syslog.status") == "Incomplete");
  CHECK(header(ev[1], "host") == "h");
  CHECK(ev[1].body == "xy");
  CHECK(header(ev[2], "flume.syslog.status") == "Invalid");  // the rest, "z"
  CHECK(ev[2].body == "z");
  CHECK(header(ev[3], "flume.syslog.status") == "Incomplete");
  CHECK(ev[3].body == "xy");
}
