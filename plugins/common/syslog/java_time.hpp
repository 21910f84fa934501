#pragma once
// Date arithmetic as Flume's two syslog code paths do it on the JVM, without std::locale or
// <chrono> time zones:
//  - java.util.GregorianCalendar (SyslogUtils: SimpleDateFormat and Calendar.add): lenient fields
//    (month 13, day 0, hour 99 roll over), the Julian calendar before 15 October 1582, and wall
//    times in the JVM's default time zone, where a time in a DST gap or overlap is read as
//    standard time;
//  - Joda-Time's ISO chronology (SyslogParser): strict fields, proleptic Gregorian, UTC.
// Times are milliseconds since the epoch. "Wall" milliseconds are a local wall-clock time
// counted as if it were UTC.

#include <array>
#include <cstdint>

namespace sluice::plugins::syslog {

// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day 1-31).
int64_t daysFromCivil(int64_t year, int month, int day) noexcept;
// Days since 1970-01-01 of a Julian-calendar date (month 1-12).
int64_t daysFromJulian(int64_t year, int month, int day) noexcept;

struct CivilTime {
  int64_t year = 1970;
  int month = 1;  // 1-12
  int day = 1;
  int hour = 0, minute = 0, second = 0, millis = 0;
};
// The proleptic Gregorian fields of wall milliseconds.
CivilTime civilFromWallMillis(int64_t wallMillis) noexcept;
bool isLeapYear(int64_t year) noexcept;
int daysInMonth(int64_t year, int month) noexcept;

// Wall milliseconds of calendar fields as java.util.GregorianCalendar computes them in lenient
// mode: any month (13 is January of the next year, 0 December of the previous one), any day and
// time-of-day values added linearly, Julian dates before the 1582 cutover.
int64_t javaLenientWallMillis(int64_t year, int64_t month, int64_t day, int64_t hour,
                              int64_t minute, int64_t second, int64_t millis) noexcept;

// Java's Calendar.add(MONTH, n) / add(YEAR, n) on fields: the day of month is pinned to the
// length of the resulting month (31 March - 1 month = 28 or 29 February). Also Joda's
// plusMonths/withYear, which pin the same way.
CivilTime addMonths(CivilTime t, int64_t months) noexcept;
CivilTime withYear(CivilTime t, int64_t year) noexcept;
int64_t wallMillisOf(const CivilTime& t) noexcept;  // proleptic Gregorian

// The JVM's default time zone: offsets from glibc's tzdata (localtime_r, so TZ and /etc/localtime
// as Java reads them), cached per day so that the data path does not call into libc.
// Not thread-safe (the caches): one per parser.
class LocalZone {
 public:
  // The process's local zone (TZ, else /etc/localtime). Call tzset() before constructing it if
  // TZ changed since the process started.
  static LocalZone system();
  // A fixed offset east of UTC (tests, and "UTC").
  static LocalZone fixed(int32_t offsetSeconds) { return LocalZone(true, offsetSeconds); }

  // Offset east of UTC, in milliseconds, at an instant.
  int64_t offsetAt(int64_t utcMillis) noexcept;
  // The instant of a wall time, as GregorianCalendar.computeTime does: in a gap (spring forward)
  // the offset before the transition applies, in an overlap (fall back) the one after it.
  int64_t wallToUtc(int64_t wallMillis) noexcept;
  int64_t utcToWall(int64_t utcMillis) noexcept { return utcMillis + offsetAt(utcMillis); }

 private:
  LocalZone(bool fixed, int32_t offsetSeconds)
      : fixed_(fixed), fixedOffsetMs_(offsetSeconds * 1000LL) {}
  int64_t libcOffsetMs(int64_t utcSeconds) const noexcept;

  // Direct-mapped caches keyed by day number. constant: the whole day has `offset` (no
  // transition in it); otherwise the day holds a transition and is computed per call.
  struct Entry {
    int64_t day = INT64_MIN;
    int64_t offset = 0;
    int64_t after = 0;  // wall cache: the offset after a transition in or near the day
    bool constant = false;
  };
  bool fixed_;
  // fixed: the offset; system: the zone's standard offset today, which the JVM's
  // java.util.TimeZone applies to every instant before 1900 (it has no local mean time).
  int64_t fixedOffsetMs_;
  std::array<Entry, 8> utcDays_{};
  std::array<Entry, 8> wallDays_{};
};

}  // namespace sluice::plugins::syslog
