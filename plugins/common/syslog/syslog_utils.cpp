#include "syslog/syslog_utils.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "charset.hpp"
#include "syslog/java_text.hpp"

namespace sluice::plugins::syslog {

namespace {

using Slot = HeaderBuilder::Slot;

// Java regex \s (without UNICODE_CHARACTER_CLASS).
inline bool isSpace(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\x0B' || c == '\f' || c == '\r';
}
// Java regex \w.
inline bool isWord(char c) noexcept {
  return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
// [\w\d\.@\-]
inline bool isHostChar(char c) noexcept { return isWord(c) || c == '.' || c == '@' || c == '-'; }

inline int num(std::string_view s, std::size_t pos, std::size_t len) noexcept {
  int v = 0;
  for (std::size_t i = pos; i < pos + len; ++i) v = v * 10 + (s[i] - '0');
  return v;
}
inline bool digitsAt(std::string_view s, std::size_t pos, std::size_t len) noexcept {
  if (pos + len > s.size()) return false;
  for (std::size_t i = pos; i < pos + len; ++i)
    if (!isDigit(s[i])) return false;
  return true;
}

// One pass over the message: where the body group may start (Java's '.' matches no line
// terminator: \n, \r, U+0085, U+2028, U+2029) and whether the bytes are well-formed UTF-8.
struct TextScan {
  std::size_t bodyMin = 0;
  bool validUtf8 = true;
};

inline bool hasByte(uint64_t w, unsigned char c) noexcept {
  const uint64_t x = w ^ (0x0101010101010101ULL * c);
  return ((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL) != 0;
}

TextScan scanText(std::string_view s) noexcept {
  TextScan r;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
#if defined(__SSE2__)
    // 16 bytes per step: a byte with its top bit set (not ASCII), '\n' or '\r' stops it.
    const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    while (i + 16 <= n) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      const __m128i stop =
          _mm_or_si128(v, _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr)));
      if (_mm_movemask_epi8(stop) != 0) break;
      i += 16;
    }
#endif
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ULL) || hasByte(w, '\n') || hasByte(w, '\r')) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char c = p[i];
    if (c < 0x80) {
      if (c == '\n' || c == '\r') r.bodyMin = i + 1;
      ++i;
      continue;
    }
    bool incomplete = false;
    const std::size_t len = charset::utf8SeqLen(p + i, n - i, &incomplete);
    if (!len) {
      r.validUtf8 = false;
      ++i;
      continue;
    }
    if ((len == 2 && c == 0xC2 && p[i + 1] == 0x85) ||
        (len == 3 && c == 0xE2 && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)))
      r.bodyMin = i + len;
    i += len;
  }
  return r;
}

// The capture groups of SYSLOG_MSG_RFC5424_0 / SYSLOG_MSG_RFC3164_0. A group that did not take
// part is Java's null (has* false).
// Trivially constructible (no zeroing per message): Matcher::match sets what it reports.
struct Text {
  const char* p;
  std::size_t n;
  Text& operator=(std::string_view v) noexcept {
    p = v.data();
    n = v.size();
    return *this;
  }
  operator std::string_view() const noexcept { return {p, n}; }  // NOLINT: a view by design
  std::size_t size() const noexcept { return n; }
  bool empty() const noexcept { return n == 0; }
};
struct Groups {
  Text priority, version, stamp, host, body;
  bool hasVersion, hasStamp, hasHost;
  bool rfc5424;
};

// Matcher::matches(), Flume's patterns against the whole message. Each optional or alternative
// part is tried in the order Java's backtracking engine tries it; the first full match wins.
class Matcher {
 public:
  Matcher(std::string_view s, std::size_t bodyMin) : s_(s), n_(s.size()), bodyMin_(bodyMin) {}

  bool match(Groups& g) {
    // (?:\<(\d{1,3})\>)
    if (n_ < 3 || s_[0] != '<') return false;
    std::size_t k = 1;
    while (k < n_ && k <= 3 && isDigit(s_[k])) ++k;
    if (k == 1 || k >= n_ || s_[k] != '>') return false;
    g.priority = s_.substr(1, k - 1);
    g.hasVersion = g.hasStamp = g.hasHost = false;
    const std::size_t afterPri = k + 1;
    g.rfc5424 = true;
    if (versions(afterPri, g, &Matcher::rest5424)) return true;
    g.rfc5424 = false;
    return versions(afterPri, g, &Matcher::rest3164);
  }

 private:
  using Rest = bool (Matcher::*)(std::size_t, Groups&);
  char at(std::size_t i) const noexcept { return i < n_ ? s_[i] : '\0'; }

  // (?:(\d?)\s?) in RFC 5424, (?:(\d)?\s?) in RFC 3164: greedy, so with the digit first.
  bool versions(std::size_t p, Groups& g, Rest rest) {
    for (int takeDigit = 1; takeDigit >= 0; --takeDigit) {
      if (takeDigit && !isDigit(at(p))) continue;
      const std::size_t q = p + takeDigit;
      g.version = s_.substr(p, takeDigit);
      g.hasVersion = takeDigit || g.rfc5424;
      for (int takeSpace = 1; takeSpace >= 0; --takeSpace) {
        if (takeSpace && !isSpace(at(q))) continue;
        if ((this->*rest)(q + takeSpace, g)) return true;
      }
    }
    return false;
  }

  // \s(.*)$ after the stamp's or host's end e.
  bool bodyAt(std::size_t e, Groups& g) {
    if (!isSpace(at(e)) || e + 1 < bodyMin_) return false;
    g.body = s_.substr(e + 1);
    return true;
  }

  // ([\w][\w\d\.@-]*) then \s(.*)$; the greedy run can only end before a \s, so no shorter run
  // can match where the longest does not.
  bool hostThenBody(std::size_t q, Groups& g) {
    if (!isWord(at(q))) return false;
    std::size_t e = q + 1;
    while (e < n_ && isHostChar(s_[e])) ++e;
    if (!bodyAt(e, g)) return false;
    g.host = s_.substr(q, e - q);
    g.hasHost = true;
    return true;
  }

  // \s(?:([\w][\w\d\.@\-]*)|-)\s(.*)$ after a stamp ending at e.
  bool afterStamp5424(std::size_t e, Groups& g) {
    if (!isSpace(at(e))) return false;
    if (hostThenBody(e + 1, g)) return true;
    if (at(e + 1) == '-' && bodyAt(e + 2, g)) {
      g.hasHost = false;
      return true;
    }
    return false;
  }

  // (?:(STAMP)|-) where STAMP is
  // \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[+-]\d{2}:\d{2}|Z)?
  bool rest5424(std::size_t p, Groups& g) {
    if (base(p)) {
      const std::size_t q = p + 19;
      if (at(q) == '.' && isDigit(at(q + 1))) {
        std::size_t digits = 0;
        while (isDigit(at(q + 1 + digits))) ++digits;
        for (std::size_t j = std::min<std::size_t>(digits, 6); j >= 1; --j)
          if (zone(p, q + 1 + j, g)) return true;
      }
      if (zone(p, q, g)) return true;
    }
    if (at(p) == '-' && afterStamp5424(p + 1, g)) {
      g.hasStamp = false;
      return true;
    }
    return false;
  }

  bool base(std::size_t p) const noexcept {
    if (p + 19 > n_) return false;
    static constexpr char kShape[] = "dddd-dd-ddTdd:dd:dd";
    for (std::size_t i = 0; i < 19; ++i) {
      const char c = s_[p + i];
      if (kShape[i] == 'd' ? !isDigit(c) : c != kShape[i]) return false;
    }
    return true;
  }

  // (?:[+-]\d{2}:\d{2}|Z)? at f, the stamp starting at p.
  bool zone(std::size_t p, std::size_t f, Groups& g) {
    auto ending = [&](std::size_t e) {
      if (!afterStamp5424(e, g)) return false;
      g.stamp = s_.substr(p, e - p);
      g.hasStamp = true;
      return true;
    };
    const char c = at(f);
    if ((c == '+' || c == '-') && digitsAt(s_, f + 1, 2) && at(f + 3) == ':' &&
        digitsAt(s_, f + 4, 2) && ending(f + 6))
      return true;
    if (c == 'Z' && ending(f + 1)) return true;
    return ending(f);
  }

  // ([A-Z][a-z][a-z]\s{1,2}\d{1,2}\s\d{2}[:]\d{2}[:]\d{2})\s([\w][\w\d\.@-]*)\s(.*)$
  bool rest3164(std::size_t p, Groups& g) {
    const char m0 = at(p), m1 = at(p + 1), m2 = at(p + 2);
    if (!(m0 >= 'A' && m0 <= 'Z') || !(m1 >= 'a' && m1 <= 'z') || !(m2 >= 'a' && m2 <= 'z'))
      return false;
    const std::size_t w = isSpace(at(p + 3)) ? (isSpace(at(p + 4)) ? 2 : 1) : 0;
    for (std::size_t ws = w; ws >= 1; --ws) {
      const std::size_t q = p + 3 + ws;
      const std::size_t d = isDigit(at(q)) ? (isDigit(at(q + 1)) ? 2 : 1) : 0;
      for (std::size_t dd = d; dd >= 1; --dd) {
        const std::size_t r = q + dd;
        if (!isSpace(at(r)) || !digitsAt(s_, r + 1, 2) || at(r + 3) != ':' ||
            !digitsAt(s_, r + 4, 2) || at(r + 6) != ':' || !digitsAt(s_, r + 7, 2))
          continue;
        const std::size_t e = r + 9;
        if (isSpace(at(e)) && hostThenBody(e + 1, g)) {
          g.stamp = s_.substr(p, e - p);
          g.hasStamp = true;
          return true;
        }
      }
    }
    return false;
  }

  std::string_view s_;
  std::size_t n_;
  std::size_t bodyMin_;
};

// The RFC 5424 stamp as SyslogUtils reads it: 'Z' becomes +0000, +hh:mm becomes +hhmm, digits
// past the third fraction digit are dropped, then SimpleDateFormat tries "yyyy-MM-dd'T'HH:mm:ss.S"
// (which ignores what follows the fraction, the offset included), "...ss.SZ", "...ssZ" (an offset
// with hours above 23 or minutes above 59 fails it) and "...ss", leniently, in the local zone
// unless "...ssZ" took the offset.
// A stream's stamps mostly share their second: the instant of the last "yyyy-MM-ddTHH:mm:ss"
// with a fraction is kept, and a stamp in the same second adds its milliseconds to it. Within a
// second the zone's offset cannot change (transitions fall on whole seconds).
int64_t stamp5424(std::string_view st, LocalZone& zone, StampCache& cache) {
  std::size_t p = 19;
  const bool fraction = p < st.size() && st[p] == '.';
  int ms = 0;
  if (fraction) {
    std::size_t digits = 0;
    while (p + 1 + digits < st.size() && isDigit(st[p + 1 + digits])) ++digits;
    ms = num(st, p + 1, std::min<std::size_t>(digits, 3));
    if (cache.valid && std::memcmp(cache.second, st.data(), sizeof cache.second) == 0)
      return cache.utcMs + ms;
  }
  const int y = num(st, 0, 4), mo = num(st, 5, 2), d = num(st, 8, 2), h = num(st, 11, 2),
            mi = num(st, 14, 2), s = num(st, 17, 2);
  if (fraction) {
    cache.utcMs = zone.wallToUtc(javaLenientWallMillis(y, mo, d, h, mi, s, 0));
    std::memcpy(cache.second, st.data(), sizeof cache.second);
    cache.valid = true;
    return cache.utcMs + ms;
  }
  const int64_t wall = javaLenientWallMillis(y, mo, d, h, mi, s, 0);
  if (p < st.size()) {
    if (st[p] == 'Z') return wall;
    const int sign = st[p] == '-' ? -1 : 1;
    const int hh = num(st, p + 1, 2), mm = num(st, p + 4, 2);
    if (hh <= 23 && mm <= 59) return wall - static_cast<int64_t>(sign * (hh * 60 + mm)) * 60'000;
  }
  return zone.wallToUtc(wall);
}

constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                        "jul", "aug", "sep", "oct", "nov", "dec"};

// 1-12 for an English month abbreviation in any case (SimpleDateFormat's MMM with
// Locale.ENGLISH), else 0.
int monthOf(std::string_view m) noexcept {
  char lower[3];
  for (int i = 0; i < 3; ++i) lower[i] = static_cast<char>(m[i] | 0x20);
  for (int i = 0; i < 12; ++i)
    if (std::memcmp(lower, kMonths[i].data(), 3) == 0) return i + 1;
  return 0;
}

// The RFC 3164 stamp as SyslogUtils reads it: two spaces become one, the current year (UTC) is
// put in front, SimpleDateFormat "yyyyMMM d HH:mm:ss" parses it leniently in the local zone
// (its literal ' ' matches only a space; a number may be preceded by spaces or tabs), and the
// result moves back a year if it is more than a month ahead of now, forward a year if it is more
// than eleven months behind (Calendar.add in the local zone).
std::optional<int64_t> stamp3164(std::string_view st, int64_t nowMs, LocalZone& zone) {
  const int month = monthOf(st);
  if (!month || st[3] != ' ') return std::nullopt;
  std::size_t p = 4;
  if (isSpace(st[p])) {
    if (st[p] != ' ' && st[p] != '\t') return std::nullopt;
    ++p;
  }
  int day = 0;
  while (isDigit(st[p])) day = day * 10 + (st[p++] - '0');
  if (st[p] != ' ') return std::nullopt;
  const int hh = num(st, p + 1, 2), mm = num(st, p + 4, 2), ss = num(st, p + 7, 2);
  const int64_t year = civilFromWallMillis(nowMs).year;
  int64_t parsed = zone.wallToUtc(javaLenientWallMillis(year, month, day, hh, mm, ss, 0));
  const CivilTime f = civilFromWallMillis(zone.utcToWall(parsed));
  const int64_t minusOneMonth = zone.wallToUtc(wallMillisOf(addMonths(f, -1)));
  const int64_t plusElevenMonths = zone.wallToUtc(wallMillisOf(addMonths(f, 11)));
  if (parsed > nowMs && minusOneMonth > nowMs) {
    parsed = zone.wallToUtc(wallMillisOf(withYear(f, f.year - 1)));
  } else if (parsed < nowMs && plusElevenMonths < nowMs) {
    parsed = zone.wallToUtc(wallMillisOf(withYear(f, f.year + 1)));
  }
  return parsed;
}

}  // namespace

KeepFields parseKeepFields(std::string_view value) {
  // String.trim(): every char <= ' ' at both ends; toLowerCase(Locale.ENGLISH).
  while (!value.empty() && static_cast<unsigned char>(value.front()) <= ' ') value.remove_prefix(1);
  while (!value.empty() && static_cast<unsigned char>(value.back()) <= ' ') value.remove_suffix(1);
  std::string v(value);
  for (char& c : v)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  KeepFields k;
  if (v == "false" || v == "none") return k;
  if (v == "true" || v == "all") {
    k.all = true;
    return k;
  }
  k.priority = v.find("priority") != std::string::npos;
  k.version = v.find("version") != std::string::npos;
  k.timestamp = v.find("timestamp") != std::string::npos;
  k.hostname = v.find("hostname") != std::string::npos;
  return k;
}

SyslogUtilsParser::SyslogUtilsParser(KeepFields keep, const PeerHeaderNames& peerNames,
                                     LocalZone zone)
    : keep_(keep), headers_(peerNames), zone_(zone) {}

ParseOutcome SyslogUtilsParser::parse(const Message& m, int64_t nowMs, const PeerInfo& peer,
                                      sdk::Event& out) {
  HeaderBuilder::Values v;
  uint32_t mask = bit(Slot::Facility) | bit(Slot::Severity);
  char facility[8], severity[8], timestamp[24];
  const std::string_view s = m.bytes;
  ParseOutcome outcome = ParseOutcome::Unmatched;

  if (m.badPriority) {
    v.set(Slot::Facility, "0");
    v.set(Slot::Severity, "0");
    mask |= bit(Slot::Status);
    v.set(Slot::Status, kInvalid);
    out.body.assign(s);
    outcome = ParseOutcome::Invalid;
  } else {
    const int pri = num(s, 1, m.priorityDigits);
    v.set(Slot::Facility, toChars(pri / 8, facility, sizeof facility));
    v.set(Slot::Severity, toChars(pri % 8, severity, sizeof severity));
    const TextScan scan = scanText(s);
    Groups g;
    if (Matcher(s, m.framed ? 0 : scan.bodyMin).match(g)) {
      outcome = ParseOutcome::Parsed;
      mask |= bit(Slot::Priority);
      v.set(Slot::Priority, g.priority);
      if (g.hasVersion && !g.version.empty()) {
        mask |= bit(Slot::Version);
        v.set(Slot::Version, g.version);
      }
      if (g.hasStamp) {
        const std::optional<int64_t> ts =
            g.rfc5424 ? stamp5424(g.stamp, zone_, stamps_) : stamp3164(g.stamp, nowMs, zone_);
        if (ts) {
          mask |= bit(Slot::Timestamp);
          v.set(Slot::Timestamp, toChars(*ts, timestamp, sizeof timestamp));
        }
      }
      if (g.hasHost) {
        mask |= bit(Slot::Host);
        v.set(Slot::Host, g.host);
      }
      // SyslogUtils.addFieldsToBody, then msgBody.getBytes() (UTF-8 via a String); the raw
      // message when keepFields is all or the resulting body is empty.
      const bool withVersion = keep_.version && g.hasVersion && !g.version.empty();
      constexpr std::string_view kNull = "null";  // Java's "" + null
      const std::string_view stamp = g.hasStamp ? g.stamp : kNull;
      const std::string_view host = g.hasHost ? g.host : kNull;
      std::size_t prefix = 0;
      if (keep_.priority) prefix += g.priority.size() + 2;
      if (withVersion) prefix += g.version.size() + 1;
      if (keep_.timestamp) prefix += stamp.size() + 1;
      if (keep_.hostname) prefix += host.size() + 1;
      if (keep_.all || prefix + g.body.size() == 0) {
        out.body.assign(s);
      } else {
        out.body.reserve(prefix + g.body.size());
        if (keep_.priority) out.body.append("<").append(g.priority).append(">");
        if (withVersion) out.body.append(g.version).append(" ");
        if (keep_.timestamp) out.body.append(stamp).append(" ");
        if (keep_.hostname) out.body.append(host).append(" ");
        if (scan.validUtf8) {
          out.body.append(g.body);
        } else {
          appendJavaUtf8(g.body, out.body);
        }
      }
    } else {
      out.body.assign(s);
    }
    if (m.incomplete) {
      mask |= bit(Slot::Status);
      v.set(Slot::Status, kIncomplete);
      outcome = ParseOutcome::Incomplete;
    }
  }
  headers_.addPeer(peer, mask, v);
  headers_.build(mask, v, out.headers);
  return outcome;
}

}  // namespace sluice::plugins::syslog
