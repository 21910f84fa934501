#include "deserializer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <iconv.h>

#include "text_util.hpp"

namespace sluice::plugins::spooldir {

namespace {

// Length of the well-formed UTF-8 sequence at p (n bytes available), or 0 when the byte at p
// starts no well-formed sequence. *incomplete: p holds a valid prefix cut off by the end.
inline std::size_t seqLen(const unsigned char* p, std::size_t n, bool* incomplete) noexcept {
  *incomplete = false;
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  std::size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (std::size_t i = 1; i < len; ++i) {
    if (i >= n) {
      *incomplete = true;
      return 0;
    }
    const unsigned char b = p[i];
    if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return 0;
  }
  return len;
}

// Characters in a well-formed UTF-8 string.
inline std::size_t charCount(std::string_view s) noexcept {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

using text::upper;

class Utf8Decoder final : public Decoder {
 public:
  bool isUtf8() const noexcept override { return true; }
  bool decode(std::string_view in, bool final, DecodeErrorPolicy policy, std::string& out,
              std::size_t* used, std::size_t* badOffset) override {
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    const std::size_t n = in.size();
    std::size_t pos = 0, runStart = 0;
    while (pos < n) {
      if (p[pos] < 0x80) {
        ++pos;
        continue;
      }
      bool incomplete = false;
      const std::size_t len = seqLen(p + pos, n - pos, &incomplete);
      if (len) {
        pos += len;
        continue;
      }
      out.append(in.data() + runStart, pos - runStart);
      if (incomplete && !final) {
        *used = pos;
        return true;
      }
      if (policy == DecodeErrorPolicy::Fail) {
        *used = pos;
        *badOffset = pos;
        return false;
      }
      if (policy == DecodeErrorPolicy::Replace) out.append(kReplacement);
      ++pos;
      runStart = pos;
    }
    out.append(in.data() + runStart, n - runStart);
    *used = n;
    return true;
  }
};

class IconvDecoder final : public Decoder {
 public:
  explicit IconvDecoder(iconv_t cd) : cd_(cd) {}
  ~IconvDecoder() override { ::iconv_close(cd_); }
  bool isUtf8() const noexcept override { return false; }
  bool decode(std::string_view in, bool final, DecodeErrorPolicy policy, std::string& out,
              std::size_t* used, std::size_t* badOffset) override {
    ::iconv(cd_, nullptr, nullptr, nullptr, nullptr);  // initial shift state
    char* ip = const_cast<char*>(in.data());
    std::size_t il = in.size();
    const std::size_t base = out.size();
    std::size_t written = base;
    out.resize(base + in.size() * 2 + 16);
    while (il > 0) {
      char* op = out.data() + written;
      std::size_t ol = out.size() - written;
      const std::size_t r = ::iconv(cd_, &ip, &il, &op, &ol);
      written = static_cast<std::size_t>(op - out.data());
      if (r != static_cast<std::size_t>(-1)) break;
      const int e = errno;
      if (e == E2BIG) {
        out.resize(out.size() * 2 + 16);
        continue;
      }
      if (e == EINVAL && !final) break;  // incomplete character at the end: leave it
      // EILSEQ (or EINVAL at the very end): one undecodable byte.
      if (policy == DecodeErrorPolicy::Fail) {
        out.resize(written);
        *used = static_cast<std::size_t>(ip - in.data());
        *badOffset = *used;
        return false;
      }
      if (policy == DecodeErrorPolicy::Replace) {
        if (out.size() - written < kReplacement.size()) out.resize(out.size() * 2 + 16);
        std::memcpy(out.data() + written, kReplacement.data(), kReplacement.size());
        written += kReplacement.size();
      }
      ++ip;
      --il;
      ::iconv(cd_, nullptr, nullptr, nullptr, nullptr);
    }
    if (final) {  // flush a stateful encoding's shift sequence
      char* op = out.data() + written;
      std::size_t ol = out.size() - written;
      if (ol < 16) {
        out.resize(out.size() + 16);
        op = out.data() + written;
        ol = out.size() - written;
      }
      ::iconv(cd_, nullptr, nullptr, &op, &ol);
      written = static_cast<std::size_t>(op - out.data());
    }
    out.resize(written);
    *used = static_cast<std::size_t>(ip - in.data());
    return true;
  }

 private:
  iconv_t cd_;
};

}  // namespace

bool isValidUtf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    bool incomplete = false;
    const std::size_t len = seqLen(p + i, n - i, &incomplete);
    if (!len) return false;
    i += len;
  }
  return true;
}

std::unique_ptr<Decoder> Decoder::open(const std::string& charset, std::string* error) {
  const std::string u = upper(charset);
  if (u == "UTF-8" || u == "UTF8") return std::make_unique<Utf8Decoder>();
  const char* supported =
      "UTF-8, or an ASCII-compatible charset this system's iconv knows (US-ASCII, ISO-8859-1 ... "
      "ISO-8859-15, windows-1250 ... windows-1258, KOI8-R, Shift_JIS, EUC-JP, GB18030, Big5, ...)";
  iconv_t cd = ::iconv_open("UTF-8", charset.c_str());
  if (reinterpret_cast<intptr_t>(cd) == -1) {
    if (error) *error = "unknown charset '" + charset + "'; supported: " + supported;
    return nullptr;
  }
  auto dec = std::make_unique<IconvDecoder>(cd);
  std::string out;
  std::size_t used = 0, bad = 0;
  const std::string probe = "Az09 .\r\n";
  if (!dec->decode(probe, true, DecodeErrorPolicy::Fail, out, &used, &bad) || out != probe) {
    if (error)
      *error = "charset '" + charset +
               "' is not ASCII-compatible (lines could not be split on the byte \\n; UTF-16 and "
               "UTF-32 are not supported); supported: " +
               supported;
    return nullptr;
  }
  return dec;
}

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
    const std::size_t len = p[pos] < 0x80 ? 1 : seqLen(p + pos, n - pos, &incomplete);
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
  if (scratch_.size() <= maxLineLength_ || charCount(scratch_) <= maxLineLength_) {
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
