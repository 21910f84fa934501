#include "joda_time.hpp"

#include <chrono>
#include <climits>
#include <ctime>

namespace sluice::plugins::regexextractor {
namespace {

constexpr const char* kMonths[] = {"january",   "february", "march",    "april",
                                   "may",       "june",     "july",     "august",
                                   "september", "october",  "november", "december"};
constexpr const char* kDays[] = {"monday", "tuesday",  "wednesday", "thursday",
                                 "friday", "saturday", "sunday"};

char lowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool isLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Whether a pattern letter with this count is a number when parsed.
bool isNumeric(char letter, std::size_t count) {
  switch (letter) {
    case 'M':
      return count <= 2;
    case 'y':
    case 'Y':
    case 'd':
    case 'H':
    case 'k':
    case 'h':
    case 'K':
    case 'm':
    case 's':
    case 'S':
    case 'e':
      return true;
    default:
      return false;
  }
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's algorithm).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool isLeap(int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int daysInMonth(int64_t y, int m) noexcept {
  static constexpr int kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : kDaysIn[m - 1];
}

// Reads 1..maxDigits digits at text[pos]; false when there is none.
bool readNumber(std::string_view text, std::size_t& pos, int maxDigits, int64_t* value,
                int* digits = nullptr) noexcept {
  int64_t v = 0;
  int n = 0;
  while (n < maxDigits && pos < text.size() && isDigit(text[pos])) {
    v = v * 10 + (text[pos++] - '0');
    ++n;
  }
  if (digits) *digits = n;
  *value = v;
  return n > 0;
}

// Matches the longest of `names` (lowercase) at text[pos], also as a 3-letter abbreviation.
// Returns its 1-based index, or 0.
int readName(std::string_view text, std::size_t& pos, const char* const* names,
             int count) noexcept {
  int best = 0;
  std::size_t bestLen = 0;
  for (int i = 0; i < count; ++i) {
    const std::string_view full(names[i]);
    for (std::size_t len : {full.size(), std::size_t(3)}) {
      if (len <= bestLen || pos + len > text.size()) continue;
      bool same = true;
      for (std::size_t k = 0; k < len && same; ++k) same = lowerAscii(text[pos + k]) == full[k];
      if (same) {
        best = i + 1;
        bestLen = len;
      }
    }
  }
  pos += bestLen;
  return best;
}

}  // namespace

std::optional<JodaPattern> JodaPattern::compile(std::string_view p, std::string* error,
                                                int currentYear) {
  auto fail = [&](std::string why) -> std::optional<JodaPattern> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  if (p.empty()) return fail("the pattern is empty");
  if (currentYear == 0) {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    currentYear = tm.tm_year + 1900;
  }
  JodaPattern out;
  out.pattern_ = std::string(p);
  out.pivot_ = currentYear - 30;

  // Split into (letter, count) runs and literals first, so that a year can look at the next token.
  struct Raw {
    char letter = 0;  // 0: literal
    std::size_t count = 0;
    std::string literal;
  };
  std::vector<Raw> raw;
  for (std::size_t i = 0; i < p.size();) {
    const char c = p[i];
    if (isLetter(c)) {
      std::size_t j = i;
      while (j < p.size() && p[j] == c) ++j;
      raw.push_back(Raw{c, j - i, {}});
      i = j;
    } else if (c == '\'') {
      std::string lit;
      if (i + 1 < p.size() && p[i + 1] == '\'') {  // '' is one quote
        lit = "'";
        i += 2;
      } else {
        ++i;
        while (i < p.size()) {
          if (p[i] == '\'') {
            if (i + 1 < p.size() && p[i + 1] == '\'') {
              lit += '\'';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          lit += p[i++];
        }
      }
      if (!raw.empty() && raw.back().letter == 0)
        raw.back().literal += lit;
      else
        raw.push_back(Raw{0, 0, lit});
    } else {
      if (!raw.empty() && raw.back().letter == 0)
        raw.back().literal += c;
      else
        raw.push_back(Raw{0, 0, std::string(1, c)});
      ++i;
    }
  }

  for (std::size_t t = 0; t < raw.size(); ++t) {
    const Raw& r = raw[t];
    Token tok;
    if (r.letter == 0) {
      tok.kind = Kind::Literal;
      for (char c : r.literal) tok.literal += lowerAscii(c);
      if (tok.literal.empty()) continue;
      out.tokens_.push_back(std::move(tok));
      continue;
    }
    const bool nextNumeric = t + 1 < raw.size() && raw[t + 1].letter != 0 &&
                             isNumeric(raw[t + 1].letter, raw[t + 1].count);
    const int n = static_cast<int>(r.count);
    switch (r.letter) {
      case 'y':
      case 'Y':
        if (n == 2) {
          tok.kind = Kind::TwoDigitYear;
          tok.lenient = !nextNumeric;
        } else {
          tok.kind = Kind::Year;
          tok.maxDigits = nextNumeric ? n : 9;
        }
        break;
      case 'M':
        tok.kind = n >= 3 ? Kind::MonthText : Kind::Month;
        break;
      case 'd':
        tok.kind = Kind::Day;
        break;
      case 'H':
        tok.kind = Kind::HourOfDay;
        break;
      case 'k':
        tok.kind = Kind::ClockHourOfDay;
        break;
      case 'h':
        tok.kind = Kind::ClockHourOfHalfday;
        break;
      case 'K':
        tok.kind = Kind::HourOfHalfday;
        break;
      case 'a':
        tok.kind = Kind::HalfDay;
        break;
      case 'm':
        tok.kind = Kind::Minute;
        break;
      case 's':
        tok.kind = Kind::Second;
        break;
      case 'S':
        tok.kind = Kind::Fraction;
        tok.maxDigits = 9;
        break;
      case 'e':
        tok.kind = Kind::DayOfWeek;
        tok.maxDigits = 1;
        break;
      case 'E':
        tok.kind = Kind::DayOfWeekText;
        break;
      case 'Z':
        if (n > 2)
          return fail("pattern letters 'ZZZ' (time zone id) are not supported; use Z or ZZ");
        tok.kind = Kind::Offset;
        out.hasOffset_ = true;
        break;
      case 'G':
      case 'C':
      case 'x':
      case 'w':
      case 'D':
      case 'z':
        return fail(std::string("pattern letter '") + r.letter +
                    "' is not supported (supported: y M d H k h K a m s S E e Z)");
      default:
        return fail(std::string("illegal pattern component: ") + std::string(r.count, r.letter));
    }
    out.tokens_.push_back(std::move(tok));
  }
  return out;
}

bool JodaPattern::parseMillis(std::string_view text, int64_t* millis) const noexcept {
  int64_t year = 1970, month = 1, day = 1, minute = 0, second = 0, fractionMs = 0;
  int64_t hourOfDay = -1, clockHourOfDay = -1, clockHourOfHalfday = -1, hourOfHalfday = -1;
  int halfday = -1, dayOfWeek = -1;
  bool haveOffset = false;
  int64_t offsetSeconds = 0;
  std::size_t pos = 0;

  for (const Token& t : tokens_) {
    int64_t v = 0;
    switch (t.kind) {
      case Kind::Literal:
        if (pos + t.literal.size() > text.size()) return false;
        for (std::size_t k = 0; k < t.literal.size(); ++k)
          if (lowerAscii(text[pos + k]) != t.literal[k]) return false;
        pos += t.literal.size();
        break;
      case Kind::Year: {
        bool negative = false;
        if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) {
          negative = text[pos] == '-';
          ++pos;
        }
        if (!readNumber(text, pos, t.maxDigits, &v)) return false;
        year = negative ? -v : v;
        break;
      }
      case Kind::TwoDigitYear: {
        const std::size_t start = pos;
        int digits = 0;
        if (t.lenient) {
          bool signed_ = pos < text.size() && (text[pos] == '-' || text[pos] == '+');
          std::size_t p = pos + (signed_ ? 1 : 0);
          if (!readNumber(text, p, 9, &v, &digits)) return false;
          if (signed_ || digits != 2) {  // not two digits: a full year
            year = text[start] == '-' ? -v : v;
            pos = p;
            break;
          }
          pos = p;
        } else {
          if (!readNumber(text, pos, 2, &v, &digits) || digits != 2) return false;
        }
        // Joda's TwoDigitYear: the year in [pivot - 50, pivot + 49] ending in these digits.
        const int64_t low = pivot_ - 50;
        const int64_t t100 = low >= 0 ? low % 100 : 99 + ((low + 1) % 100);
        year = low + v + (v < t100 ? 100 : 0) - t100;
        break;
      }
      case Kind::Month:
        if (!readNumber(text, pos, 2, &month)) return false;
        break;
      case Kind::MonthText:
        month = readName(text, pos, kMonths, 12);
        if (month == 0) return false;
        break;
      case Kind::Day:
        if (!readNumber(text, pos, 2, &day)) return false;
        break;
      case Kind::HourOfDay:
        if (!readNumber(text, pos, 2, &hourOfDay)) return false;
        break;
      case Kind::ClockHourOfDay:
        if (!readNumber(text, pos, 2, &clockHourOfDay)) return false;
        break;
      case Kind::ClockHourOfHalfday:
        if (!readNumber(text, pos, 2, &clockHourOfHalfday)) return false;
        break;
      case Kind::HourOfHalfday:
        if (!readNumber(text, pos, 2, &hourOfHalfday)) return false;
        break;
      case Kind::HalfDay:
        if (pos + 2 > text.size() || lowerAscii(text[pos + 1]) != 'm') return false;
        if (lowerAscii(text[pos]) == 'a')
          halfday = 0;
        else if (lowerAscii(text[pos]) == 'p')
          halfday = 1;
        else
          return false;
        pos += 2;
        break;
      case Kind::Minute:
        if (!readNumber(text, pos, 2, &minute)) return false;
        break;
      case Kind::Second:
        if (!readNumber(text, pos, 2, &second)) return false;
        break;
      case Kind::Fraction: {
        int digits = 0;
        if (!readNumber(text, pos, t.maxDigits, &v, &digits)) return false;
        while (digits < 3) {
          v *= 10;
          ++digits;
        }
        while (digits > 3) {
          v /= 10;
          --digits;
        }
        fractionMs = v;
        break;
      }
      case Kind::DayOfWeek:
        if (!readNumber(text, pos, 1, &v)) return false;
        dayOfWeek = static_cast<int>(v);
        break;
      case Kind::DayOfWeekText:
        dayOfWeek = readName(text, pos, kDays, 7);
        if (dayOfWeek == 0) return false;
        break;
      case Kind::Offset: {
        if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
          ++pos;
          haveOffset = true;
          offsetSeconds = 0;
          break;
        }
        if (pos >= text.size() || (text[pos] != '+' && text[pos] != '-')) return false;
        const int sign = text[pos++] == '-' ? -1 : 1;
        int64_t hh = 0, mm = 0;
        int digits = 0;
        if (!readNumber(text, pos, 2, &hh, &digits) || digits != 2 || hh > 23) return false;
        std::size_t p = pos;  // optional minutes, with or without a colon
        if (p < text.size() && text[p] == ':') ++p;
        if (readNumber(text, p, 2, &mm, &digits)) {
          if (digits != 2 || mm > 59) return false;
          pos = p;
        }
        haveOffset = true;
        offsetSeconds = sign * (hh * 3600 + mm * 60);
        break;
      }
    }
  }
  if (pos != text.size()) return false;

  // Ranges, as Joda checks them.
  if (year < -292275054 || year > 292278993) return false;
  if (month < 1 || month > 12) return false;
  if (day < 1 || day > daysInMonth(year, static_cast<int>(month))) return false;
  if (minute > 59 || second > 59) return false;
  if (hourOfDay > 23 || (clockHourOfDay != -1 && (clockHourOfDay < 1 || clockHourOfDay > 24)) ||
      (clockHourOfHalfday != -1 && (clockHourOfHalfday < 1 || clockHourOfHalfday > 12)) ||
      hourOfHalfday > 11)
    return false;
  if (dayOfWeek != -1 && (dayOfWeek < 1 || dayOfWeek > 7)) return false;

  // The hour: hour of day wins; otherwise the half-day fields, AM unless `a` says PM.
  const int64_t pm = halfday == 1 ? 12 : 0;
  int64_t hour = 0;
  if (hourOfDay != -1)
    hour = hourOfDay;
  else if (clockHourOfDay != -1)
    hour = clockHourOfDay % 24;
  else if (clockHourOfHalfday != -1)
    hour = clockHourOfHalfday % 12 + pm;
  else if (hourOfHalfday != -1)
    hour = hourOfHalfday + pm;
  else
    hour = pm;

  int64_t days = daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  if (dayOfWeek != -1) {  // Joda moves the date to that day of its (Monday-based) week
    const int64_t actual = ((days + 3) % 7 + 7) % 7 + 1;
    days += dayOfWeek - actual;
  }
  const int64_t secondsOfDay = hour * 3600 + minute * 60 + second;
  int64_t epochSeconds = 0;
  if (haveOffset) {
    epochSeconds = days * 86400 + secondsOfDay - offsetSeconds;
  } else {
    // Local time: let the C library apply the zone's rules (thread-safe in glibc).
    int64_t y = 0;
    unsigned m = 0, d = 0;
    {  // civil date back from days (after a day-of-week move)
      const int64_t z = days + 719468;
      const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
      const unsigned doe = static_cast<unsigned>(z - era * 146097);
      const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
      const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
      const unsigned mp = (5 * doy + 2) / 153;
      d = doy - (153 * mp + 2) / 5 + 1;
      m = mp < 10 ? mp + 3 : mp - 9;
      y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
    }
    if (y - 1900 < INT_MIN || y - 1900 > INT_MAX) return false;
    std::tm tm{};
    tm.tm_year = static_cast<int>(y - 1900);
    tm.tm_mon = static_cast<int>(m) - 1;
    tm.tm_mday = static_cast<int>(d);
    tm.tm_hour = static_cast<int>(hour);
    tm.tm_min = static_cast<int>(minute);
    tm.tm_sec = static_cast<int>(second);
    tm.tm_isdst = -1;
    epochSeconds = static_cast<int64_t>(std::mktime(&tm));
  }
  *millis = epochSeconds * 1000 + fractionMs;
  return true;
}

}  // namespace sluice::plugins::regexextractor
