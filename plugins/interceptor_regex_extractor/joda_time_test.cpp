#include "joda_time.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

using sluice::plugins::regexextractor::JodaPattern;

namespace {

// The millis for text under pattern, or nullopt when it does not parse.
std::optional<int64_t> parse(const char* pattern, const char* text, int currentYear = 2024) {
  std::string error;
  auto p = JodaPattern::compile(pattern, &error, currentYear);
  REQUIRE_MESSAGE(p, pattern, ": ", error);
  int64_t ms = 0;
  if (!p->parseMillis(text, &ms)) return std::nullopt;
  return ms;
}

std::string compileError(const char* pattern) {
  std::string error;
  CHECK_FALSE(JodaPattern::compile(pattern, &error));
  return error;
}

// Sets TZ for the scope (tests only; TZ is process-wide).
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTz() {
    if (old_)
      setenv("TZ", old_->c_str(), 1);
    else
      unsetenv("TZ");
    tzset();
  }

 private:
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("joda: patterns with an offset") {
  CHECK(parse("yyyy-MM-dd'T'HH:mm:ss.SSSZ", "2024-01-15T10:30:05.123+0100") == 1705311005123);
  CHECK(parse("yyyy-MM-dd'T'HH:mm:ss.SSSZZ", "2024-01-15T10:30:05.123+01:00") == 1705311005123);
  CHECK(parse("yyyy-MM-dd'T'HH:mm:ss.SSSZZ", "2024-01-15T09:30:05.123Z") == 1705311005123);
  CHECK(parse("yyyy-MM-dd HH:mmZ", "2024-01-15 10:30+00") == 1705314600000);
  // Apache's access log time.
  CHECK(parse("dd/MMM/yyyy:HH:mm:ss Z", "10/Oct/2000:13:55:36 -0700") == 971211336000);
  CHECK(parse("yyyy-MM-dd HH:mm:ss.SSSZ", "1969-12-31 23:59:59.999Z") == -1);
  CHECK(parse("yyyy-MM-dd Z", "0001-01-01 Z") == -62135596800000);
  CHECK(parse("yyyy-MM-dd Z", "2024-02-29 Z") == 1709164800000);
}

TEST_CASE("joda: local time in the process's zone") {
  {
    ScopedTz tz("UTC");
    CHECK(parse("yyyy-MM-dd HH:mm", "2024-01-15 10:30") == 1705314600000);
    CHECK(parse("HH:mm", "00:01") == 60000);  // absent fields: 1970-01-01
  }
  {
    ScopedTz tz("Europe/Berlin");
    CHECK(parse("yyyy-MM-dd HH:mm", "2024-07-01 12:00") == 1719828000000);  // CEST, UTC+2
    CHECK(parse("yyyy-MM-dd HH:mm", "2024-01-15 11:30") == 1705314600000);  // CET, UTC+1
  }
}

TEST_CASE("joda: adjacent numbers, names, half days and fractions") {
  CHECK(parse("yyyyMMddHHmmssZ", "20240115103005Z") == 1705314605000);
  CHECK(parse("dd MMM yyyy HH:mm Z", "15 jan 2024 10:30 Z") == 1705314600000);
  CHECK(parse("dd MMM yyyy HH:mm Z", "15 JANUARY 2024 10:30 Z") == 1705314600000);
  CHECK(parse("dd MMMM yyyy HH:mm Z", "15 January 2024 10:30 Z") == 1705314600000);
  CHECK(parse("d/M/y H:m Z", "15/1/2024 10:30 Z") == 1705314600000);
  CHECK(parse("h:mm a Z", "1:05 PM Z") == (13 * 60 + 5) * 60000);
  CHECK(parse("h:mm a Z", "12:00 am Z") == 0);
  CHECK(parse("h:mm a Z", "12:30 PM Z") == (12 * 60 + 30) * 60000);
  CHECK(parse("K:mm a Z", "0:30 PM Z") == (12 * 60 + 30) * 60000);
  CHECK(parse("k:mm Z", "24:30 Z") == 30 * 60000);
  CHECK(parse("ss.S Z", "05.5 Z") == 5500);
  CHECK(parse("ss.SSS Z", "05.12 Z") == 5120);
  CHECK(parse("ss.SSSSSS Z", "05.123456 Z") == 5123);
  CHECK(parse("EEE, dd MMM yyyy HH:mm:ss Z", "Mon, 15 Jan 2024 10:30:00 +0000") == 1705314600000);
  // A weekday that disagrees moves the date within its Monday-based week, as Joda does.
  CHECK(parse("EEE dd MMM yyyy HH:mm Z", "Tue 15 Jan 2024 10:30 Z") == 1705401000000);
  CHECK(parse("e dd MMM yyyy HH:mm Z", "1 15 Jan 2024 10:30 Z") == 1705314600000);
  CHECK(parse("yyyy'T'''Z", "1970T'Z") == 0);  // quoted literal and a quote
}

TEST_CASE("joda: two-digit years use Joda's pivot") {
  // Pivot 1994 when the year is 2024: 1944..2043.
  CHECK(parse("yy-MM-dd Z", "43-01-01 Z") == parse("yyyy-MM-dd Z", "2043-01-01 Z"));
  CHECK(parse("yy-MM-dd Z", "44-01-01 Z") == parse("yyyy-MM-dd Z", "1944-01-01 Z"));
  CHECK(parse("yy-MM-dd Z", "99-01-01 Z") == parse("yyyy-MM-dd Z", "1999-01-01 Z"));
  CHECK(parse("yy-MM-dd Z", "00-01-01 Z") == parse("yyyy-MM-dd Z", "2000-01-01 Z"));
  // Not followed by a number: a longer number is a full year.
  CHECK(parse("yy-MM-dd Z", "2024-01-15 Z") == parse("yyyy-MM-dd Z", "2024-01-15 Z"));
  CHECK(parse("yyMMdd Z", "240115 Z") == parse("yyyy-MM-dd Z", "2024-01-15 Z"));
}

TEST_CASE("joda: text that does not fit gives no value") {
  CHECK_FALSE(parse("yyyy-MM-dd Z", "2024-02-30 Z"));
  CHECK_FALSE(parse("yyyy-MM-dd Z", "2023-02-29 Z"));
  CHECK_FALSE(parse("yyyy-MM-dd Z", "2024-13-01 Z"));
  CHECK_FALSE(parse("yyyy-MM-dd Z", "2024-00-10 Z"));
  CHECK_FALSE(parse("HH:mm Z", "24:00 Z"));
  CHECK_FALSE(parse("HH:mm Z", "23:60 Z"));
  CHECK_FALSE(parse("h:mm a Z", "13:00 PM Z"));
  CHECK_FALSE(parse("yyyy-MM-dd Z", "2024-01-15 Z trailing"));
  CHECK_FALSE(parse("yyyy-MM-dd Z", "2024-01-15"));
  CHECK_FALSE(parse("yyyy-MM-dd Z", "2024-01-15 +25"));
  CHECK_FALSE(parse("yyyy-MM-dd Z", "2024-1x-15 Z"));
  CHECK_FALSE(parse("yyyy-MM-dd Z", ""));
  CHECK_FALSE(parse("dd MMM yyyy Z", "15 Foo 2024 Z"));
  CHECK_FALSE(parse("yyyy-MM-dd Z", "２０２４-01-15 Z"));  // only ASCII digits
}

TEST_CASE("joda: unsupported or malformed patterns are errors") {
  CHECK(compileError("") == "the pattern is empty");
  CHECK(compileError("yyyy G") ==
        "pattern letter 'G' is not supported (supported: y M d H k h K a m s S E e Z)");
  CHECK(compileError("D") ==
        "pattern letter 'D' is not supported (supported: y M d H k h K a m s S E e Z)");
  CHECK(compileError("yyyy-bb") == "illegal pattern component: bb");
  CHECK(compileError("HH:mm ZZZ") ==
        "pattern letters 'ZZZ' (time zone id) are not supported; use Z or ZZ");
}
