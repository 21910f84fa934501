#include "syslog/java_text.hpp"

#include <algorithm>
#include <iterator>

#include "charset.hpp"

namespace sluice::plugins::syslog {

namespace {

constexpr std::string_view kRepl = charset::kReplacement;

inline bool cont(unsigned char b) noexcept { return (b & 0xC0) == 0x80; }

// The JDK's UTF_8.Decoder (ArrayDecoder, REPLACE) over s: calls emit(validBytes) for runs of
// well-formed input and repl() for each U+FFFD it would produce.
template <class Valid, class Repl>
void javaDecode(std::string_view s, Valid&& valid, Repl&& repl) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t sp = 0, run = 0;
  auto bad = [&](std::size_t at, std::size_t len) {
    valid(s.substr(run, at - run));
    repl();
    run = at + len;
    return run;
  };
  while (sp < n) {
    const unsigned char b1 = p[sp];
    if (b1 < 0x80) {
      ++sp;
    } else if (b1 >= 0xC2 && b1 <= 0xDF) {  // 2 bytes
      if (sp + 1 >= n) {
        bad(sp, n - sp);
        return;
      }
      sp = cont(p[sp + 1]) ? sp + 2 : bad(sp, 1);
    } else if ((b1 & 0xF0) == 0xE0) {  // 3 bytes
      if (sp + 2 < n) {
        const unsigned char b2 = p[sp + 1], b3 = p[sp + 2];
        const bool malformed = (b1 == 0xE0 && (b2 & 0xE0) == 0x80) || !cont(b2) || !cont(b3);
        if (malformed) {
          sp = bad(sp, ((b1 == 0xE0 && (b2 & 0xE0) == 0x80) || !cont(b2)) ? 1 : 2);
        } else if (b1 == 0xED && b2 >= 0xA0) {  // a surrogate
          sp = bad(sp, 3);
        } else {
          sp += 3;
        }
        continue;
      }
      if (sp + 1 < n) {
        const unsigned char b2 = p[sp + 1];
        if ((b1 == 0xE0 && (b2 & 0xE0) == 0x80) || !cont(b2)) {
          sp = bad(sp, 1);
          continue;
        }
      }
      bad(sp, n - sp);
      return;
    } else if ((b1 & 0xF8) == 0xF0) {  // 4 bytes (F0-F7)
      auto malformed2 = [&](unsigned char b2) {
        return (b1 == 0xF0 && (b2 < 0x90 || b2 > 0xBF)) || (b1 == 0xF4 && (b2 & 0xF0) != 0x80) ||
               !cont(b2);
      };
      if (sp + 3 < n) {
        const unsigned char b2 = p[sp + 1], b3 = p[sp + 2], b4 = p[sp + 3];
        const uint32_t uc =
            ((b1 & 0x07u) << 18) | ((b2 & 0x3Fu) << 12) | ((b3 & 0x3Fu) << 6) | (b4 & 0x3Fu);
        if (!cont(b2) || !cont(b3) || !cont(b4) || uc < 0x10000 || uc > 0x10FFFF) {
          std::size_t len = 3;
          if (b1 > 0xF4 || malformed2(b2)) {
            len = 1;
          } else if (!cont(b3)) {
            len = 2;
          }
          sp = bad(sp, len);
        } else {
          sp += 4;
        }
        continue;
      }
      if (b1 > 0xF4 || (sp + 1 < n && malformed2(p[sp + 1]))) {
        sp = bad(sp, 1);
        continue;
      }
      if (sp + 2 < n && !cont(p[sp + 2])) {
        sp = bad(sp, 2);
        continue;
      }
      bad(sp, n - sp);
      return;
    } else {  // a continuation byte, C0, C1, F8-FF
      sp = bad(sp, 1);
    }
  }
  valid(s.substr(run));
}

// Java's Character.digit(c, 10) for the BMP (Unicode 10, Java 11): the first code point of each
// run of ten decimal digits.
constexpr uint32_t kDigitZeros[] = {0x0030, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6,
                                    0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0DE6, 0x0E50, 0x0ED0,
                                    0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80,
                                    0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900,
                                    0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10};

int digitValue(uint32_t c) noexcept {
  const auto* it = std::upper_bound(std::begin(kDigitZeros), std::end(kDigitZeros), c);
  if (it == std::begin(kDigitZeros)) return -1;
  const uint32_t zero = *(it - 1);
  return c - zero < 10 ? static_cast<int>(c - zero) : -1;
}

}  // namespace

void appendJavaUtf8(std::string_view s, std::string& out) {
  if (charset::isValidUtf8(s)) {
    out.append(s);
    return;
  }
  javaDecode(
      s, [&](std::string_view v) { out.append(v); }, [&] { out.append(kRepl); });
}

std::size_t utf16Units(std::string_view s) noexcept {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? (c >= 0xF0 ? 2 : 1) : 0;
  return n;
}

std::size_t advanceUtf16(std::string_view s, std::size_t units) noexcept {
  std::size_t i = 0;
  while (units > 0) {
    if (i >= s.size()) return std::string_view::npos;
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    units -= std::min<std::size_t>(units, len == 4 ? 2 : 1);
    i = std::min(s.size(), i + len);
  }
  return i;
}

std::optional<int32_t> javaParseInt(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  bool negative = false;
  std::size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    if (s.size() == 1) return std::nullopt;
    i = 1;
  }
  int64_t value = 0;
  while (i < s.size()) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
    uint32_t c;
    std::size_t len;
    if (p[0] < 0x80) {
      c = p[0];
      len = 1;
    } else {
      bool incomplete = false;
      len = charset::utf8SeqLen(p, s.size() - i, &incomplete);
      if (len < 2 || len > 3) return std::nullopt;  // malformed, or outside the BMP
      c = len == 2 ? ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu)
                   : ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    }
    const int d = digitValue(c);
    if (d < 0) return std::nullopt;
    value = value * 10 + d;
    if (value > (negative ? 2147483648LL : 2147483647LL)) return std::nullopt;
    i += len;
  }
  return static_cast<int32_t>(negative ? -value : value);
}

}  // namespace sluice::plugins::syslog
