#pragma once
// Turning file bytes into events: LineSplitter finds lines (memchr, a cap on the length) and
// Multiline joins lines into one event (Filebeat's multiline.* settings). Both are pure: no I/O,
// no clock, so the unit tests and the fuzz target drive them directly. One instance per tailed
// file, used only on the source's reader thread.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "java_regex.hpp"

namespace sluice::plugins::taildir {

// One line found in a file. body points into the caller's buffer (or the splitter's kept prefix
// of an over-long line) and is valid only during the callback. [start, end) are file offsets:
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

  // The file offset of the next byte scan() expects.
  uint64_t offset() const noexcept { return offset_; }
  // Starts over at a file offset (after a rewind or a truncation); forgets an over-long line.
  void reset(uint64_t offset) noexcept {
    offset_ = offset;
    skipping_ = false;
    head_.clear();
  }
  // Inside an over-long line whose newline has not come yet.
  bool skipping() const noexcept { return skipping_; }

  // Scans data[0, len), which starts at file offset offset(). For each complete line calls
  // onLine(const Line&) -> bool; false stops the scan right after that line. A trailing '\r' is
  // dropped from the body. Returns the bytes consumed: lines handed over plus the discarded middle
  // of an over-long line. The rest (an unfinished line of at most maxLineLength + 1 bytes) must be
  // passed again, with more data after it. With flushPartial, an unfinished last line is handed
  // over too (Flume does this when it closes an idle file), so everything is consumed.
  template <class F>
  std::size_t scan(const char* data, std::size_t len, bool flushPartial, F&& onLine) {
    std::size_t i = 0;
    while (i < len) {
      const char* p = data + i;
      const std::size_t rest = len - i;
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', rest));
      if (skipping_) {
        if (!nl) {
          offset_ += rest;  // the middle of an over-long line: discarded
          i = len;
          if (flushPartial) {
            skipping_ = false;
            Line l{head_, headStart_, offset_, true, true};
            onLine(static_cast<const Line&>(l));
          }
          return i;
        }
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
          offset_ += rest;
          i = len;
          if (flushPartial) {
            skipping_ = false;
            Line l{head_, headStart_, offset_, true, true};
            onLine(static_cast<const Line&>(l));
          }
          return i;
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
    if (flushPartial && skipping_) {
      // The data ended inside an over-long line whose middle was dropped by an earlier scan.
      skipping_ = false;
      Line l{head_, headStart_, offset_, true, true};
      onLine(static_cast<const Line&>(l));
    }
    return i;
  }

 private:
  std::size_t max_;
  uint64_t offset_ = 0;
  bool skipping_ = false;
  std::string head_;  // the kept prefix of an over-long line
  uint64_t headStart_ = 0;
};

struct MultilineSettings {
  std::shared_ptr<const javaregex::Regex> pattern;  // nullptr: multiline is off
  bool negate = false;
  bool matchAfter = true;  // multiline.match = after (else before)
  std::size_t maxLines = 500;
  std::size_t maxBytes = 1 << 20;  // the aggregated body is capped at maxLineLength
};

// One aggregated event.
struct Aggregate {
  std::string body;
  uint64_t start = 0;
  uint64_t end = 0;
  std::size_t lines = 0;
  bool truncated = false;  // lines or bytes beyond the caps were dropped
};

// Filebeat's multiline semantics. A line "continues" when pattern matches XOR negate:
//  - match = after: a continuing line is appended to the event before it; any other line starts
//    a new event (so an event is complete only when the next one starts, or on flush()).
//  - match = before: continuing lines are collected, and the first line that does not continue
//    ends the event.
// Lines after maxLines, and bytes beyond maxBytes, are dropped (the event says truncated).
class Multiline {
 public:
  explicit Multiline(const MultilineSettings& s) : s_(s) {}

  bool pending() const noexcept { return has_; }
  // Offset where the pending event starts (valid when pending()).
  uint64_t pendingStart() const noexcept { return cur_.start; }

  // Feeds one line; calls emit(Aggregate&&) for the event it completes, if any (at most one).
  // Returns the regex error code (< 0) if matching failed (the line then counts as not
  // continuing), else 0.
  template <class F>
  int feed(const Line& line, F&& emit) {
    int err = 0;
    const bool m = s_.pattern->test(line.body, &err) != s_.negate;
    if (s_.matchAfter) {
      if (m && has_) {
        append(line);
      } else {
        if (has_) emit(take());
        start(line);
      }
    } else {
      if (has_)
        append(line);
      else
        start(line);
      if (!m) emit(take());
    }
    return err;
  }

  // Hands over the pending event, if any (timeout, end of a deleted file).
  template <class F>
  void flush(F&& emit) {
    if (has_) emit(take());
  }
  void reset() noexcept {
    has_ = false;
    cur_.body.clear();
  }

 private:
  void start(const Line& line) {
    has_ = true;
    cur_.body.assign(line.body.data(),
                     line.body.size() > s_.maxBytes ? s_.maxBytes : line.body.size());
    cur_.start = line.start;
    cur_.end = line.end;
    cur_.lines = 1;
    cur_.truncated = line.truncated || line.body.size() > s_.maxBytes;
  }
  void append(const Line& line) {
    cur_.end = line.end;
    if (cur_.lines >= s_.maxLines || cur_.body.size() >= s_.maxBytes) {
      cur_.truncated = true;
      return;
    }
    ++cur_.lines;
    cur_.body += '\n';
    std::size_t room = s_.maxBytes - cur_.body.size();
    if (line.body.size() > room) {
      cur_.body.append(line.body.data(), room);
      cur_.truncated = true;
    } else {
      cur_.body.append(line.body.data(), line.body.size());
      if (line.truncated) cur_.truncated = true;
    }
  }
  Aggregate take() {
    has_ = false;
    Aggregate out = std::move(cur_);
    cur_ = Aggregate();
    return out;
  }

  const MultilineSettings& s_;
  bool has_ = false;
  Aggregate cur_;
};

}  // namespace sluice::plugins::taildir
