#pragma once
// Character sets for the sources that take Flume's charset keys (spooldir's inputCharset, the
// multiport syslog source's charset.default / charset.port.<port>): raw bytes of a charset to
// UTF-8 and back, through glibc's iconv for everything but UTF-8, which is checked natively.
// Header-only so that a plugin (and its fuzz targets) get it without a library to link.
//
// Thread safety: a Decoder or Encoder holds an iconv state; use one per thread.

#include <iconv.h>
#include <strings.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::plugins::charset {

enum class DecodeErrorPolicy { Fail, Replace, Ignore };

// The UTF-8 encoding of U+FFFD, what REPLACE puts in place of each undecodable byte.
inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the well-formed UTF-8 sequence at p (n bytes available), or 0 when the byte at p
// starts no well-formed sequence (overlong, surrogate, above U+10FFFF, bad continuation).
// *incomplete: p holds a valid prefix cut off by the end.
inline std::size_t utf8SeqLen(const unsigned char* p, std::size_t n, bool* incomplete) noexcept {
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
inline std::size_t utf8CharCount(std::string_view s) noexcept {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Whether s is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
inline bool isValidUtf8(std::string_view s) noexcept {
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
    const std::size_t len = utf8SeqLen(p + i, n - i, &incomplete);
    if (!len) return false;
    i += len;
  }
  return true;
}

// Whether charset names UTF-8 (the spellings Java's Charset.forName and iconv share).
inline bool isUtf8Name(std::string_view charset) noexcept {
  return (charset.size() == 5 && ::strncasecmp(charset.data(), "UTF-8", 5) == 0) ||
         (charset.size() == 4 && ::strncasecmp(charset.data(), "UTF8", 4) == 0);
}

inline constexpr const char* kSupportedCharsets =
    "UTF-8, or an ASCII-compatible charset this system's iconv knows (US-ASCII, ISO-8859-1 ... "
    "ISO-8859-15, windows-1250 ... windows-1258, KOI8-R, Shift_JIS, EUC-JP, GB18030, Big5, ...)";

// Decodes raw bytes of the input charset to UTF-8. UTF-8 input is validated natively; any other
// charset goes through glibc's iconv and must be ASCII-compatible ('\n' is the byte 0x0A and
// never part of another character), which is checked when it is opened.
class Decoder {
 public:
  // nullptr and *error (listing what works) when the charset is unknown or not ASCII-compatible.
  static std::unique_ptr<Decoder> open(const std::string& charset, std::string* error);
  virtual ~Decoder() = default;

  virtual bool isUtf8() const noexcept = 0;
  // Appends the UTF-8 form of in to out. Undecodable bytes follow the policy: REPLACE appends
  // U+FFFD per byte, IGNORE skips it, FAIL stops and returns false with *badOffset set (out then
  // holds what was decoded before it). When `final` is false, an incomplete character at the end
  // of in is left undecoded: *used tells how many bytes of in were consumed.
  virtual bool decode(std::string_view in, bool final, DecodeErrorPolicy policy, std::string& out,
                      std::size_t* used, std::size_t* badOffset) = 0;
};

namespace detail {

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
      const std::size_t len = utf8SeqLen(p + pos, n - pos, &incomplete);
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
  IconvDecoder(const IconvDecoder&) = delete;
  IconvDecoder& operator=(const IconvDecoder&) = delete;
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

inline bool iconvFailed(iconv_t cd) noexcept { return reinterpret_cast<intptr_t>(cd) == -1; }

}  // namespace detail

inline std::unique_ptr<Decoder> Decoder::open(const std::string& charset, std::string* error) {
  if (isUtf8Name(charset)) return std::make_unique<detail::Utf8Decoder>();
  iconv_t cd = ::iconv_open("UTF-8", charset.c_str());
  if (detail::iconvFailed(cd)) {
    if (error) *error = "unknown charset '" + charset + "'; supported: " + kSupportedCharsets;
    return nullptr;
  }
  auto dec = std::make_unique<detail::IconvDecoder>(cd);
  std::string out;
  std::size_t used = 0, bad = 0;
  const std::string probe = "Az09 .\r\n";
  if (!dec->decode(probe, true, DecodeErrorPolicy::Fail, out, &used, &bad) || out != probe) {
    if (error)
      *error = "charset '" + charset +
               "' is not ASCII-compatible (lines could not be split on the byte \\n; UTF-16 and "
               "UTF-32 are not supported); supported: " +
               kSupportedCharsets;
    return nullptr;
  }
  return dec;
}

// Encodes UTF-8 text into a charset, as Java's String.getBytes(charset) does: a character the
// charset cannot represent becomes '?' (that charset's usual replacement; Java's for most).
// Input that is not well-formed UTF-8 is replaced the same way, byte by byte.
class Encoder {
 public:
  // nullptr and *error when the charset is unknown to iconv. UTF-8 needs no encoder: callers
  // check isUtf8Name() first and copy.
  static std::unique_ptr<Encoder> open(const std::string& charset, std::string* error) {
    iconv_t cd = ::iconv_open(charset.c_str(), "UTF-8");
    if (detail::iconvFailed(cd)) {
      if (error) *error = "unknown charset '" + charset + "'; supported: " + kSupportedCharsets;
      return nullptr;
    }
    return std::unique_ptr<Encoder>(new Encoder(cd));
  }
  ~Encoder() { ::iconv_close(cd_); }
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // Appends the encoding of utf8 to out.
  void encode(std::string_view utf8, std::string& out) {
    ::iconv(cd_, nullptr, nullptr, nullptr, nullptr);
    char* ip = const_cast<char*>(utf8.data());
    std::size_t il = utf8.size();
    std::size_t written = out.size();
    out.resize(written + utf8.size() + 16);
    while (true) {
      char* op = out.data() + written;
      std::size_t ol = out.size() - written;
      const std::size_t r = il ? ::iconv(cd_, &ip, &il, &op, &ol) : 0;
      written = static_cast<std::size_t>(op - out.data());
      if (r != static_cast<std::size_t>(-1)) {
        // Flush a stateful encoding's shift sequence.
        if (out.size() - written < 16) out.resize(out.size() + 16);
        op = out.data() + written;
        ol = out.size() - written;
        ::iconv(cd_, nullptr, nullptr, &op, &ol);
        written = static_cast<std::size_t>(op - out.data());
        break;
      }
      if (errno == E2BIG) {
        out.resize(out.size() * 2 + 16);
        continue;
      }
      // EILSEQ: a character the charset lacks (or a bad byte); EINVAL: a cut sequence at the end.
      // Skip the whole character when it is well-formed, else one byte, and put '?' for it.
      bool incomplete = false;
      const std::size_t len =
          utf8SeqLen(reinterpret_cast<const unsigned char*>(ip), il, &incomplete);
      const std::size_t skip = len ? len : 1;
      ip += skip;
      il -= skip;
      if (out.size() == written) out.resize(out.size() * 2 + 16);
      out[written++] = '?';
    }
    out.resize(written);
  }

 private:
  explicit Encoder(iconv_t cd) : cd_(cd) {}
  iconv_t cd_;
};

}  // namespace sluice::plugins::charset
