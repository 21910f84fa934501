#pragma once
// Writing a sink's batches to a local file so that a failed batch leaves nothing behind: write
// all of a batch or report the error, and cut the file back to the bytes of its last committed
// batch when a write or the channel commit failed (the events come again from the channel).
// Also the config spellings both accept. Shared by the file_roll and hdfs sinks; header-only,
// compiled into each plugin that uses it.

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace sluice::plugins::file_output {

// Flume's serializer builder classes, accepted as spellings of TEXT and avro_event.
inline constexpr const char* kTextBuilder =
    "org.apache.flume.serialization.BodyTextEventSerializer$Builder";
inline constexpr const char* kAvroBuilder =
    "org.apache.flume.serialization.FlumeEventAvroEventSerializer$Builder";

// For config values: ASCII lower case, and without surrounding blanks and tabs.
inline std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
inline std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

inline std::string errnoText(int err) {
  char buf[256];
  return ::strerror_r(err, buf, sizeof buf);  // GNU variant: thread-safe, returns the text
}

// Writes all of [p, p + n) to fd, retrying short writes and EINTR. On failure sets *error
// ("cannot write to '<path>': <errno text>") and returns false; part of the bytes may be written.
inline bool writeAll(int fd, const char* p, std::size_t n, const std::string& path,
                     std::string* error) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= static_cast<std::size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    *error = "cannot write to '" + path + "': " + errnoText(w < 0 ? errno : EIO);
    return false;
  }
  return true;
}

// Cuts the file back to its first `committed` bytes and puts the write offset there, dropping a
// failed batch (all of it or the part a failed write left). Unconditional: a failed write may
// have written some bytes. On failure sets *error naming the file and returns false.
inline bool cutBack(int fd, uint64_t committed, const std::string& path, std::string* error) {
  if (::ftruncate(fd, static_cast<off_t>(committed)) != 0 ||
      ::lseek(fd, static_cast<off_t>(committed), SEEK_SET) < 0) {
    *error = "cannot cut '" + path + "' back to " + std::to_string(committed) +
             " bytes; it may end with part of a failed batch: " + errnoText(errno);
    return false;
  }
  return true;
}

}  // namespace sluice::plugins::file_output
