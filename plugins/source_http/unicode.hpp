#pragma once
// The three character sets Flume's JSONHandler accepts (UTF-8, UTF-16, UTF-32), converted the way
// Java converts them, so that event bodies come out byte for byte as Flume makes them:
//  - decoding (Java's "UTF-16"/"UTF-32" decoders): a byte order mark picks the byte order,
//    big-endian without one; ill-formed input becomes U+FFFD, as the request reader Flume uses
//    replaces it;
//  - encoding (String.getBytes): "UTF-16" writes a big-endian byte order mark (FE FF) and
//    big-endian units (an empty string gives no bytes), "UTF-32" big-endian units, no mark.
// Header-only; no locale, no iconv.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "charset.hpp"
#include "text_util.hpp"

namespace sluice::plugins::http_source::unicode {

enum class Charset { Utf8, Utf16, Utf32 };

// Flume's check: "utf-8", "utf-16" or "utf-32" in any case; anything else is unsupported.
inline std::optional<Charset> charsetNamed(std::string_view name) {
  const std::string n = text::lower(name);
  if (n == "utf-8") return Charset::Utf8;
  if (n == "utf-16") return Charset::Utf16;
  if (n == "utf-32") return Charset::Utf32;
  return std::nullopt;
}

inline constexpr char32_t kReplacement = 0xFFFD;

// The code point of the UTF-8 sequence at s[i], advancing i past it; -1 for an ill-formed one
// (then i moves past its longest well-formed start, at least one byte, as Java's decoder does).
// Well-formed is RFC 3629's table, as charset::utf8SeqLen checks it.
inline int32_t nextUtf8(std::string_view s, std::size_t& i) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  const std::size_t n = s.size() - i;
  bool incomplete = false;
  const std::size_t len = charset::utf8SeqLen(p, n, &incomplete);
  if (len == 0) {
    // The longest start that is still a valid prefix: utf8SeqLen calls k bytes incomplete
    // exactly when they begin a well-formed sequence.
    std::size_t skip = 1;
    for (std::size_t k = 2; k <= n && k <= 3; ++k) {
      (void)charset::utf8SeqLen(p, k, &incomplete);
      if (!incomplete) break;
      skip = k;
    }
    i += skip;
    return -1;
  }
  i += len;
  if (len == 1) return p[0];
  uint32_t cp = p[0] & (0x7Fu >> len);
  for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (p[k] & 0x3Fu);
  return static_cast<int32_t>(cp);
}

using text::appendUtf8;

using charset::isValidUtf8;

// s with every ill-formed sequence replaced by U+FFFD.
inline std::string replaceInvalidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t from = i;
    const int32_t cp = nextUtf8(s, i);
    if (cp < 0)
      appendUtf8(out, kReplacement);
    else
      out.append(s.substr(from, i - from));
  }
  return out;
}

// UTF-16 or UTF-32 bytes (Java's decoders, see the top) as UTF-8.
inline std::string decodeToUtf8(Charset cs, std::string_view in) {
  std::string out;
  out.reserve(in.size());
  const auto byte = [&](std::size_t k) {
    return static_cast<uint32_t>(static_cast<unsigned char>(in[k]));
  };
  std::size_t i = 0;
  if (cs == Charset::Utf16) {
    bool big = true;
    if (in.size() >= 2 && byte(0) == 0xFE && byte(1) == 0xFF) {
      i = 2;
    } else if (in.size() >= 2 && byte(0) == 0xFF && byte(1) == 0xFE) {
      big = false;
      i = 2;
    }
    const auto unit = [&](std::size_t k) {
      return big ? (byte(k) << 8 | byte(k + 1)) : (byte(k + 1) << 8 | byte(k));
    };
    for (; i + 1 < in.size(); i += 2) {
      const uint32_t u = unit(i);
      if (u >= 0xD800 && u <= 0xDBFF && i + 3 < in.size()) {
        const uint32_t low = unit(i + 2);
        if (low >= 0xDC00 && low <= 0xDFFF) {
          appendUtf8(out, 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00));
          i += 2;
          continue;
        }
      }
      appendUtf8(out, u >= 0xD800 && u <= 0xDFFF ? kReplacement : u);
    }
    if (i < in.size()) appendUtf8(out, kReplacement);  // an odd byte at the end
    return out;
  }
  bool big = true;
  if (in.size() >= 4 && byte(0) == 0 && byte(1) == 0 && byte(2) == 0xFE && byte(3) == 0xFF) {
    i = 4;
  } else if (in.size() >= 4 && byte(0) == 0xFF && byte(1) == 0xFE && byte(2) == 0 && byte(3) == 0) {
    big = false;
    i = 4;
  }
  for (; i + 3 < in.size(); i += 4) {
    const uint32_t u = big ? (byte(i) << 24 | byte(i + 1) << 16 | byte(i + 2) << 8 | byte(i + 3))
                           : (byte(i + 3) << 24 | byte(i + 2) << 16 | byte(i + 1) << 8 | byte(i));
    appendUtf8(out, u > 0x10FFFF || (u >= 0xD800 && u <= 0xDFFF) ? kReplacement : u);
  }
  if (i < in.size()) appendUtf8(out, kReplacement);
  return out;
}

// Valid UTF-8 as Java's String.getBytes("UTF-16") or ("UTF-32") writes it (see the top).
inline std::string encodeFromUtf8(Charset cs, std::string_view utf8) {
  std::string out;
  // Java encodes an empty string as no bytes at all, without a byte order mark.
  if (cs == Charset::Utf8 || utf8.empty()) return std::string(utf8);
  out.reserve(utf8.size() * (cs == Charset::Utf16 ? 2 : 4) + 2);
  const auto put16 = [&](uint32_t u) {
    out += static_cast<char>(u >> 8);
    out += static_cast<char>(u & 0xFF);
  };
  if (cs == Charset::Utf16) put16(0xFEFF);
  for (std::size_t i = 0; i < utf8.size();) {
    int32_t cp = nextUtf8(utf8, i);
    if (cp < 0) cp = kReplacement;
    const auto u = static_cast<uint32_t>(cp);
    if (cs == Charset::Utf32) {
      put16(u >> 16);
      put16(u & 0xFFFF);
    } else if (u >= 0x10000) {
      put16(0xD800 + ((u - 0x10000) >> 10));
      put16(0xDC00 + ((u - 0x10000) & 0x3FF));
    } else {
      put16(u);
    }
  }
  return out;
}

}  // namespace sluice::plugins::http_source::unicode
