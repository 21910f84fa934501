#pragma once
// Splitting a byte stream into lines, shared by the sources that read lines (taildir from files,
// netcat from sockets) so both cut, strip '\r' and truncate the same way. Pure: no I/O, no clock,
// so unit tests and fuzz targets (fuzz_taildir_lines, fuzz_netcat_lines) drive it directly.
// Header-only, compiled into each plugin that uses it. One instance per stream (tailed file or
// connection), used by one thread.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sluice::plugins::lines {

// One line found in the stream. body points into the caller's buffer (or the splitter's kept prefix
// of an over-long line) and is valid only during the callback. [start, end) are stream offsets:
// end is just after the line's '\n' (or at the end of the data for a flushed partial line).
struct Line {
  std::string_view body;
  uint64_t start = 0;
  uint64_t end = 0;
  bool truncated = false;  // longer than maxLineLength; the rest was discarded
  bool partial = false;    // had no newline (flushed at the end of an idle or deleted file)
};

class LineSplitter {
 public:
  explicit LineSplitter(std::size_t maxLineLength) : max_(maxLineLength) {}

  // The stream offset of the next byte scan() expects.
  uint64_t offset() const noexcept { return offset_; }
  // Starts over at an offset (after a rewind or a truncation); forgets an over-long line.
  void reset(uint64_t offset) noexcept {
    offset_ = offset;
    skipping_ = false;
    head_.clear();
  }
  // Inside an over-long line whose newline has not come yet.
  bool skipping() const noexcept { return skipping_; }

  // Scans data[0, len), which starts at stream offset offset(). For each complete line calls
  // onLine(const Line&) -> bool; false stops the scan right after that line. A trailing '\r' is
  // dropped from the body. Returns the bytes consumed: lines handed over plus the discarded middle
  // of an over-long line. The rest (an unfinished line of at most maxLineLength + 1 bytes) must be
  // passed again, with more data after it. With flushPartial, an unfinished last line is handed
  // over too (Flume's taildir does this when it closes an idle file), so everything is consumed.
  template <class F>
  std::size_t scan(const char* data, std::size_t len, bool flushPartial, F&& onLine) {
    std::size_t i = 0;
    while (i < len) {
      const char* p = data + i;
      const std::size_t rest = len - i;
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', rest));
      if (skipping_) {
        if (!nl) return discardRest(len, rest, flushPartial, onLine);
        const std::size_t n = static_cast<std::size_t>(nl - p) + 1;
        offset_ += n;
        i += n;
        skipping_ = false;
        Line l{head_, headStart_, offset_, true};
        if (!onLine(static_cast<const Line&>(l))) return i;
        continue;
      }
      if (!nl) {
        if (rest > max_ + 1) {
          // Too long even if it ends in "\r\n": keep the first max bytes, discard the rest.
          head_.assign(p, max_);
          headStart_ = offset_;
          skipping_ = true;
          return discardRest(len, rest, flushPartial, onLine);
        }
        if (flushPartial) {
          std::size_t bodyLen = rest;
          if (bodyLen > max_) bodyLen = max_;  // rest == max + 1 without a newline
          Line l{std::string_view(p, bodyLen), offset_, offset_ + rest, bodyLen < rest, true};
          offset_ += rest;
          i = len;
          onLine(static_cast<const Line&>(l));
        }
        return i;
      }
      std::size_t bodyLen = static_cast<std::size_t>(nl - p);
      const std::size_t n = bodyLen + 1;
      if (bodyLen > 0 && p[bodyLen - 1] == '\r') --bodyLen;
      bool truncated = false;
      if (bodyLen > max_) {
        bodyLen = max_;
        truncated = true;
      }
      Line l{std::string_view(p, bodyLen), offset_, offset_ + n, truncated};
      offset_ += n;
      i += n;
      if (!onLine(static_cast<const Line&>(l))) return i;
    }
    // The data ended inside an over-long line whose middle was dropped by an earlier scan.
    if (flushPartial && skipping_) flushHead(onLine);
    return i;
  }

 private:
  // Hands over the kept head of an over-long line whose newline did not come, as partial.
  template <class F>
  void flushHead(F& onLine) {
    skipping_ = false;
    Line l{head_, headStart_, offset_, true, true};
    onLine(static_cast<const Line&>(l));
  }

  // The last `rest` bytes of data[0, len) are the middle of an over-long line: discarded (with
  // flushPartial the line ends there). Returns len: everything is consumed.
  template <class F>
  std::size_t discardRest(std::size_t len, std::size_t rest, bool flushPartial, F& onLine) {
    offset_ += rest;
    if (flushPartial) flushHead(onLine);
    return len;
  }

  std::size_t max_;
  uint64_t offset_ = 0;
  bool skipping_ = false;
  std::string head_;  // the kept prefix of an over-long line
  uint64_t headStart_ = 0;
};

}  // namespace sluice::plugins::lines
