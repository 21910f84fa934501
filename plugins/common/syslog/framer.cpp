#include "syslog/framer.hpp"

#include <algorithm>
#include <cstring>

namespace sluice::plugins::syslog {

namespace {

// The smallest eventSize with which SyslogUtils' cut is always reached: the priority takes at
// most five bytes ("<" and four characters) before the size is first checked, and the cut
// happens when the size equals eventSize, never above it. (Flume's syslogtcp source sets
// eventSize without SyslogUtils' minimum of 10, so lines below that size may grow unbounded
// there.)
constexpr std::size_t kMinUtilsEventSize = 6;

// RFC 6587 octet counting at view[base]: "LEN SP" with LEN = NONZERO-DIGIT *DIGIT. Returns
// 0: not a count (the message is read as a line); 1: a count, *count and *contentStart set;
// 2: undecided (only digits so far); 3: a count above maxFrame.
int octetCount(std::string_view view, std::size_t base, std::size_t maxFrame, uint64_t* count,
               std::size_t* contentStart) noexcept {
  if (view[base] < '1' || view[base] > '9') return 0;
  // Ten digits at most: beyond that it is a line that starts with a number.
  constexpr std::size_t kMaxDigits = 10;
  std::size_t j = base;
  uint64_t value = 0;
  while (j < view.size() && j - base <= kMaxDigits && isDigit(view[j])) {
    value = value * 10 + static_cast<uint64_t>(view[j] - '0');
    ++j;
  }
  if (j - base > kMaxDigits) return 0;
  if (j == view.size()) return 2;
  if (view[j] != ' ') return 0;
  if (value > maxFrame) return 3;
  *count = value;
  *contentStart = j + 1;
  return 1;
}

}  // namespace

std::optional<FrameStep> FramerState::openCountedFrame(std::string_view view,
                                                       std::size_t* base) noexcept {
  uint64_t count = 0;
  std::size_t content = 0;
  switch (octetCount(view, *base, maxFrame_, &count, &content)) {
    case 1:
      ++stats_.octetFrames;
      if (count > maxSize_) ++stats_.oversizedFrames;
      inFrame_ = true;
      frameLeft_ = count;
      *base = content;
      return std::nullopt;
    case 2:
      return FrameStep{FrameStep::NeedMore, *base, {}, nullptr};
    case 3:
      ++stats_.badCounts;
      return FrameStep{
          FrameStep::Error, 0, {}, "RFC 6587 octet count above the largest frame accepted"};
    default:
      return std::nullopt;
  }
}

UtilsFramer::UtilsFramer(const FramerOptions& o)
    : FramerState(std::max<std::size_t>(kMinUtilsEventSize,
                                        static_cast<std::size_t>(std::max(o.eventSize, 0))),
                  o) {}

void UtilsFramer::reset() noexcept {
  resetState();
  startMessage();
}

void UtilsFramer::startMessage() noexcept {
  mode_ = Mode::Start;
  bad_ = false;
  prioDigits_ = 0;
  scanned_ = 0;
}

FrameStep UtilsFramer::emit(std::string_view view, std::size_t base, std::size_t end,
                            std::size_t consumed, bool incomplete) {
  FrameStep s;
  s.kind = FrameStep::Message;
  s.consumed = consumed;
  s.message.bytes = view.substr(base, end - base);
  s.message.incomplete = incomplete;
  s.message.framed = inFrame_;
  s.message.badPriority = bad_;
  s.message.priorityDigits = prioDigits_;
  if (incomplete) ++stats_.incomplete;
  if (inFrame_ && incomplete) {
    frameLeft_ -= end - base;  // the rest of the frame is the next message
  } else {
    active_ = false;
    continuation_ = !inFrame_ && incomplete;
    inFrame_ = false;
  }
  startMessage();
  return s;
}

FrameStep UtilsFramer::next(std::string_view view) {
  const std::size_t n = view.size();
  std::size_t base = 0;
  if (!active_) {
    // Between messages, SyslogUtils' START state skips '\n' (what a line cut exactly at
    // eventSize leaves behind, and blank lines).
    while (base < n && view[base] == '\n') ++base;
    if (base == n) return FrameStep{FrameStep::NeedMore, base, {}, nullptr};
    if (std::optional<FrameStep> stop = openFrame(view, &base)) return *stop;
    active_ = true;
    startMessage();
  }

  // The priority, byte by byte, as SyslogUtils' PRIO state reads it.
  const std::size_t frameEnd = inFrame_ ? base + frameLeft_ : std::string_view::npos;
  std::size_t i = base + scanned_;
  while (i < n && mode_ != Mode::Data && i != frameEnd) {
    const char c = view[i++];
    if (mode_ == Mode::Start) {
      if (c == '<') {
        mode_ = Mode::Prio;
      } else {
        bad_ = true;
        mode_ = Mode::Data;
      }
    } else if (c == '>') {
      if (!prioDigits_) bad_ = true;
      mode_ = Mode::Data;
    } else if (!isDigit(c) || prioDigits_ == 3) {  // a fourth digit is one too many
      bad_ = true;
      mode_ = Mode::Data;
    } else {
      ++prioDigits_;
    }
  }
  if (i == frameEnd) {
    // The frame ended, possibly inside "<...>": read as SyslogUtils reads the end of a UDP
    // datagram, except that a '<' without digits is Invalid instead of dropped.
    if (mode_ == Mode::Prio && !prioDigits_) bad_ = true;
    return emit(view, base, i, i, false);
  }
  if (mode_ != Mode::Data) {
    scanned_ = i - base;
    return FrameStep{FrameStep::NeedMore, base, {}, nullptr};
  }

  // DATA: the message ends at '\n' (newline framing) or at the frame's end; it is cut when it
  // holds maxSize_ bytes.
  const std::size_t room = maxSize_ - (i - base);
  const std::size_t avail = n - i;
  if (!inFrame_) {
    const std::size_t look = std::min(avail, room);
    if (const void* p = std::memchr(view.data() + i, '\n', look)) {
      const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(p) - view.data());
      return emit(view, base, end, end + 1, false);
    }
    if (avail >= room) return emit(view, base, i + room, i + room, true);
  } else {
    const std::size_t left = frameEnd - i;
    if (left <= room) {
      if (avail >= left) return emit(view, base, frameEnd, frameEnd, false);
    } else if (avail >= room) {
      return emit(view, base, i + room, i + room, true);
    }
  }
  scanned_ = n - base;
  return FrameStep{FrameStep::NeedMore, base, {}, nullptr};
}

LineFramer::LineFramer(const FramerOptions& o)
    : FramerState(std::max<std::size_t>(1, static_cast<std::size_t>(std::max(o.eventSize, 0))), o) {
}

FrameStep LineFramer::next(std::string_view view) {
  const std::size_t n = view.size();
  std::size_t base = 0;
  if (!active_) {
    // An empty line: Flume 1.11's SyslogParser fails on it with StringIndexOutOfBoundsException,
    // which escapes the handler and loses the rest of the read. Skipped and counted instead.
    while (base < n && view[base] == '\n') {
      ++base;
      ++stats_.emptyLines;
    }
    if (base == n) return FrameStep{FrameStep::NeedMore, base, {}, nullptr};
    if (std::optional<FrameStep> stop = openFrame(view, &base)) return *stop;
    active_ = true;
    scanned_ = 0;
  }

  FrameStep s;
  s.kind = FrameStep::Message;
  s.message.framed = inFrame_;
  if (inFrame_) {
    // Pieces of maxSize_ bytes; all but the last are Incomplete.
    const std::size_t piece = std::min(frameLeft_, maxSize_);
    if (n - base < piece) return FrameStep{FrameStep::NeedMore, base, {}, nullptr};
    s.message.bytes = view.substr(base, piece);
    s.message.incomplete = frameLeft_ > maxSize_;
    s.consumed = base + piece;
    frameLeft_ -= piece;
    if (!frameLeft_) active_ = inFrame_ = false;
  } else {
    // LineSplitter: the '\n' must be among the line's first maxSize_ bytes.
    const std::size_t from = base + scanned_;
    const std::size_t to = std::min(n, base + maxSize_);
    if (const void* p = std::memchr(view.data() + from, '\n', to - from)) {
      const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(p) - view.data());
      s.message.bytes = view.substr(base, end - base);
      s.consumed = end + 1;
      continuation_ = false;
    } else if (n - base >= maxSize_) {
      s.message.bytes = view.substr(base, maxSize_);
      s.message.incomplete = true;
      s.consumed = base + maxSize_;
      continuation_ = true;
    } else {
      scanned_ = n - base;
      return FrameStep{FrameStep::NeedMore, base, {}, nullptr};
    }
    active_ = false;
  }
  if (s.message.incomplete) ++stats_.incomplete;
  return s;
}

std::optional<Message> frameDatagram(std::string_view d, int eventSize) {
  const std::size_t maxSize =
      std::max<std::size_t>(kMinUtilsEventSize, static_cast<std::size_t>(std::max(eventSize, 0)));
  const std::size_t n = d.size();
  std::size_t base = 0;
  while (base < n && d[base] == '\n') ++base;
  Message m;
  enum class Mode { Start, Prio, Data } mode = Mode::Start;
  std::size_t i = base;
  while (i < n) {
    const char c = d[i];
    if (mode == Mode::Start) {
      if (c == '<') {
        mode = Mode::Prio;
      } else {
        m.badPriority = true;
        mode = Mode::Data;
      }
    } else if (mode == Mode::Prio) {
      if (c == '>') {
        if (!m.priorityDigits) m.badPriority = true;
        mode = Mode::Data;
      } else if (!isDigit(c) || m.priorityDigits == 3) {
        m.badPriority = true;
        mode = Mode::Data;
      } else {
        ++m.priorityDigits;
      }
    } else {
      if (c == '\n') break;  // the event; the rest of the datagram is dropped
      if (i + 1 - base == maxSize) {
        m.bytes = d.substr(base, i + 1 - base);
        m.incomplete = true;
        return m;
      }
    }
    ++i;
  }
  if (i == base) return std::nullopt;  // nothing but newlines
  if (mode == Mode::Prio && !m.badPriority && !m.priorityDigits) return std::nullopt;
  m.bytes = d.substr(base, i - base);
  return m;
}

}  // namespace sluice::plugins::syslog
