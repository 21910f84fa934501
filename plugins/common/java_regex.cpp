// Java-flavoured regular expressions on PCRE2: the configuration-time half (pattern translation,
// compiling, split). Contracts are in java_regex.hpp.
#include "java_regex.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::plugins::javaregex {

std::shared_ptr<const Regex> Regex::compile(std::string_view pattern, Mode mode, std::string* error,
                                            bool useJit) {
  pcre2_compile_context* cc = pcre2_compile_context_create(nullptr);
  if (!cc) {
    if (error) *error = "out of memory";
    return nullptr;
  }
  // Lines end at any Unicode newline for '.', '^' and '$': Java's line terminators, plus VT
  // and FF. \R is Java's linebreak. ALT_BSUX: \uhhhh is Java's escape (javaToPcre2() keeps
  // \x{...} working).
  pcre2_set_newline(cc, PCRE2_NEWLINE_ANY);
  pcre2_set_bsr(cc, PCRE2_BSR_UNICODE);
  pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALT_BSUX);
  uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_ALT_BSUX;
  if (mode == Mode::Matches) options |= PCRE2_ANCHORED | PCRE2_ENDANCHORED;
  const Translation translated = javaToPcre2(pattern);
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.pattern.data()),
                                 translated.pattern.size(), options, &code, &offset, cc);
  pcre2_compile_context_free(cc);
  if (!re) {
    const std::size_t at =
        offset < translated.origin.size() ? translated.origin[offset] : pattern.size();
    if (error) *error = message(code) + " at offset " + std::to_string(at);
    return nullptr;
  }
  std::shared_ptr<Regex> out;
  try {
    out.reset(new Regex(re, std::string(pattern)));
  } catch (...) {
    pcre2_code_free(re);
    throw;
  }
  out->jit_ = useJit && pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
  uint32_t captures = 0;
  pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &captures);
  out->captures_ = captures;
  return out;
}

std::vector<std::string> Regex::split(std::string_view text, int* error) const {
  std::vector<std::string> out;
  std::size_t index = 0;
  int rc = forEach(text, [&](const Match& m) {
    if (index == 0 && m.start(0) == 0 && m.end(0) == 0) return;
    out.emplace_back(text.substr(index, m.start(0) - index));
    index = m.end(0);
  });
  if (rc < 0 && error) *error = rc;
  if (index == 0 && out.empty()) return {std::string(text)};
  out.emplace_back(text.substr(index));
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

Regex::Translation Regex::javaToPcre2(std::string_view p) {
  Translation t;
  t.pattern.reserve(p.size() + 16);
  auto copy = [&](std::size_t from, std::size_t n) {
    for (std::size_t k = 0; k < n && from + k < p.size(); ++k) {
      t.pattern += p[from + k];
      t.origin.push_back(from + k);
    }
  };
  auto emit = [&](std::string_view text, std::size_t from) {
    for (char c : text) {
      t.pattern += c;
      t.origin.push_back(from);
    }
  };
  bool quoted = false;
  bool inClass = false;
  std::size_t i = 0;
  while (i < p.size()) {
    const char c = p[i];
    if (quoted) {
      if (c == '\\' && i + 1 < p.size() && p[i + 1] == 'E') {
        quoted = false;
        copy(i, 2);
        i += 2;
      } else {
        copy(i++, 1);
      }
      continue;
    }
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[i + 1];
      if (n == 'Q') {
        quoted = true;
      } else if (!inClass && (n == 'S' || n == 'D' || n == 'W')) {
        // PCRE2 before 10.43 (PCRE2Project/pcre2#224): under JIT with MATCH_INVALID_UTF, a
        // bare \S, \D or \W fails on multi-byte characters; inside a class it works.
        emit(std::string("[\\") + n + "]", i);
        i += 2;
        continue;
      } else if (n == 'x' && i + 2 < p.size() && p[i + 2] == '{') {
        emit("\\u", i);
        i += 2;
        continue;
      } else if ((n == 'p' || n == 'P') && i + 2 < p.size() && p[i + 2] == '{') {
        const std::size_t close = p.find('}', i + 3);
        if (close != std::string_view::npos) {
          const std::string_view name = p.substr(i + 3, close - i - 3);
          if (const char* posix = posixClass(name)) {
            std::string repl = inClass ? std::string("[:") + (n == 'P' ? "^" : "") + posix + ":]"
                                       : std::string(n == 'P' ? "[^" : "[") + "[:" + posix + ":]]";
            emit(repl, i);
            i = close + 1;
            continue;
          }
          if (name.size() > 2 && name[0] == 'I' && name[1] == 's') {
            copy(i, 3);  // \p{
            copy(i + 5, name.size() - 2);
            copy(close, 1);
            i = close + 1;
            continue;
          }
        }
      }
      copy(i, 2);
      i += 2;
      continue;
    }
    if (!inClass && c == '[') {
      inClass = true;
      copy(i++, 1);
      if (i < p.size() && p[i] == '^') copy(i++, 1);
      if (i < p.size() && p[i] == ']') copy(i++, 1);  // a leading ] is a literal
      continue;
    }
    if (inClass && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
      const std::size_t e = p.find(":]", i + 2);
      if (e != std::string_view::npos) {
        copy(i, e + 2 - i);
        i = e + 2;
        continue;
      }
    }
    if (inClass && c == ']') inClass = false;
    copy(i++, 1);
  }
  t.origin.push_back(p.size());
  return t;
}

const char* Regex::posixClass(std::string_view javaName) noexcept {
  static constexpr const char* kNames[][2] = {
      {"Lower", "lower"}, {"Upper", "upper"}, {"ASCII", "ascii"}, {"Alpha", "alpha"},
      {"Digit", "digit"}, {"Alnum", "alnum"}, {"Punct", "punct"}, {"Graph", "graph"},
      {"Print", "print"}, {"Blank", "blank"}, {"Cntrl", "cntrl"}, {"XDigit", "xdigit"},
      {"Space", "space"}};
  for (const auto& n : kNames)
    if (javaName == n[0]) return n[1];
  return nullptr;
}

std::string Regex::message(int code) {
  PCRE2_UCHAR buf[256];
  int n = pcre2_get_error_message(code, buf, sizeof buf);
  if (n < 0) return "PCRE2 error " + std::to_string(code);
  return std::string(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
}

}  // namespace sluice::plugins::javaregex
