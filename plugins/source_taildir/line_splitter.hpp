#pragma once
// Turning file bytes into events: LineSplitter (plugins/common/lines.hpp) finds lines (memchr, a
// cap on the length) and Multiline joins lines into one event (Filebeat's multiline.* settings).
// Both are pure: no I/O, no clock, so the unit tests and the fuzz target drive them directly. One
// instance per tailed file, used only on the source's reader thread.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "java_regex.hpp"
#include "lines.hpp"

namespace sluice::plugins::taildir {

// The splitter is shared with the netcat source (plugins/common/lines.hpp).
using lines::Line;
using lines::LineSplitter;

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
