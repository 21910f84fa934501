#include "syslog/syslog_parser.hpp"

#include <charconv>
#include <cstring>
#include <iterator>
#include <optional>

#include "syslog/java_text.hpp"

namespace sluice::plugins::syslog {

namespace {

using Slot = HeaderBuilder::Slot;
constexpr auto npos = std::string_view::npos;

inline int64_t wrapAdd(int64_t a, int64_t b) noexcept {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// Joda's unsigned NumberFormatter: up to maxDigits ASCII digits, at least one.
bool jodaNumber(std::string_view s, std::size_t& pos, int maxDigits, int& value) noexcept {
  std::size_t len = 0;
  value = 0;
  while (len < static_cast<std::size_t>(maxDigits) && pos + len < s.size() &&
         isDigit(s[pos + len])) {
    value = value * 10 + (s[pos + len] - '0');
    ++len;
  }
  pos += len;
  return len > 0;
}

// Joda's CharacterLiteral: the character, compared case-insensitively.
bool jodaLiteral(std::string_view s, std::size_t& pos, char c) noexcept {
  if (pos >= s.size()) return false;
  const char a = s[pos];
  if (a != c && !(((a | 0x20) == (c | 0x20)) && (c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
    return false;
  ++pos;
  return true;
}

// Joda-Time's DateTimeFormat.forPattern("yyyy-MM-dd'T'HH:mm:ss").withZoneUTC().parseMillis on
// the first 19 characters of the stamp: a signed year of up to 9 digits, then fields of one or
// two digits, the whole text consumed, each field in its range (ISO chronology, strict).
std::optional<int64_t> jodaPrefix(std::string_view s) noexcept {
  std::size_t pos = 0;
  // Year: a sign is allowed when a digit follows it, and does not count against the 9 digits.
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+') && s.size() > 1 && isDigit(s[1])) {
    negative = s[0] == '-';
    pos = 1;
  }
  int64_t year = 0;
  std::size_t digits = 0;
  while (digits < 9 && pos < s.size() && isDigit(s[pos])) {
    year = year * 10 + (s[pos++] - '0');
    ++digits;
  }
  if (!digits) return std::nullopt;
  if (negative) year = -year;
  int month, day, hour, minute, second;
  if (!jodaLiteral(s, pos, '-') || !jodaNumber(s, pos, 2, month) || !jodaLiteral(s, pos, '-') ||
      !jodaNumber(s, pos, 2, day) || !jodaLiteral(s, pos, 'T') || !jodaNumber(s, pos, 2, hour) ||
      !jodaLiteral(s, pos, ':') || !jodaNumber(s, pos, 2, minute) || !jodaLiteral(s, pos, ':') ||
      !jodaNumber(s, pos, 2, second) || pos != s.size())
    return std::nullopt;
  if (year < -292'275'054 || year > 292'278'993 || month < 1 || month > 12 || day < 1 ||
      day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
    return std::nullopt;
  CivilTime t;
  t.year = year;
  t.month = month;
  t.day = day;
  t.hour = hour;
  t.minute = minute;
  t.second = second;
  return wallMillisOf(t);
}

// SyslogParser.parseRfc5424Date. Where Flume 1.11 throws an exception other than
// IllegalArgumentException (fraction digits running to the end of the stamp:
// StringIndexOutOfBoundsException; a bad date in the cached prefix: Guava's
// UncheckedExecutionException), which escapes its handler and loses the rest of the read, this
// returns nullopt too: the line is delivered as Invalid.
std::optional<int64_t> rfc5424(std::string_view ts) noexcept {
  if (ts.size() <= 19) return std::nullopt;
  std::optional<int64_t> base = jodaPrefix(ts.substr(0, 19));
  if (!base) return std::nullopt;
  int64_t millis = *base;
  std::size_t cur = 19;
  if (ts[cur] == '.') {
    std::size_t end = cur + 1;
    if (end >= ts.size()) return std::nullopt;
    while (end < ts.size() && isDigit(ts[end])) ++end;
    if (end >= ts.size()) return std::nullopt;  // Flume: StringIndexOutOfBoundsException
    const std::size_t n = end - (cur + 1);
    if (n == 0) return std::nullopt;
    // Long.parseLong, then scaled to milliseconds in double arithmetic as Flume does
    // (milliseconds /= Math.pow(10, n - 3)).
    int64_t fraction = 0;
    const auto r = std::from_chars(ts.data() + cur + 1, ts.data() + end, fraction);
    if (r.ec != std::errc() || r.ptr != ts.data() + end) return std::nullopt;
    static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                        1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
    if (n > 3 && n - 3 >= std::size(kPow10)) {
      fraction = 0;  // a long below 2^63 divided by 10^19 or more
    } else if (n > 3) {
      fraction = static_cast<int64_t>(static_cast<double>(fraction) / kPow10[n - 3]);
    } else if (n < 3) {
      fraction = static_cast<int64_t>(static_cast<double>(fraction) * kPow10[3 - n]);
    }
    millis = wrapAdd(millis, fraction);
    cur = end;
  }
  const char tz = ts[cur];
  if (tz == '+' || tz == '-') {
    if (ts.size() <= cur + 5) return std::nullopt;
    const char* h = ts.data() + cur + 1;
    if (!isDigit(h[0]) || !isDigit(h[1]) || h[2] != ':' || !isDigit(h[3]) || !isDigit(h[4]))
      return std::nullopt;
    const int offset = ((h[0] - '0') * 10 + (h[1] - '0')) * 60 + (h[3] - '0') * 10 + (h[4] - '0');
    millis = wrapAdd(millis, static_cast<int64_t>((tz == '+' ? -1 : 1) * offset) * 60'000);
  }
  // 'Z' and anything else: UTC, the rest ignored.
  return millis;
}

// Month names Joda accepts for "MMM" in an English locale: short and full, as written, lower-
// or upper-cased.
int jodaMonth(std::string_view t, std::size_t& len) noexcept {
  static constexpr std::string_view kFull[] = {"January",   "February", "March",    "April",
                                               "May",       "June",     "July",     "August",
                                               "September", "October",  "November", "December"};
  auto matches = [](std::string_view cand, std::string_view name) {
    if (cand.size() != name.size()) return false;
    bool same = true, lower = true, upper = true;
    for (std::size_t i = 0; i < name.size(); ++i) {
      const char n = name[i], c = cand[i];
      same &= c == n;
      lower &= c == static_cast<char>(n | 0x20);
      upper &= c == static_cast<char>(n & ~0x20);
    }
    return same || lower || upper;
  };
  // Joda's TextField takes the longest name that matches.
  int best = 0;
  len = 0;
  for (int m = 0; m < 12; ++m) {
    for (const std::string_view name : {kFull[m], kFull[m].substr(0, 3)}) {
      if (name.size() > len && name.size() <= t.size() && matches(t.substr(0, name.size()), name)) {
        best = m + 1;
        len = name.size();
      }
    }
  }
  return best;
}

// SyslogParser.parseRfc3164Time: the first two spaces become one, Joda parses "MMM d HH:mm:ss"
// in UTC (year 2000 when none is given; any failure gives 0), the year is set to the current one
// (local zone) and moved back when the date is more than a month ahead of now, forward when it is
// more than a month behind. Flume 1.11 moves the unset date (year 2000) instead and so yields
// 1999 or 2001; here the current year moves, as in Flume's later java.time version of this code.
int64_t rfc3164(std::string_view ts, int64_t nowMs, LocalZone& zone) noexcept {
  char buf[16];
  std::size_t n = 0;
  bool merged = false;
  for (std::size_t i = 0; i < ts.size() && n < sizeof buf; ++i) {
    if (!merged && ts[i] == ' ' && i + 1 < ts.size() && ts[i + 1] == ' ') {
      merged = true;
      continue;
    }
    buf[n++] = ts[i];
  }
  const std::string_view t(buf, n);
  std::size_t pos = 0;
  const int month = jodaMonth(t, pos);
  int day, hour, minute, second;
  if (!month || !jodaLiteral(t, pos, ' ') || !jodaNumber(t, pos, 2, day) ||
      !jodaLiteral(t, pos, ' ') || !jodaNumber(t, pos, 2, hour) || !jodaLiteral(t, pos, ':') ||
      !jodaNumber(t, pos, 2, minute) || !jodaLiteral(t, pos, ':') ||
      !jodaNumber(t, pos, 2, second) || pos != t.size())
    return 0;
  if (day < 1 || day > daysInMonth(2000, month) || hour > 23 || minute > 59 || second > 59)
    return 0;
  CivilTime date;
  date.year = 2000;
  date.month = month;
  date.day = day;
  date.hour = hour;
  date.minute = minute;
  date.second = second;
  const int64_t year = civilFromWallMillis(zone.utcToWall(nowMs)).year;
  CivilTime fixed = withYear(date, year);
  const int64_t f = wallMillisOf(fixed);
  if (f > nowMs && wallMillisOf(addMonths(fixed, -1)) > nowMs) {
    fixed = withYear(date, year - 1);
  } else if (f < nowMs && wallMillisOf(addMonths(fixed, 1)) < nowMs) {
    fixed = withYear(date, year + 1);
  }
  return wallMillisOf(fixed);
}

// What SyslogParser.parseMessage extracts; positions count UTF-16 units where Flume's do.
struct Parsed {
  std::string_view priority, tsString, host, data;
  int facility = 0, severity = 0;
  bool version = false;
  bool whole = false;  // the body is the whole message
  int64_t ts = 0;
};

bool parseMessage(std::string_view msg, int64_t nowMs, bool keepAll, LocalZone& zone, Parsed& r) {
  const std::size_t n = msg.size();
  if (n == 0 || msg[0] != '<') return false;
  const std::size_t gt = msg.find('>');
  if (gt == npos || utf16Units(msg.substr(0, gt)) > 6) return false;
  r.priority = msg.substr(1, gt - 1);
  const std::optional<int32_t> pri = javaParseInt(r.priority);
  if (!pri) return false;
  r.facility = *pri / 8;
  r.severity = *pri % 8;
  if (n <= gt + 1) return false;  // no data except priority
  std::size_t cur = gt + 1;
  if (n > cur + 2 && msg[cur] == '1' && msg[cur + 1] == ' ') {
    r.version = true;
    cur += 2;
  }
  const char first = msg[cur];
  const std::string_view rest = msg.substr(cur);
  if (first == '-') {
    r.tsString = rest.substr(0, 1);
    r.ts = nowMs;
    if (advanceUtf16(rest, 3) == npos) return false;  // missing hostname
    cur += advanceUtf16(rest, 2);
  } else if (first >= 'A' && first <= 'Z') {
    const std::size_t end = advanceUtf16(rest, 16);
    if (end == npos) return false;
    r.tsString = rest.substr(0, advanceUtf16(rest, 15));
    r.ts = rfc3164(r.tsString, nowMs, zone);
    cur += end;
  } else {
    const std::size_t space = msg.find(' ', cur);
    if (space == npos) return false;
    r.tsString = msg.substr(cur, space - cur);
    const std::optional<int64_t> ts = rfc5424(r.tsString);
    if (!ts) return false;
    r.ts = *ts;
    cur = space + 1;
  }
  const std::size_t space = msg.find(' ', cur);
  if (space == npos) return false;  // missing hostname
  r.host = msg.substr(cur, space - cur);
  if (n > space + 1 && !keepAll) {
    r.data = msg.substr(space + 1);
  } else {
    r.whole = true;
  }
  return true;
}

}  // namespace

struct MultiportParser::Codec {
  bool utf8 = true;
  std::unique_ptr<charset::Decoder> decoder;
  std::unique_ptr<charset::Encoder> encoder;
};

std::string CharsetConfig::validate() const {
  std::string error;
  if (!charset::Decoder::open(defaultCharset, &error)) return "charset.default: " + error;
  for (const auto& [port, name] : ports) {
    if (!charset::Decoder::open(name, &error) ||
        (!charset::isUtf8Name(name) && !charset::Encoder::open(name, &error)))
      return "charset.port." + std::to_string(port) + ": " + error;
  }
  if (!charset::isUtf8Name(defaultCharset) && !charset::Encoder::open(defaultCharset, &error))
    return "charset.default: " + error;
  return {};
}

const std::string& CharsetConfig::charsetFor(int port) const noexcept {
  for (const auto& [p, name] : ports)
    if (p == port) return name;
  return defaultCharset;
}

MultiportParser::MultiportParser(KeepFields keep, const PeerHeaderNames& peerNames,
                                 CharsetConfig charsets, LocalZone zone)
    : keep_(keep), headers_(peerNames), charsets_(std::move(charsets)), zone_(zone) {}

MultiportParser::~MultiportParser() = default;

MultiportParser::Codec* MultiportParser::codecFor(int port) {
  const std::string& name = charsets_.charsetFor(port);
  for (auto& [n, c] : codecs_)
    if (n == name) return c.get();
  auto codec = std::make_unique<Codec>();
  codec->utf8 = charset::isUtf8Name(name);
  if (!codec->utf8) {
    codec->decoder = charset::Decoder::open(name, nullptr);
    codec->encoder = charset::Encoder::open(name, nullptr);
    if (!codec->decoder || !codec->encoder) return nullptr;  // validate() was not called
  }
  codecs_.emplace_back(name, std::move(codec));
  return codecs_.back().second.get();
}

MultiportParser::Outcome MultiportParser::parse(const Message& m, int64_t nowMs, int localPort,
                                                const PeerInfo& peer, sdk::Event& out) {
  HeaderBuilder::Values v;
  uint32_t mask = 0;
  Outcome outcome = Outcome::Invalid;
  char facility[16], severity[16], timestamp[24];

  // Decode with the port's charset; Flume's decoder reports malformed input, and the line is
  // then kept as raw bytes with status Invalid.
  Codec* codec = codecFor(localPort);
  std::string_view text;
  bool decoded = false;
  if (codec && codec->utf8) {
    decoded = charset::isValidUtf8(m.bytes);
    text = m.bytes;
  } else if (codec) {
    scratch_.clear();
    std::size_t used = 0, bad = 0;
    decoded = codec->decoder->decode(m.bytes, true, charset::DecodeErrorPolicy::Fail, scratch_,
                                     &used, &bad);
    text = scratch_;
  }
  Parsed r;
  if (!decoded) {
    outcome = Outcome::Undecodable;
  } else if (parseMessage(text, nowMs, keep_.all, zone_, r)) {
    outcome = m.incomplete ? Outcome::Incomplete : Outcome::Parsed;
    mask |= bit(Slot::Priority) | bit(Slot::Facility) | bit(Slot::Severity) | bit(Slot::Timestamp) |
            bit(Slot::Host);
    v.set(Slot::Priority, r.priority);
    v.set(Slot::Facility, toChars(r.facility, facility, sizeof facility));
    v.set(Slot::Severity, toChars(r.severity, severity, sizeof severity));
    v.set(Slot::Timestamp, toChars(r.ts, timestamp, sizeof timestamp));
    v.set(Slot::Host, r.host);
    if (r.version) {
      mask |= bit(Slot::Version);
      v.set(Slot::Version, "1");
    }
    if (m.incomplete) {
      mask |= bit(Slot::Status);
      v.set(Slot::Status, kIncomplete);
    }
  }

  if (outcome == Outcome::Invalid || outcome == Outcome::Undecodable) {
    mask |= bit(Slot::Status);
    v.set(Slot::Status, kInvalid);
    out.body.assign(m.bytes);
  } else if (r.whole) {
    out.body.assign(m.bytes);  // the message, back in its charset: the bytes received
  } else {
    // SyslogUtils.addFieldsToBody, then String.getBytes(charset).
    auto put = [&](std::string_view piece) {
      if (codec->utf8) {
        out.body.append(piece);
      } else {
        codec->encoder->encode(piece, out.body);
      }
    };
    std::size_t size = r.data.size();
    if (keep_.priority) size += r.priority.size() + 2;
    if (keep_.version && r.version) size += 2;
    if (keep_.timestamp) size += r.tsString.size() + 1;
    if (keep_.hostname) size += r.host.size() + 1;
    out.body.reserve(size);
    if (keep_.priority) {
      put("<");
      put(r.priority);
      put(">");
    }
    if (keep_.version && r.version) put("1 ");
    if (keep_.timestamp) {
      put(r.tsString);
      put(" ");
    }
    if (keep_.hostname) {
      put(r.host);
      put(" ");
    }
    put(r.data);
  }
  headers_.addPeer(peer, mask, v);
  headers_.build(mask, v, out.headers);
  return outcome;
}

}  // namespace sluice::plugins::syslog
