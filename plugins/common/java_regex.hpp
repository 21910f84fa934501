#pragma once
// Java-flavoured regular expressions on PCRE2 (8-bit, UTF, JIT), for the interceptors whose keys
// take a java.util.regex pattern: regex_filter, regex_extractor, search_replace, remove_header.
//
// Compiled once into the static library java_regex (plugins/common/meson.build; pattern
// translation and compiling are in java_regex.cpp); each plugin links its own copy, so every .so
// stays self-contained and links only libpcre2-8. Matching stays inline: it runs per event.
//
// Threading: a compiled Regex is immutable and shared by every thread that runs the interceptor.
// match() uses this thread's scratch (match data, JIT stack), created on the thread's first match
// and grown only when a pattern with more groups comes along, so matching allocates nothing in the
// steady state. The scratch is a thread_local of this .so: a cache, not state that changes
// results. README.md of interceptor_regex_filter lists where the syntax differs from Java's.

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::plugins::javaregex {

// Find: Java's Matcher.find() (a match anywhere). Matches: Matcher.matches() (the whole subject).
enum class Mode { Find, Matches };

// The result of one successful match. Valid until the next match on the same thread.
class Match {
 public:
  // Whether group g took part in the match (group 0 always does).
  bool has(uint32_t g) const noexcept { return g < count_ && ov_[2 * g] != PCRE2_UNSET; }
  std::size_t start(uint32_t g) const noexcept { return ov_[2 * g]; }
  std::size_t end(uint32_t g) const noexcept {
    // \K can put the end before the start; treat that as an empty match.
    return ov_[2 * g + 1] < ov_[2 * g] ? ov_[2 * g] : ov_[2 * g + 1];
  }
  // The text of group g, or an empty view when it did not take part.
  std::string_view group(uint32_t g) const noexcept {
    return has(g) ? subject_.substr(start(g), end(g) - start(g)) : std::string_view();
  }

 private:
  friend class Regex;
  const PCRE2_SIZE* ov_ = nullptr;
  uint32_t count_ = 0;
  std::string_view subject_;
};

namespace detail {

// One thread's matching scratch. Freed when the thread exits.
struct Scratch {
  pcre2_match_data* data = nullptr;
  uint32_t pairs = 0;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jitStack = nullptr;
  bool contextTried = false;

  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jitStack);
  }

  // Match data with room for `need` pairs, or nullptr when out of memory.
  pcre2_match_data* dataFor(uint32_t need) noexcept {
    if (data && pairs >= need) return data;
    pcre2_match_data* fresh = pcre2_match_data_create(need < 10 ? 10 : need, nullptr);
    if (!fresh) return nullptr;
    pcre2_match_data_free(data);
    data = fresh;
    pairs = need < 10 ? 10 : need;
    return data;
  }

  // A match context whose JIT stack may grow to 1 MiB (PCRE2's default is 32 KiB of the machine
  // stack, which deeply nested patterns exhaust). nullptr (the defaults) if it cannot be made.
  pcre2_match_context* matchContext() noexcept {
    if (contextTried) return context;
    contextTried = true;
    context = pcre2_match_context_create(nullptr);
    jitStack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, nullptr);
    if (context && jitStack) pcre2_jit_stack_assign(context, nullptr, jitStack);
    return context;
  }
};

inline Scratch& scratch() noexcept {
  thread_local Scratch s;
  return s;
}

// The offset of the character after the one at `pos` (UTF-8; an invalid byte counts as one).
inline std::size_t nextChar(std::string_view s, std::size_t pos) noexcept {
  ++pos;
  while (pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) ++pos;
  return pos;
}

}  // namespace detail

class Regex {
 public:
  // Compiles `pattern` once, with JIT when the platform has it. On failure returns nullptr and
  // sets *error to PCRE2's message and the byte offset in `pattern`, e.g. "missing closing
  // parenthesis at offset 3". useJit = false is for tests that compare the JIT with PCRE2's
  // interpreter. Configuration time only: it allocates and may throw std::bad_alloc.
  static std::shared_ptr<const Regex> compile(std::string_view pattern, Mode mode,
                                              std::string* error, bool useJit = true);

  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  ~Regex() { pcre2_code_free(code_); }

  const std::string& pattern() const noexcept { return pattern_; }
  // Java's groupCount(): the number of capturing groups.
  uint32_t captureCount() const noexcept { return captures_; }
  bool jitCompiled() const noexcept { return jit_; }
  // The number of a named group, or -1 when there is none of that name.
  int groupNumber(const std::string& name) const noexcept {
    int n = pcre2_substring_number_from_name(code_, reinterpret_cast<PCRE2_SPTR>(name.c_str()));
    return n > 0 ? n : -1;
  }

  // One match attempt at or after byte `offset`. Returns 1 on a match (see Match), 0 when there
  // is none, or a negative PCRE2 error code (match limit, JIT stack limit, out of memory).
  // Thread-safe and, after a thread's first call, allocation-free.
  int match(std::string_view subject, std::size_t offset, Match& out) const noexcept {
    detail::Scratch& s = detail::scratch();
    pcre2_match_data* md = s.dataFor(captures_ + 1);
    if (!md) return PCRE2_ERROR_NOMEMORY;
    int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(),
                         offset, 0, md, s.matchContext());
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) return rc;
    out.ov_ = pcre2_get_ovector_pointer(md);
    out.count_ = rc == 0 ? s.pairs : static_cast<uint32_t>(rc);
    out.subject_ = subject;
    return 1;
  }

  // Whether the pattern matches (Find: anywhere in the subject; Matches: all of it). A match
  // error counts as no match and is returned through *error when given.
  bool test(std::string_view subject, int* error = nullptr) const noexcept {
    Match m;
    int rc = match(subject, 0, m);
    if (rc < 0 && error) *error = rc;
    return rc > 0;
  }

  // Calls onMatch(const Match&) for each successive match, as Java's repeated Matcher.find()
  // does: the next search starts where the last match ended, or one character further after an
  // empty match. Returns 0 when the subject is exhausted, or the negative PCRE2 error code that
  // stopped the scan.
  template <class F>
  int forEach(std::string_view subject, F&& onMatch) const {
    std::size_t pos = 0;
    Match m;
    while (pos <= subject.size()) {
      int rc = match(subject, pos, m);
      if (rc <= 0) return rc;
      onMatch(static_cast<const Match&>(m));
      const std::size_t s = m.start(0), e = m.end(0);
      if (e > s) {
        pos = e;
      } else {
        if (e >= subject.size()) return 0;
        pos = detail::nextChar(subject, e);
      }
    }
    return 0;
  }

  // Java's String.split(regex): the pieces between matches, without trailing empty pieces and
  // without the leading empty piece that a zero-width match at the start would give. For
  // configuration values only: it allocates.
  std::vector<std::string> split(std::string_view text, int* error = nullptr) const;

  // A pattern rewritten for PCRE2, with the offset in the user's pattern of every byte, so that
  // compile errors point into what the user wrote.
  struct Translation {
    std::string pattern;
    std::vector<std::size_t> origin;  // origin[i]: source offset of pattern[i]; one extra at end
  };

  // Rewrites the Java spellings PCRE2 does not know (skipping \Q...\E and escaped characters),
  // and works around a PCRE2 bug:
  //  - \x{h..h} becomes \u{h..h} (PCRE2 reads \x{} only without ALT_BSUX);
  //  - Java's POSIX classes \p{Lower} \p{Upper} \p{ASCII} \p{Alpha} \p{Digit} \p{Alnum}
  //    \p{Punct} \p{Graph} \p{Print} \p{Blank} \p{Cntrl} \p{XDigit} \p{Space} (US-ASCII in
  //    Java) become PCRE2's ASCII [[:lower:]]... classes, and \P{...} their negations;
  //  - the "Is" prefix of \p{IsLatin}, \p{IsLu}, \p{IsAlphabetic} is dropped;
  //  - \S, \D and \W outside a class become [\S], [\D] and [\W] (same meaning).
  static Translation javaToPcre2(std::string_view p);

  // PCRE2's POSIX class name for one of Java's US-ASCII \p{...} classes, or nullptr.
  static const char* posixClass(std::string_view javaName) noexcept;

  // PCRE2's text for an error code.
  static std::string message(int code);

 private:
  Regex(pcre2_code* code, std::string pattern) : code_(code), pattern_(std::move(pattern)) {}

  pcre2_code* code_;
  std::string pattern_;
  uint32_t captures_ = 0;
  bool jit_ = false;
};

// Rate limit for warnings from the data path: true for the 1st, 2nd, 4th, 8th... occurrence up
// to 1024, then every 65536th, so a bad stream logs a few lines, not one per event.
inline bool shouldWarn(uint64_t occurrence) noexcept {
  return (occurrence <= 1024 && (occurrence & (occurrence - 1)) == 0) || occurrence % 65536 == 0;
}

}  // namespace sluice::plugins::javaregex
