#pragma once
// Cutting syslog messages out of a TCP byte stream (and out of UDP datagrams), incrementally and
// without copying: the caller offers the bytes it has not had consumed yet, with new bytes
// appended as they arrive (the network layer's contract: plugins/common/net keeps the unconsumed
// tail and offers it again in front of the next read), and gets one message per step. The
// message points into the offered bytes. A caller never has to keep more than maxKeptBytes().
//
// Two framers, one per Flume code path, because Flume frames differently in each:
//  - UtilsFramer: syslogtcp. Flume's SyslogUtils.extractEvent byte machine: leading '\n's are
//    skipped, a '\n' inside "<...>" is part of a (then invalid) priority, a message ends at '\n'
//    or, once it holds eventSize bytes, is cut there (Incomplete) and the rest continues as the
//    next message.
//  - LineFramer: multiport_syslogtcp. Flume's LineSplitter: a line ends at '\n' if that is among
//    its first eventSize bytes, else eventSize bytes are cut off (Incomplete) and the rest
//    continues as the next line.
// Both also accept RFC 6587 octet counting ("LEN SP MSG"), detected at the start of each message
// as rsyslog and syslog-ng send it; see README.md ("Framing") for the rules and errors.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "syslog/syslog_common.hpp"

namespace sluice::plugins::syslog {

enum class Framing {
  Auto,         // newline framing, and RFC 6587 octet counting where a message starts "LEN SP"
  NewlineOnly,  // only Flume's newline framing (a message starting with digits is just a line)
};

struct FramerOptions {
  int eventSize = kDefaultEventSize;
  Framing framing = Framing::Auto;
  // An octet count above this is a framing error: the stream cannot be resynchronised, so the
  // caller should close the connection. Counts above eventSize but within this are cut into
  // pieces like an over-long line.
  std::size_t maxFrameLength = 64u << 20;
};

struct FrameStep {
  enum Kind {
    Message,   // `message` is complete; drop `consumed` bytes and call again
    NeedMore,  // drop `consumed` bytes, keep the rest, call again when more arrived
    Error,     // a bad octet count (`error` says why): close the connection
  };
  Kind kind = NeedMore;
  std::size_t consumed = 0;
  syslog::Message message;
  const char* error = nullptr;
};

// Counters a source may expose (cumulative, per framer).
struct FramerStats {
  uint64_t octetFrames = 0;      // messages that came octet-counted
  uint64_t oversizedFrames = 0;  // octet counts above eventSize (cut into pieces)
  uint64_t badCounts = 0;        // framing errors (connection to be closed)
  uint64_t incomplete = 0;       // messages cut at eventSize
  uint64_t emptyLines = 0;       // LineFramer: empty lines skipped (Flume 1.11 throws on them)
};

// What both framers keep of the message being read, and the RFC 6587 octet count that may open
// it. Per connection. Not thread-safe.
class FramerState {
 public:
  // What the connection still holds of an unfinished message when it closes. Flume drops it.
  bool pending() const noexcept { return active_; }
  // Bytes a caller must be able to keep (an unfinished message plus an octet count).
  std::size_t maxKeptBytes() const noexcept { return maxSize_ + 12; }
  const FramerStats& stats() const noexcept { return stats_; }

 protected:
  FramerState(std::size_t maxSize, const FramerOptions& options) noexcept
      : maxSize_(maxSize), framing_(options.framing), maxFrame_(options.maxFrameLength) {}
  void resetState() noexcept {
    active_ = continuation_ = inFrame_ = false;
    frameLeft_ = scanned_ = 0;
  }
  // At the first byte of a message, view[*base]: with Framing::Auto, and unless the message is
  // the rest of a cut line, an octet count "LEN SP" there opens a frame (*base moves past it).
  // A step to return as it is when the count is undecided (NeedMore) or too large (Error).
  // Inline up to the first byte: most messages start with '<', and the test runs per message.
  std::optional<FrameStep> openFrame(std::string_view view, std::size_t* base) noexcept {
    const char first = view[*base];
    if (framing_ != Framing::Auto || continuation_ || first < '1' || first > '9') return {};
    return openCountedFrame(view, base);
  }
  std::optional<FrameStep> openCountedFrame(std::string_view view, std::size_t* base) noexcept;

  std::size_t maxSize_;
  Framing framing_;
  std::size_t maxFrame_;
  FramerStats stats_;
  // The message being read. Its bytes start at view[0] once active_ (what came before it, a
  // skipped '\n' or an octet count, was consumed).
  bool active_ = false;
  bool continuation_ = false;  // the rest of a line cut at eventSize: no octet count here
  bool inFrame_ = false;
  std::size_t frameLeft_ = 0;  // frame bytes from view[0] on
  std::size_t scanned_ = 0;    // bytes of the message already looked at
};

class UtilsFramer : public FramerState {
 public:
  explicit UtilsFramer(const FramerOptions& options);

  // view: the bytes not consumed yet, starting where the previous step's `consumed` ended.
  FrameStep next(std::string_view view);
  void reset() noexcept;

 private:
  void startMessage() noexcept;
  FrameStep emit(std::string_view view, std::size_t base, std::size_t end, std::size_t consumed,
                 bool incomplete);

  enum class Mode : uint8_t { Start, Prio, Data } mode_ = Mode::Start;
  bool bad_ = false;
  uint8_t prioDigits_ = 0;
};

class LineFramer : public FramerState {
 public:
  explicit LineFramer(const FramerOptions& options);

  FrameStep next(std::string_view view);
  void reset() noexcept { resetState(); }
};

// A syslogudp datagram as Flume's SyslogUtils (in UDP mode) reads it: leading '\n's skipped, the
// message ends at the first '\n' after the priority (the rest of the datagram is dropped) or at
// the datagram's end. nullopt where Flume's buildEvent throws and drops the datagram: nothing but
// newlines, or a '<' with no digits before the end.
std::optional<Message> frameDatagram(std::string_view datagram, int eventSize = kUdpEventSize);

// Offers arbitrary chunks to a framer for callers that cannot keep the unconsumed tail
// themselves (tests, fuzzing, tools): it keeps it, bounded by the framer's maxKeptBytes().
template <class Framer>
class BufferedFramer {
 public:
  explicit BufferedFramer(const FramerOptions& options) : framer_(options) {}

  // Appends chunk and calls onMessage(const Message&) for each complete message. false on a
  // framing error (the rest of the stream is then ignored).
  template <class F>
  bool feed(std::string_view chunk, F&& onMessage) {
    if (failed_) return false;
    kept_.append(chunk);
    std::size_t off = 0;
    while (true) {
      const FrameStep s = framer_.next(std::string_view(kept_).substr(off));
      if (s.kind == FrameStep::Error) {
        failed_ = true;
        kept_.clear();
        return false;
      }
      off += s.consumed;
      if (s.kind == FrameStep::NeedMore) break;
      onMessage(s.message);
    }
    kept_.erase(0, off);
    return true;
  }
  std::size_t kept() const noexcept { return kept_.size(); }
  Framer& framer() noexcept { return framer_; }

 private:
  Framer framer_;
  std::string kept_;
  bool failed_ = false;
};

}  // namespace sluice::plugins::syslog
