#pragma once
// Flume's escape sequences for hdfs.path and hdfs.filePrefix (BucketPath.escapeString), as a
// pure function: a template is compiled once into a list of parts, then formatted per event into
// a caller-owned string (no allocation beyond that string's growth).
//
// Escapes (Flume 1.9+; the tokenizer follows Flume's pattern %(\w|%) | %{[\w.-]+} | %[\w+]):
//   %{name}  the value of header `name`, "" when absent
//   %t       the timestamp in ms as written in the header (not rounded)
//   %s       seconds since the epoch (after rounding)
//   %a %A %b %B %c %d %D %e %H %I %j %k %l %m %M %n %p %S %y %Y %z  date parts in hdfs.timeZone,
//            English names, as Java's SimpleDateFormat prints them (see README.md)
//   %%       a literal %
//   %[localhost] %[IP] %[FQDN]  this host's name, address and canonical name (case-insensitive)
//   any other %x: "" (as Flume), reported by unknownEscapes() so configure() can warn
// A '%' that starts no escape is kept as is.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/sdk/event.hpp"
#include "time_zone.hpp"

namespace sluice::plugins::hdfs {

struct HostNames {
  std::string localhost;  // gethostname()
  std::string ip;         // the first address the host name resolves to
  std::string fqdn;       // the canonical name
  // Looks them up once (gethostname, getaddrinfo); falls back to the plain name / 127.0.0.1.
  static HostNames lookup();
};

enum class RoundUnit { Second, Minute, Hour };

struct TimeSettings {
  bool round = false;
  RoundUnit unit = RoundUnit::Second;
  int roundValue = 1;
  bool useLocalTimeStamp = false;
  const TimeZone* zone = nullptr;  // nullptr: UTC
};

// Rounds ms since the epoch down to a multiple of value units, within the unit's parent field in
// the zone's local time (seconds within the minute, minutes within the hour, hours within the
// day), as Flume's TimestampRoundDownUtil does.
int64_t roundDownMillis(int64_t millis, RoundUnit unit, int value, const TimeZone* zone) noexcept;

class PathTemplate {
 public:
  enum class Status { Ok, MissingTimestamp, BadTimestamp };

  // Never fails: every input compiles (the fuzz target checks this).
  static PathTemplate compile(std::string_view text, const HostNames& host);

  // Appends the expansion to out. With a time escape and no useLocalTimeStamp, the "timestamp"
  // header must hold a decimal long (Flume's rule); otherwise MissingTimestamp / BadTimestamp,
  // and out holds a partial expansion the caller discards. nowMillis is used with
  // useLocalTimeStamp. Single-threaded: keeps a one-entry cache of the last second it broke down.
  Status format(const sdk::Headers& headers, int64_t nowMillis, const TimeSettings& settings,
                std::string& out);

  bool usesTime() const noexcept { return usesTime_; }
  bool usesHeaders() const noexcept { return usesHeaders_; }
  // The text before the first escape.
  std::string_view literalPrefix() const noexcept { return literalPrefix_; }
  // Escapes that expand to "" because Flume does not know them, e.g. "%Q", "%[foo]".
  const std::vector<std::string>& unknownEscapes() const noexcept { return unknown_; }

 private:
  enum class Kind : uint8_t { Literal, Header, Time, RawTimestamp, Seconds };
  struct Part {
    Kind kind;
    char code = 0;     // Time: the escape letter
    std::string text;  // Literal: the text; Header: the header name
  };

  std::vector<Part> parts_;
  bool usesTime_ = false;
  bool usesHeaders_ = false;
  std::string literalPrefix_;
  std::vector<std::string> unknown_;

  int32_t offsetFor(const TimeZone* zone, int64_t sec) noexcept;

  // True when the expansion depends only on the (rounded) second: no header, no %t.
  bool cacheable_ = true;
  // One-entry caches: the zone offset of the last UTC second, the whole expansion of the last
  // rounded second (cacheable_ templates), and the last broken-down local second.
  int64_t offsetSecond_ = INT64_MIN;
  const TimeZone* offsetZone_ = nullptr;
  int32_t offsetValue_ = 0;
  int64_t outSecond_ = INT64_MIN;
  const TimeZone* outZone_ = nullptr;
  std::string cachedOut_;
  int64_t cachedLocalSecond_ = INT64_MIN;
  int cachedOffset_ = 0;
  int fields_[8] = {};  // year, mon(0-11), mday, hour, min, sec, wday(0=Sun), yday(0-365)
};

}  // namespace sluice::plugins::hdfs
