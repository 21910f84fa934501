#include "syslog/java_time.hpp"

#include <time.h>

#include <algorithm>

namespace sluice::plugins::syslog {

namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kDaySeconds = 86'400;
// 15 October 1582 (Gregorian), the first day after java.util.GregorianCalendar's default cutover.
constexpr int64_t kCutoverDay = -141'427;

constexpr int64_t floorDiv(int64_t a, int64_t b) noexcept {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
constexpr int64_t floorMod(int64_t a, int64_t b) noexcept { return a - floorDiv(a, b) * b; }

// Normalises a 1-based month of any value into [1, 12], carrying into the year.
inline void normaliseMonth(int64_t& year, int64_t& month) noexcept {
  const int64_t m0 = month - 1;
  year += floorDiv(m0, 12);
  month = floorMod(m0, 12) + 1;
}

}  // namespace

int64_t daysFromCivil(int64_t y, int m, int d) noexcept {
  // H. Hinnant's days_from_civil.
  y -= m <= 2;
  const int64_t era = floorDiv(y, 400);
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146'097 + doe - 719'468;
}

int64_t daysFromJulian(int64_t y, int m, int d) noexcept {
  // Julian day number of a Julian-calendar date, then relative to 1970-01-01 (JDN 2440588).
  const int64_t a = (14 - m) / 12;
  const int64_t yy = y + 4800 - a;
  const int64_t mm = m + 12 * a - 3;
  const int64_t jdn = d + (153 * mm + 2) / 5 + 365 * yy + floorDiv(yy, 4) - 32'083;
  return jdn - 2'440'588;
}

bool isLeapYear(int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int daysInMonth(int64_t y, int m) noexcept {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeapYear(y) ? 29 : kDays[m - 1];
}

CivilTime civilFromWallMillis(int64_t wall) noexcept {
  const int64_t z = floorDiv(wall, kDayMs);
  int64_t tod = floorMod(wall, kDayMs);
  // H. Hinnant's civil_from_days.
  const int64_t zz = z + 719'468;
  const int64_t era = floorDiv(zz, 146'097);
  const int64_t doe = zz - era * 146'097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  CivilTime t;
  t.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  t.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  t.year = yoe + era * 400 + (t.month <= 2);
  t.millis = static_cast<int>(tod % 1000);
  tod /= 1000;
  t.second = static_cast<int>(tod % 60);
  tod /= 60;
  t.minute = static_cast<int>(tod % 60);
  t.hour = static_cast<int>(tod / 60);
  return t;
}

int64_t javaLenientWallMillis(int64_t year, int64_t month, int64_t day, int64_t hour,
                              int64_t minute, int64_t second, int64_t millis) noexcept {
  // GregorianCalendar picks the calendar system by the YEAR field before normalising the month.
  const int64_t yearField = year;
  normaliseMonth(year, month);
  const int m = static_cast<int>(month);
  int64_t fixed;
  if (yearField > 1582) {
    fixed = daysFromCivil(year, m, 1) + day - 1;
  } else if (yearField < 1582) {
    fixed = daysFromJulian(year, m, 1) + day - 1;
  } else {
    const int64_t g = daysFromCivil(year, m, 1) + day - 1;
    fixed = g >= kCutoverDay ? g : daysFromJulian(year, m, 1) + day - 1;
  }
  const int64_t tod = ((hour * 60 + minute) * 60 + second) * 1000 + millis;
  return fixed * kDayMs + tod;
}

CivilTime addMonths(CivilTime t, int64_t months) noexcept {
  int64_t y = t.year;
  int64_t m = t.month + months;
  normaliseMonth(y, m);
  t.year = y;
  t.month = static_cast<int>(m);
  t.day = std::min(t.day, daysInMonth(y, t.month));
  return t;
}

CivilTime withYear(CivilTime t, int64_t year) noexcept {
  t.year = year;
  t.day = std::min(t.day, daysInMonth(year, t.month));
  return t;
}

int64_t wallMillisOf(const CivilTime& t) noexcept {
  return daysFromCivil(t.year, t.month, t.day) * kDayMs +
         ((t.hour * 60LL + t.minute) * 60 + t.second) * 1000 + t.millis;
}

LocalZone LocalZone::system() {
  LocalZone z(false, 0);
  // The standard offset: the smaller of January's and July's this year (DST adds to it).
  const CivilTime today = civilFromWallMillis(static_cast<int64_t>(::time(nullptr)) * 1000);
  const int64_t jan = z.libcOffsetMs(daysFromCivil(today.year, 1, 1) * kDaySeconds);
  const int64_t jul = z.libcOffsetMs(daysFromCivil(today.year, 7, 1) * kDaySeconds);
  z.fixedOffsetMs_ = std::min(jan, jul);
  return z;
}

int64_t LocalZone::libcOffsetMs(int64_t utcSeconds) const noexcept {
  // java.util.TimeZone (sun.util.calendar.ZoneInfo) starts its transitions in 1900 and uses the
  // zone's current standard offset before that, where tzdata has local mean time.
  constexpr int64_t k1900 = -2'208'988'800;
  if (utcSeconds < k1900) return fixedOffsetMs_;
  const time_t t = static_cast<time_t>(utcSeconds);
  struct tm tm {};
  if (!::localtime_r(&t, &tm)) {
    // Beyond what struct tm can hold (years past 2^31): use the offset at the epoch.
    const time_t zero = 0;
    if (!::localtime_r(&zero, &tm)) return 0;
  }
  return static_cast<int64_t>(tm.tm_gmtoff) * 1000;
}

int64_t LocalZone::offsetAt(int64_t utcMillis) noexcept {
  if (fixed_) return fixedOffsetMs_;
  const int64_t seconds = floorDiv(utcMillis, 1000);
  const int64_t day = floorDiv(seconds, kDaySeconds);
  Entry& e = utcDays_[static_cast<std::size_t>(floorMod(day, 8))];
  if (e.day != day) {
    const int64_t first = libcOffsetMs(day * kDaySeconds);
    const int64_t last = libcOffsetMs(day * kDaySeconds + kDaySeconds - 1);
    e.day = day;
    e.offset = first;
    e.constant = first == last;
  }
  return e.constant ? e.offset : libcOffsetMs(seconds);
}

int64_t LocalZone::wallToUtc(int64_t wallMillis) noexcept {
  if (fixed_) return wallMillis - fixedOffsetMs_;
  const int64_t day = floorDiv(wallMillis, kDayMs);
  Entry& e = wallDays_[static_cast<std::size_t>(floorMod(day, 8))];
  if (e.day != day) {
    // Offsets a day before and two days after this wall day (as instants) bracket every instant
    // whose wall time falls in it, since offsets stay within +-18 hours.
    e.day = day;
    e.offset = offsetAt((day - 1) * kDayMs);
    e.after = offsetAt((day + 2) * kDayMs);
    e.constant = e.offset == e.after;
  }
  if (e.constant) return wallMillis - e.offset;
  // A transition near this day. Java reads a wall time as after the transition when it is at or
  // past the transition's instant plus the offset after it.
  return wallMillis - (offsetAt(wallMillis - e.after) == e.after ? e.after : e.offset);
}

}  // namespace sluice::plugins::syslog
