#pragma once
// Writing a sink's batches to a local file so that a failed batch leaves nothing behind: write
// all of a batch or report the error, and cut the file back to the bytes of its last committed
// batch when a write or the channel commit failed (the events come again from the channel).
// Also the serializers both offer (Flume's TEXT, HEADER_AND_TEXT and avro_event, by the spellings a
// config may use), and the repair of a file that a crash left with part of an uncommitted batch at
// its end. Shared by the file_roll and hdfs sinks; header-only, compiled
// into each plugin that uses it.

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "avro_container.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "text_util.hpp"

namespace sluice::plugins::file_output {

// Flume's serializer builder classes, accepted as spellings of TEXT, HEADER_AND_TEXT and
// avro_event.
inline constexpr const char* kTextBuilder =
    "org.apache.flume.serialization.BodyTextEventSerializer$Builder";
inline constexpr const char* kHeaderAndTextBuilder =
    "org.apache.flume.serialization.HeaderAndBodyTextEventSerializer$Builder";
inline constexpr const char* kAvroBuilder =
    "org.apache.flume.serialization.FlumeEventAvroEventSerializer$Builder";

// For config values (ASCII lower case, without surrounding blanks and tabs) and error messages.
using text::errnoText;
using text::lower;
using text::trimmed;

// Flume's EventSerializerType plus the builder classes: the values of a sink's serializer key.
// The host has checked a configured value against serializerSpellings(), case-insensitively.
enum class Serializer { Text, HeaderAndText, AvroEvent };
inline std::vector<std::string> serializerSpellings() {
  return {"TEXT", "HEADER_AND_TEXT", "avro_event", kTextBuilder, kHeaderAndTextBuilder, kAvroBuilder};
}
// For a sink configured without the host's factory (unit tests, benches): the value of its
// serializer key must then be a built-in, since only the host makes serializer plugins. Throws
// the error the host's enum check gives.
inline void requireBuiltinSerializer(const sdk::Context& context, const std::string& key) {
  const std::string v = lower(trimmed(context.getString(key, "")));
  std::string all;
  for (const auto& s : serializerSpellings()) {
    if (lower(s) == v) return;
    all += (all.empty() ? "" : ", ") + s;
  }
  context.fail(key, "expected one of " + all + ", got '" + context.getString(key, "") + "'");
}
inline Serializer serializerFromName(std::string_view value) {
  const std::string v = lower(trimmed(value));
  if (v == "avro_event" || v == lower(kAvroBuilder)) return Serializer::AvroEvent;
  if (v == "header_and_text" || v == lower(kHeaderAndTextBuilder)) return Serializer::HeaderAndText;
  return Serializer::Text;
}

// One event as TEXT writes it (the body, then a newline when asked) or as HEADER_AND_TEXT: first
// the headers as Java prints a Map, "{k1=v1, k2=v2}", and a space. Flume's headers are a HashMap,
// so their order in its files is the hash table's; sluice writes them in the event's order.
inline void appendTextRecord(std::string& out, const sdk::Event& e, Serializer serializer,
                             bool appendNewline) {
  if (serializer == Serializer::HeaderAndText) {
    out.push_back('{');
    bool first = true;
    for (const auto& [k, v] : e.headers) {
      if (!first) out.append(", ");
      first = false;
      out.append(k).push_back('=');
      out.append(v);
    }
    out.append("} ");
  }
  out.append(e.body);
  if (appendNewline) out.push_back('\n');
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

// How the records of a file end, so that a crash repair can find the last complete one.
enum class RecordFormat {
  Lines,          // every event ends with '\n' (TEXT with appendNewline)
  AvroContainer,  // an Avro object container: events in blocks, each ended by the sync marker
  Opaque,         // no boundary can be told (TEXT without newline, compressed streams): keep all
};

inline const char* formatName(RecordFormat f) {
  switch (f) {
    case RecordFormat::Lines: return "lines";
    case RecordFormat::AvroContainer: return "avro";
    case RecordFormat::Opaque: break;
  }
  return "opaque";
}

inline RecordFormat formatFromName(const std::string& name) {
  if (name == "lines") return RecordFormat::Lines;
  if (name == "avro") return RecordFormat::AvroContainer;
  return RecordFormat::Opaque;
}

// The length of the longest prefix of the open file fd (of `size` bytes) that ends at a record
// boundary. Returns -1 and sets *error on a read error or when an Avro file has no Avro header.
inline int64_t completePrefix(int fd, int64_t size, RecordFormat format, const std::string& path,
                              std::string* error) {
  if (format == RecordFormat::Opaque) return size;
  if (format == RecordFormat::AvroContainer) {
    const int64_t n = avro::completeContainerPrefix([&](uint64_t off, char* buf, std::size_t len) {
      ssize_t r;
      do r = ::pread(fd, buf, len, static_cast<off_t>(off));
      while (r < 0 && errno == EINTR);
      return static_cast<int64_t>(r);
    });
    if (n == -1) *error = "cannot read '" + path + "': " + errnoText(errno);
    if (n == -2) *error = "'" + path + "' is not an Avro container file; left as it is";
    return n < 0 ? -1 : std::min(n, size);
  }
  char buf[65536];
  int64_t keep = size;
  while (keep > 0) {
    const int64_t from = keep > int64_t(sizeof buf) ? keep - int64_t(sizeof buf) : 0;
    const ssize_t n = ::pread(fd, buf, static_cast<std::size_t>(keep - from), from);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = "cannot read '" + path + "': " + errnoText(n < 0 ? errno : EIO);
      return -1;
    }
    if (const void* nl = ::memrchr(buf, '\n', static_cast<std::size_t>(n)))
      return from + (static_cast<const char*>(nl) - buf) + 1;
    keep = from;
  }
  return 0;
}

// Cuts a file that a crashed writer left behind back to its last complete record: what follows
// is part of a batch whose take never committed, so the channel delivers it again. *cut gets the
// number of bytes removed. Returns false with *error when the file cannot be read or cut.
inline bool cutTornTail(const std::string& path, RecordFormat format, int64_t* cut,
                        std::string* error) {
  *cut = 0;
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open '" + path + "': " + errnoText(errno);
    return false;
  }
  const off_t size = ::lseek(fd, 0, SEEK_END);
  int64_t keep = size < 0 ? -1 : completePrefix(fd, size, format, path, error);
  if (size < 0) *error = "cannot read '" + path + "': " + errnoText(errno);
  bool ok = keep >= 0;
  if (ok && keep < size) {
    if (::ftruncate(fd, keep) == 0) {
      *cut = size - keep;
    } else {
      *error = "cannot cut '" + path + "' back to " + std::to_string(keep) +
               " bytes: " + errnoText(errno);
      ok = false;
    }
  }
  ::close(fd);
  return ok;
}

}  // namespace sluice::plugins::file_output
