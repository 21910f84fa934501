#pragma once
// Small text helpers that the core and the plugins each used to write for themselves: ASCII case,
// trimming, splitting, errno messages, UTF-8 encoding and JSON string literals. Header-only and
// std-only.
//
// Why here: plugins may include nothing from core/ (tests/check_plugin_includes.py), while the
// core may include plugins/common/ (its include path is the repository root: include it as
// "plugins/common/text_util.hpp"); plugins reach this folder through plugin_dep. The SDK would be
// the wrong home: every sdk/ header is plugin API under the ABI hash, and these are not API.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::plugins::text {

// ASCII lower/upper case; other bytes (UTF-8 included) are kept as they are, whatever the locale.
inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

inline std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

// Without surrounding blanks and tabs (config values): a view into s, and a copy.
inline std::string_view trimmedView(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
inline std::string trimmed(std::string_view s) { return std::string(trimmedView(s)); }

// Without surrounding spaces and ASCII control characters (bytes up to 0x20): config file lines.
inline std::string trimmedSpace(std::string_view s) {
  while (!s.empty() && static_cast<unsigned char>(s.front()) <= 0x20) s.remove_prefix(1);
  while (!s.empty() && static_cast<unsigned char>(s.back()) <= 0x20) s.remove_suffix(1);
  return std::string(s);
}

// The non-empty pieces of text between any of the separator characters: split("a, b", ", ") is
// {"a", "b"}.
inline std::vector<std::string> split(std::string_view text, std::string_view separators) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find_first_of(separators, start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The message of an errno value ("No such file or directory"). strerror_r, GNU variant: safe on
// any thread, unlike strerror.
inline std::string errnoText(int err) {
  char buf[256];
  return ::strerror_r(err, buf, sizeof buf);
}

// Appends the UTF-8 encoding of a code point (up to U+10FFFF; the caller replaces surrogates).
inline void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Appends s as a JSON string literal, quotes included. Bytes >= 0x80 (UTF-8) pass through as they
// are. Control characters use the short escapes where JSON has them (as Gson writes them), else
// \u00XX. For the small JSON documents plugins write by hand (positions, status files); larger
// ones go through nlohmann::json.
inline void appendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace sluice::plugins::text
