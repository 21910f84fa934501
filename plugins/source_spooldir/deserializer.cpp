#include "deserializer.hpp"

#include <algorithm>
#include <cstring>

namespace sluice::plugins::spooldir {

namespace {

using charset::utf8CharCount;
using charset::utf8SeqLen;

}  // namespace

LineDeserializer::LineDeserializer(Decoder& decoder, DecodeErrorPolicy policy,
                                   std::size_t maxLineLength)
    : decoder_(decoder),
      policy_(policy),
      maxLineLength_(std::max<std::size_t>(1, maxLineLength)),
      cap_(4 * std::max<std::size_t>(1, maxLineLength) + 8) {}

Step LineDeserializer::step(std::string_view window, bool eof, sdk::EventBatch& out) {
  if (window.empty()) return Step{eof ? Step::End : Step::NeedMore, 0, 0};
  if (!decoder_.isUtf8()) return viaDecoder(window, eof, out);

  const std::size_t searched = std::min(window.size(), cap_ + 1);
  const char* nl = static_cast<const char*>(std::memchr(window.data(), '\n', searched));
  std::string_view line;
  bool hasNewline = false, complete = true;
  if (nl && static_cast<std::size_t>(nl - window.data()) <= cap_) {
    line = window.substr(0, static_cast<std::size_t>(nl - window.data()));
    hasNewline = true;
  } else if (window.size() > cap_) {
    line = window.substr(0, cap_);
    complete = false;
  } else if (eof) {
    line = window;
  } else {
    return Step{Step::NeedMore, 0, 0};
  }
  if (complete && line.size() <= maxLineLength_ && isValidUtf8(line)) {
    out.emplace_back().body.assign(line.data(), line.size());
    return Step{Step::Events, line.size() + (hasNewline ? 1 : 0), 0};
  }
  return utf8Slow(line, hasNewline, complete, out);
}

Step LineDeserializer::utf8Slow(std::string_view line, bool hasNewline, bool complete,
                                sdk::EventBatch& out) {
  const std::size_t before = out.size();
  const auto* p = reinterpret_cast<const unsigned char*>(line.data());
  const std::size_t n = line.size();
  std::size_t pos = 0, chars = 0, pieceEnd = 0, pieces = 0;
  std::string cur;
  while (pos < n) {
    bool incomplete = false;
    const std::size_t len = p[pos] < 0x80 ? 1 : utf8SeqLen(p + pos, n - pos, &incomplete);
    if (len) {
      cur.append(line.data() + pos, len);
      pos += len;
      ++chars;
    } else {
      if (incomplete && !complete) break;  // the rest of the character is beyond the window
      if (policy_ == DecodeErrorPolicy::Fail) {
        out.resize(before);
        return Step{Step::BadInput, 0, pos};
      }
      ++replaced_;
      if (policy_ == DecodeErrorPolicy::Replace) {
        cur.append(kReplacement);
        ++chars;
      }
      ++pos;
    }
    if (chars == maxLineLength_) {
      out.emplace_back().body = std::move(cur);
      cur = std::string();
      chars = 0;
      pieceEnd = pos;
      ++pieces;
    }
  }
  if (complete) {
    // The rest of the line; an empty line (or one that was all ignored bytes) is an empty event,
    // as in Flume, but a line that ended exactly at a cut adds nothing.
    if (!cur.empty() || (pieces == 0 && hasNewline)) {
      out.emplace_back().body = std::move(cur);
      ++pieces;
    }
    if (pieces > 1) ++splitLines_;
    const std::size_t consumed = n + (hasNewline ? 1 : 0);
    return Step{pieces ? Step::Events : Step::Skipped, consumed, 0};
  }
  // Cut at the window's cap: keep only whole pieces so the line continues where it was cut.
  ++splitLines_;
  if (pieces > 0) return Step{Step::Events, pieceEnd, 0};
  if (!cur.empty()) {
    out.emplace_back().body = std::move(cur);
    return Step{Step::Events, pos, 0};
  }
  return Step{Step::Skipped, std::max<std::size_t>(pos, 1), 0};
}

Step LineDeserializer::viaDecoder(std::string_view window, bool eof, sdk::EventBatch& out) {
  const std::size_t searched = std::min(window.size(), cap_ + 1);
  const char* nl = static_cast<const char*>(std::memchr(window.data(), '\n', searched));
  std::string_view unit;
  bool hasNewline = false, complete = true;
  if (nl && static_cast<std::size_t>(nl - window.data()) <= cap_) {
    unit = window.substr(0, static_cast<std::size_t>(nl - window.data()));
    hasNewline = true;
  } else if (window.size() > cap_) {
    unit = window.substr(0, cap_);
    complete = false;
  } else if (eof) {
    unit = window;
  } else {
    return Step{Step::NeedMore, 0, 0};
  }
  scratch_.clear();
  std::size_t used = 0, bad = 0;
  if (!decoder_.decode(unit, complete, policy_, scratch_, &used, &bad))
    return Step{Step::BadInput, 0, bad};
  std::size_t consumed =
      complete ? unit.size() + (hasNewline ? 1 : 0) : std::max<std::size_t>(used, 1);
  if (scratch_.empty()) {
    if (hasNewline) {
      out.emplace_back();
      return Step{Step::Events, consumed, 0};
    }
    return Step{Step::Skipped, consumed, 0};
  }
  if (scratch_.size() <= maxLineLength_ || utf8CharCount(scratch_) <= maxLineLength_) {
    out.emplace_back().body = scratch_;
    if (!complete) ++splitLines_;
    return Step{Step::Events, consumed, 0};
  }
  ++splitLines_;
  std::size_t from = 0, chars = 0, i = 0;
  const std::size_t size = scratch_.size();
  while (i < size) {
    ++i;
    while (i < size && (static_cast<unsigned char>(scratch_[i]) & 0xC0) == 0x80) ++i;
    if (++chars == maxLineLength_) {
      out.emplace_back().body.assign(scratch_, from, i - from);
      from = i;
      chars = 0;
    }
  }
  if (from < size) out.emplace_back().body.assign(scratch_, from, size - from);
  return Step{Step::Events, consumed, 0};
}

Step BlobDeserializer::step(std::string_view window, bool eof, sdk::EventBatch& out) {
  if (window.size() >= max_) {
    out.emplace_back().body.assign(window.data(), max_);
    return Step{Step::Events, max_, 0};
  }
  if (!eof) return Step{Step::NeedMore, 0, 0};
  if (window.empty()) return Step{Step::End, 0, 0};
  out.emplace_back().body.assign(window.data(), window.size());
  return Step{Step::Events, window.size(), 0};
}

}  // namespace sluice::plugins::spooldir
