#pragma once
// Parsing of date-time text with a Joda-Time DateTimeFormat pattern, as Flume's
// RegexExtractorInterceptorMillisSerializer does with DateTimeFormat.forPattern(p).parseMillis().
// Only parsing; only the pattern letters below (the README lists them):
//
//   y yyyy  year (yy: two-digit year with Joda's pivot)    H   hour of day 0-23
//   M MM    month number                                   k   clock hour of day 1-24
//   MMM(M)  month name, English (either form parses)       h   clock hour of half day 1-12
//   d dd    day of month                                   K   hour of half day 0-11
//   E EEEE  day-of-week name, English                      a   AM/PM
//   e       day-of-week number (1 = Monday)                m   minute   s  second
//   Z ZZ    offset: Z, +HH, +HHMM or +HH:MM                S   fraction of second (to millis)
//   'text'  literal text ('' is a quote); other non-letters are literals
//
// As Joda: numbers take up to 2 digits (y up to 9, S up to 9) unless the year is followed
// directly by another number, when it takes at most as many digits as the pattern has y's;
// literals and names match case-insensitively; the whole text must be consumed; fields that are
// absent default to 1970-01-01T00:00:00.000. Without Z the text is local time in the process's
// time zone (TZ), as Joda uses the JVM's default zone.
//
// A JodaPattern is immutable; parseMillis() is thread-safe and allocation-free.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::plugins::regexextractor {

class JodaPattern {
 public:
  // nullopt with *error set when the pattern is malformed or uses an unsupported letter.
  // currentYear sets the two-digit-year pivot (Joda: this year - 30); 0 means the current year.
  static std::optional<JodaPattern> compile(std::string_view pattern, std::string* error,
                                            int currentYear = 0);

  // Milliseconds since the epoch for `text`, which must match the whole pattern; false when it
  // does not, or when a field is out of range (month 13, February 30...).
  bool parseMillis(std::string_view text, int64_t* millis) const noexcept;

  const std::string& pattern() const noexcept { return pattern_; }
  bool hasOffset() const noexcept { return hasOffset_; }

 private:
  enum class Kind : uint8_t {
    Literal,
    Year,
    TwoDigitYear,
    Month,
    MonthText,
    Day,
    HourOfDay,
    ClockHourOfDay,
    ClockHourOfHalfday,
    HourOfHalfday,
    HalfDay,
    Minute,
    Second,
    Fraction,
    DayOfWeek,
    DayOfWeekText,
    Offset,
  };
  struct Token {
    Kind kind = Kind::Literal;
    int maxDigits = 2;
    bool lenient = false;  // TwoDigitYear: a longer number is read as a full year
    std::string literal;
  };

  std::string pattern_;
  std::vector<Token> tokens_;
  int pivot_ = 0;
  bool hasOffset_ = false;
};

}  // namespace sluice::plugins::regexextractor
