#include "path_escape.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <climits>
#include <cstring>

namespace sluice::plugins::hdfs {

namespace {

constexpr const char* kDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                 "Thursday", "Friday", "Saturday"};
constexpr const char* kMonths[] = {"January",   "February", "March",    "April",
                                   "May",       "June",     "July",     "August",
                                   "September", "October",  "November", "December"};

bool isWord(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Days since 1970-01-01 to civil date (Howard Hinnant's algorithm), proleptic Gregorian.
void civilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

bool isLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

void appendInt(std::string& out, int64_t v, int width) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v < 0 ? -v : v);
  (void)ec;
  const int len = static_cast<int>(p - buf);
  if (v < 0) out.push_back('-');
  for (int i = len; i < width; ++i) out.push_back('0');
  out.append(buf, static_cast<std::size_t>(len));
}

bool knownTimeCode(char c) { return std::strchr("aAbBcdDeHIjklmMnpSyYz", c) != nullptr; }

}  // namespace

HostNames HostNames::lookup() {
  HostNames h;
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') std::strcpy(name, "localhost");
  h.localhost = name;
  h.ip = "127.0.0.1";
  h.fqdn = name;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_CANONNAME;
  addrinfo* res = nullptr;
  if (::getaddrinfo(name, nullptr, &hints, &res) == 0 && res) {
    if (res->ai_canonname && *res->ai_canonname) h.fqdn = res->ai_canonname;
    // Prefer IPv4, as Java's InetAddress.getLocalHost() usually reports.
    const addrinfo* pick = res;
    for (const addrinfo* a = res; a; a = a->ai_next)
      if (a->ai_family == AF_INET) {
        pick = a;
        break;
      }
    char buf[INET6_ADDRSTRLEN] = {};
    const void* addr =
        pick->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(pick->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(pick->ai_addr)->sin6_addr);
    if (::inet_ntop(pick->ai_family, addr, buf, sizeof buf)) h.ip = buf;
    ::freeaddrinfo(res);
  }
  return h;
}

namespace {
int64_t roundDownWithOffset(int64_t millis, RoundUnit unit, int value, int32_t off) noexcept {
  if (value <= 0) value = 1;
  const int64_t local = millis + int64_t(off) * 1000;
  const int64_t msOfDay = local - floorDiv(local, 86400000) * 86400000;
  const int64_t ms = msOfDay % 1000;
  const int64_t s = (msOfDay / 1000) % 60;
  const int64_t m = (msOfDay / 60000) % 60;
  const int64_t h = msOfDay / 3600000;
  int64_t removed = 0;
  switch (unit) {
    case RoundUnit::Second:
      removed = (s % value) * 1000 + ms;
      break;
    case RoundUnit::Minute:
      removed = (m % value) * 60000 + s * 1000 + ms;
      break;
    case RoundUnit::Hour:
      removed = (h % value) * 3600000 + m * 60000 + s * 1000 + ms;
      break;
  }
  return millis - removed;
}
}  // namespace

int64_t roundDownMillis(int64_t millis, RoundUnit unit, int value, const TimeZone* zone) noexcept {
  const int32_t off = zone ? zone->offsetAt(floorDiv(millis, 1000)) : 0;
  return roundDownWithOffset(millis, unit, value, off);
}

int32_t PathTemplate::offsetFor(const TimeZone* zone, int64_t sec) noexcept {
  if (!zone) return 0;
  if (sec != offsetSecond_ || zone != offsetZone_) {
    offsetValue_ = zone->offsetAt(sec);
    offsetSecond_ = sec;
    offsetZone_ = zone;
  }
  return offsetValue_;
}

PathTemplate PathTemplate::compile(std::string_view text, const HostNames& host) {
  PathTemplate t;
  auto literal = [&](std::string_view s) {
    if (s.empty()) return;
    if (!t.parts_.empty() && t.parts_.back().kind == Kind::Literal)
      t.parts_.back().text.append(s);
    else
      t.parts_.push_back(Part{Kind::Literal, 0, std::string(s)});
  };
  bool sawEscape = false;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '%' || i + 1 >= text.size()) {
      if (!sawEscape) t.literalPrefix_.push_back(c);
      literal(text.substr(i, 1));
      ++i;
      continue;
    }
    const char n = text[i + 1];
    if (n == '%') {
      sawEscape = true;
      literal("%");
      i += 2;
    } else if (isWord(n)) {
      sawEscape = true;
      i += 2;
      if (n == 't') {
        t.parts_.push_back(Part{Kind::RawTimestamp, n, {}});
        t.usesTime_ = true;
        t.cacheable_ = false;
      } else if (n == 's') {
        t.parts_.push_back(Part{Kind::Seconds, n, {}});
        t.usesTime_ = true;
      } else if (knownTimeCode(n)) {
        t.parts_.push_back(Part{Kind::Time, n, {}});
        t.usesTime_ = true;
      } else {
        t.unknown_.push_back(std::string("%") + n);
      }
    } else if (n == '{' || n == '[') {
      const char close = n == '{' ? '}' : ']';
      std::size_t j = i + 2;
      while (j < text.size() &&
             (isWord(text[j]) || (n == '{' && (text[j] == '.' || text[j] == '-'))))
        ++j;
      if (j == i + 2 || j >= text.size() || text[j] != close) {
        if (!sawEscape) t.literalPrefix_.push_back(c);
        literal("%");
        ++i;
        continue;
      }
      sawEscape = true;
      std::string_view name = text.substr(i + 2, j - i - 2);
      if (n == '{') {
        t.parts_.push_back(Part{Kind::Header, 0, std::string(name)});
        t.usesHeaders_ = true;
        t.cacheable_ = false;
      } else {
        std::string lower(name);
        for (char& ch : lower)
          if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
        if (lower == "localhost")
          literal(host.localhost);
        else if (lower == "ip")
          literal(host.ip);
        else if (lower == "fqdn")
          literal(host.fqdn);
        else
          t.unknown_.push_back("%[" + std::string(name) + "]");
      }
      i = j + 1;
    } else {
      if (!sawEscape) t.literalPrefix_.push_back(c);
      literal("%");
      ++i;
    }
  }
  return t;
}

PathTemplate::Status PathTemplate::format(const sdk::Headers& headers, int64_t nowMillis,
                                          const TimeSettings& settings, std::string& out) {
  std::string_view rawTs;
  int64_t ts = 0;
  int64_t sec = 0;
  const std::size_t start = out.size();
  if (usesTime_) {
    if (settings.useLocalTimeStamp) {
      ts = nowMillis;
    } else {
      const std::string* h = headers.find("timestamp");
      if (!h) return Status::MissingTimestamp;
      rawTs = *h;
      std::string_view v = rawTs;
      if (!v.empty() && v.front() == '+') v.remove_prefix(1);  // Long.valueOf accepts a sign
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), ts);
      if (v.empty() || ec != std::errc() || p != v.data() + v.size()) return Status::BadTimestamp;
    }
    // Beyond year +-250000 the arithmetic below could overflow: not a real event time.
    constexpr int64_t kLimit = 8'000'000'000'000'000;
    if (ts > kLimit || ts < -kLimit) return Status::BadTimestamp;
    if (settings.round)
      ts = roundDownWithOffset(ts, settings.unit, settings.roundValue,
                               offsetFor(settings.zone, floorDiv(ts, 1000)));
    sec = floorDiv(ts, 1000);
    if (cacheable_ && ts >= 0 && sec == outSecond_ && settings.zone == outZone_) {
      out.append(cachedOut_);
      return Status::Ok;
    }
    const int32_t off = offsetFor(settings.zone, sec);
    const int64_t localSec = sec + off;
    if (localSec != cachedLocalSecond_ || off != cachedOffset_) {
      const int64_t days = floorDiv(localSec, 86400);
      const int64_t sod = localSec - days * 86400;
      int64_t y;
      unsigned m, d;
      civilFromDays(days, &y, &m, &d);
      static constexpr int kCum[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
      fields_[0] = static_cast<int>(y);
      fields_[1] = static_cast<int>(m) - 1;
      fields_[2] = static_cast<int>(d);
      fields_[3] = static_cast<int>(sod / 3600);
      fields_[4] = static_cast<int>((sod / 60) % 60);
      fields_[5] = static_cast<int>(sod % 60);
      fields_[6] = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
      fields_[7] = kCum[m - 1] + static_cast<int>(d) - 1 + ((m > 2 && isLeap(y)) ? 1 : 0);
      cachedLocalSecond_ = localSec;
      cachedOffset_ = off;
    }
  }
  const int* f = fields_;
  auto hour12 = [&] { return f[3] % 12 == 0 ? 12 : f[3] % 12; };
  for (const Part& p : parts_) {
    switch (p.kind) {
      case Kind::Literal:
        out.append(p.text);
        break;
      case Kind::Header:
        if (const std::string* v = headers.find(p.text)) out.append(*v);
        break;
      case Kind::RawTimestamp:
        if (settings.useLocalTimeStamp)
          appendInt(out, nowMillis, 0);
        else
          out.append(rawTs);
        break;
      case Kind::Seconds:
        appendInt(out, ts / 1000, 0);
        break;  // Java: truncates toward zero
      case Kind::Time:
        switch (p.code) {
          case 'a':
            out.append(kDays[f[6]], 3);
            break;
          case 'A':
            out.append(kDays[f[6]]);
            break;
          case 'b':
            out.append(kMonths[f[1]], 3);
            break;
          case 'B':
            out.append(kMonths[f[1]]);
            break;
          case 'c':  // EEE MMM d HH:mm:ss yyyy
            out.append(kDays[f[6]], 3);
            out.push_back(' ');
            out.append(kMonths[f[1]], 3);
            out.push_back(' ');
            appendInt(out, f[2], 0);
            out.push_back(' ');
            appendInt(out, f[3], 2);
            out.push_back(':');
            appendInt(out, f[4], 2);
            out.push_back(':');
            appendInt(out, f[5], 2);
            out.push_back(' ');
            appendInt(out, f[0], 4);
            break;
          case 'd':
            appendInt(out, f[2], 2);
            break;
          case 'D':  // MM/dd/yy
            appendInt(out, f[1] + 1, 2);
            out.push_back('/');
            appendInt(out, f[2], 2);
            out.push_back('/');
            appendInt(out, ((f[0] % 100) + 100) % 100, 2);
            break;
          case 'e':
            appendInt(out, f[2], 0);
            break;
          case 'H':
            appendInt(out, f[3], 2);
            break;
          case 'I':
            appendInt(out, hour12(), 2);
            break;
          case 'j':
            appendInt(out, f[7] + 1, 3);
            break;
          case 'k':
            appendInt(out, f[3], 0);
            break;
          case 'l':
            appendInt(out, hour12(), 0);
            break;
          case 'm':
            appendInt(out, f[1] + 1, 2);
            break;
          case 'M':
            appendInt(out, f[4], 2);
            break;
          case 'n':
            appendInt(out, f[1] + 1, 0);
            break;
          case 'p':
            out.append(f[3] < 12 ? "AM" : "PM");
            break;
          case 'S':
            appendInt(out, f[5], 2);
            break;
          case 'y':
            appendInt(out, ((f[0] % 100) + 100) % 100, 2);
            break;
          case 'Y':
            appendInt(out, f[0], 4);
            break;
          case 'z': {  // RFC 822: -0800
            const int o = cachedOffset_;
            out.push_back(o < 0 ? '-' : '+');
            const int a = o < 0 ? -o : o;
            appendInt(out, a / 3600, 2);
            appendInt(out, (a / 60) % 60, 2);
            break;
          }
          default:
            break;
        }
        break;
    }
  }
  if (cacheable_ && usesTime_ && ts >= 0) {
    cachedOut_.assign(out, start, std::string::npos);  // reuses the cache's capacity
    outSecond_ = sec;
    outZone_ = settings.zone;
  }
  return Status::Ok;
}

}  // namespace sluice::plugins::hdfs
