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

#include "text_util.hpp"

namespace sluice::plugins::http_source::unicode {

enum class Charset { Utf8, Utf16, Utf32 };

// Flume's check: "utf-8", "utf-16" or "utf-32" in any case; anything else is unsupported.
inline std::optional<Charset> charsetNamed(std::string_view name) {
  std::string n(name);
  for (char& c : n)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (n == "utf-8") return Charset::Utf8;
  if (n == "utf-16") return Charset::Utf16;
  if (n == "utf-32") return Charset::Utf32;
  return std::nullopt;
}

inline constexpr char32_t kReplacement = 0xFFFD;

// The code point of the UTF-8 sequence at s[i], advancing i past it; -1 for an ill-formed one
// (then i moves past its longest well-formed start, at least one byte, as Java's decoder does).
// Well-formed is RFC 3629's table: no overlong forms, no surrogates, nothing past U+10FFFF.
inline int32_t nextUtf8(std::string_view s, std::size_t& i) noexcept {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = at(i++);
  if (b0 < 0x80) return b0;
  int len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return -1;
  }
  uint32_t cp = b0 & (0x7Fu >> len);
  for (int n = 1; n < len; ++n) {
    if (i >= s.size()) return -1;
    const unsigned char b = at(i);
    if (n == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3Fu);
    ++i;
  }
  return static_cast<int32_t>(cp);
}

using text::appendUtf8;

inline bool isValidUtf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    // ASCII runs are the common case: skip them eight bytes at a time.
    while (i + 8 <= s.size()) {
      uint64_t w;
      __builtin_memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= s.size()) break;
    if (nextUtf8(s, i) < 0) return false;
  }
  return true;
}

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
