#pragma once
// Time zones for hdfs.timeZone, thread-safe and without touching the process-wide TZ variable.
//
// libstdc++ 12 (Debian 12) has no std::chrono::tzdb, and localtime_r only knows the one zone set
// by TZ, so a zone other than local time is read from the tz database's compiled files
// (/usr/share/zoneinfo/<Name>, TZif format, RFC 8536) once, at configure time. Lookups are a
// binary search over the transition times; the object is immutable after construction, so any
// number of threads may share it.
//
// Limit: Debian's tzdata ships "fat" files whose transitions run to 2037; after the last
// transition the last offset stays in force (the POSIX rule in the file's footer is not applied).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::plugins::hdfs {

class TimeZone {
 public:
  // The process's local time (localtime_r: TZ or /etc/localtime), as Flume's default.
  static TimeZone local();
  static TimeZone utc();
  static TimeZone fixed(int32_t offsetSeconds, std::string name);
  // "UTC", "GMT", "GMT+08:00", "UTC-5", or an IANA name such as "America/New_York" read from
  // zoneinfoDir. Throws std::invalid_argument with the reason when the name is unknown.
  static TimeZone parse(std::string_view name,
                        const std::string& zoneinfoDir = "/usr/share/zoneinfo");
  // Parses TZif bytes (version 1 or 2+). Throws std::invalid_argument when malformed.
  static TimeZone fromTzif(std::string_view bytes, std::string name);

  // Seconds east of UTC in force at the given instant.
  int32_t offsetAt(int64_t unixSeconds) const noexcept;
  const std::string& name() const noexcept { return name_; }

 private:
  enum class Kind { Local, Fixed, Table };
  Kind kind_ = Kind::Fixed;
  std::string name_;
  int32_t fixed_ = 0;                 // Fixed; Table: the offset before the first transition
  std::vector<int64_t> transitions_;  // Table: ascending
  std::vector<int32_t> offsets_;      // Table: offset from transitions_[i] on
};

}  // namespace sluice::plugins::hdfs
