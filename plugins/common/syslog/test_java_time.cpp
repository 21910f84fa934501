// The JVM behaviour the parsers reproduce: GregorianCalendar's lenient fields and Julian dates,
// the default zone's offsets (checked against libc) with Java's reading of DST gaps and
// overlaps, Java's UTF-8 replacement, Integer.parseInt and UTF-16 positions.
#include <doctest/doctest.h>

#include <string>

#include "syslog/java_text.hpp"
#include "syslog/java_time.hpp"
#include "test_util.hpp"

using namespace sluice::plugins::syslog;
using namespace sluice::plugins::syslog::testing;

TEST_CASE("LocalZone agrees with localtime_r, across DST changes, from its caches") {
  useTestZone();
  LocalZone zone = LocalZone::system();
  // Every 47 minutes over three years, so that every cache entry is reused and replaced.
  for (int64_t t = utcMillis(2023, 1, 1, 0, 0, 0); t < utcMillis(2026, 1, 1, 0, 0, 0);
       t += int64_t{47} * 60'000) {
    const time_t s = static_cast<time_t>(t / 1000);
    struct tm tm {};
    ::localtime_r(&s, &tm);
    REQUIRE(zone.offsetAt(t) == tm.tm_gmtoff * 1000LL);
    // A wall time that exists once maps back to its instant.
    const int64_t wall = zone.utcToWall(t);
    if (zone.offsetAt(t - int64_t{3} * 3'600'000) == zone.offsetAt(t + int64_t{3} * 3'600'000))
      REQUIRE(zone.wallToUtc(wall) == t);
  }
}

TEST_CASE("LocalZone reads a gap and an overlap as standard time, as GregorianCalendar does") {
  useTestZone();
  LocalZone zone = LocalZone::system();
  // New York: 10 March 2024 02:00 -> 03:00 (gap), 3 November 2024 02:00 -> 01:00 (overlap).
  ::setenv("TZ", "America/New_York", 1);
  ::tzset();
  LocalZone ny = LocalZone::system();
  CHECK(ny.wallToUtc(utcMillis(2024, 3, 10, 2, 30, 0)) == utcMillis(2024, 3, 10, 7, 30, 0));
  CHECK(ny.wallToUtc(utcMillis(2024, 11, 3, 1, 30, 0)) == utcMillis(2024, 11, 3, 6, 30, 0));
  CHECK(ny.wallToUtc(utcMillis(2024, 11, 3, 0, 59, 0)) == utcMillis(2024, 11, 3, 4, 59, 0));
  CHECK(ny.wallToUtc(utcMillis(2024, 3, 10, 3, 0, 0)) == utcMillis(2024, 3, 10, 7, 0, 0));
  useTestZone();
  CHECK(zone.wallToUtc(utcMillis(2024, 3, 31, 2, 0, 0)) == utcMillis(2024, 3, 31, 1, 0, 0));
  CHECK(LocalZone::fixed(3600).wallToUtc(utcMillis(2024, 1, 1, 1, 0, 0)) ==
        utcMillis(2024, 1, 1, 0, 0, 0));
  CHECK(LocalZone::fixed(-1800).offsetAt(0) == -1'800'000);
}

TEST_CASE("GregorianCalendar's lenient fields and the Julian calendar") {
  CHECK(javaLenientWallMillis(2012, 13, 1, 0, 0, 0, 0) == utcMillis(2013, 1, 1, 0, 0, 0));
  CHECK(javaLenientWallMillis(2012, 0, 1, 0, 0, 0, 0) == utcMillis(2011, 12, 1, 0, 0, 0));
  CHECK(javaLenientWallMillis(2012, 3, 0, 0, 0, 0, 0) == utcMillis(2012, 2, 29, 0, 0, 0));
  CHECK(javaLenientWallMillis(2012, 2, 30, 0, 0, 0, 0) == utcMillis(2012, 3, 1, 0, 0, 0));
  CHECK(javaLenientWallMillis(2012, 12, 31, 99, 99, 99, 999) ==
        utcMillis(2013, 1, 4, 4, 40, 39, 999));
  // 4 October 1582 (Julian) is followed by 15 October 1582 (Gregorian).
  CHECK(javaLenientWallMillis(1582, 10, 15, 0, 0, 0, 0) -
            javaLenientWallMillis(1582, 10, 4, 0, 0, 0, 0) ==
        86'400'000);
  CHECK(javaLenientWallMillis(1582, 10, 15, 0, 0, 0, 0) == -12'219'292'800'000);
  CHECK(javaLenientWallMillis(1000, 1, 1, 0, 0, 0, 0) == -30'609'792'000'000);
  CHECK(daysFromJulian(1582, 10, 5) == daysFromCivil(1582, 10, 15));
}

TEST_CASE("Calendar.add(MONTH) and (YEAR) pin the day of month") {
  CivilTime t;
  t.year = 2024;
  t.month = 3;
  t.day = 31;
  CHECK(addMonths(t, -1).day == 29);
  CHECK(addMonths(t, -1).month == 2);
  CHECK(addMonths(t, 11).year == 2025);
  CHECK(addMonths(t, 11).month == 2);
  CHECK(addMonths(t, 11).day == 28);
  t.month = 2;
  t.day = 29;
  CHECK(withYear(t, 2025).day == 28);
  CHECK(withYear(t, 2028).day == 29);
  const CivilTime c = civilFromWallMillis(utcMillis(1969, 12, 31, 23, 59, 58, 7));
  CHECK(c.year == 1969);
  CHECK(c.day == 31);
  CHECK(c.second == 58);
  CHECK(c.millis == 7);
  CHECK(wallMillisOf(c) == utcMillis(1969, 12, 31, 23, 59, 58, 7));
}

TEST_CASE("appendJavaUtf8 replaces malformed UTF-8 as the JDK's decoder cuts it") {
  auto java = [](std::string_view in) {
    std::string out;
    appendJavaUtf8(in, out);
    return out;
  };
  const std::string R = "\xEF\xBF\xBD";
  CHECK(java("caf\xC3\xA9 \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xF0\x9F\x98\x80");  // well-formed
  CHECK(java("a\x80z") == "a" + R + "z");                     // a lone continuation byte
  CHECK(java("\xC0\xAF") == R + R);                           // C0 is never a lead byte
  CHECK(java("\xE2\x82z") == R + "z");                        // a cut 3-byte sequence: one U+FFFD
  CHECK(java("\xE0\x80\x80") == R + R + R);                   // overlong: each byte
  CHECK(java("\xED\xA0\x80") == R);                           // a surrogate: one for three bytes
  CHECK(java("\xF0\x9F\x98z") == R + "z");                    // a cut 4-byte sequence
  CHECK(java("\xF4\x90\x80\x80") == R + R + R + R);           // above U+10FFFF
  CHECK(java("\xF0\x9F\xE2\x82\xAC") == R + "\xE2\x82\xAC");  // then a good one
  CHECK(java("ab\xE2\x82") == "ab" + R);                      // cut at the end: one for the rest
  CHECK(java("ab\xF0\x9F\x98") == "ab" + R);
  CHECK(java("ab\xF0\x20") == "ab" + R + " ");
  CHECK(java("\xFF\xFE") == R + R);
}

TEST_CASE("javaParseInt as Integer.parseInt") {
  CHECK(javaParseInt("13") == 13);
  CHECK(javaParseInt("+13") == 13);
  CHECK(javaParseInt("-0") == 0);
  CHECK(javaParseInt("\xD9\xA1\xD9\xA3") == 13);          // Arabic-Indic
  CHECK(javaParseInt("\xEF\xBC\x91\xEF\xBC\x92") == 12);  // fullwidth
  CHECK(javaParseInt("2147483647") == 2147483647);
  CHECK(javaParseInt("-2147483648") == -2147483648LL);
  CHECK_FALSE(javaParseInt("2147483648"));
  CHECK_FALSE(javaParseInt(""));
  CHECK_FALSE(javaParseInt("+"));
  CHECK_FALSE(javaParseInt("1a"));
  CHECK_FALSE(javaParseInt(" 1"));
  CHECK_FALSE(javaParseInt("\xF0\x9D\x9F\x8E"));  // a digit outside the BMP: two chars to Java
}

TEST_CASE("UTF-16 positions") {
  CHECK(utf16Units("abc") == 3);
  CHECK(utf16Units("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80") == 4);
  CHECK(advanceUtf16("\xC3\xA9x", 1) == 2);
  CHECK(advanceUtf16("\xF0\x9F\x98\x80x", 2) == 4);
  CHECK(advanceUtf16("ab", 3) == std::string_view::npos);
  CHECK(advanceUtf16("ab", 2) == 2);
}
