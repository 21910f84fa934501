// Tests of java_regex.hpp, the PCRE2 wrapper the regex interceptors share: Java's syntax and
// semantics where PCRE2 can be set to follow them.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "java_regex.hpp"

using sluice::plugins::javaregex::Match;
using sluice::plugins::javaregex::Mode;
using sluice::plugins::javaregex::Regex;

namespace {

std::shared_ptr<const Regex> re(const std::string& pattern, Mode mode = Mode::Find) {
  std::string error;
  auto r = Regex::compile(pattern, mode, &error);
  REQUIRE_MESSAGE(r, pattern, ": ", error);
  return r;
}

// (start, end) of each match of a Java-style find() loop.
std::vector<std::pair<std::size_t, std::size_t>> spans(const Regex& r, std::string_view s) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  CHECK(r.forEach(s, [&](const Match& m) { out.emplace_back(m.start(0), m.end(0)); }) == 0);
  return out;
}

using Spans = std::vector<std::pair<std::size_t, std::size_t>>;
using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("java_regex: compile errors carry PCRE2's message and offset") {
  std::string error;
  CHECK_FALSE(Regex::compile("ab(c", Mode::Find, &error));
  CHECK(error == "missing closing parenthesis at offset 4");
  CHECK_FALSE(Regex::compile("a{2,1}", Mode::Find, &error));
  CHECK(error.find("at offset") != std::string::npos);
  CHECK_FALSE(Regex::compile("\xff", Mode::Find, &error));  // a pattern must be valid UTF-8
  CHECK(error.find("UTF-8") != std::string::npos);
}

TEST_CASE("java_regex: find matches anywhere, matches() the whole subject") {
  CHECK(re("b")->test("abc"));
  CHECK_FALSE(re("b", Mode::Matches)->test("abc"));
  CHECK(re("a.c", Mode::Matches)->test("abc"));
  // matches() backtracks into alternatives to reach the end, as Java's does.
  CHECK(re("a|ab", Mode::Matches)->test("ab"));
  CHECK(re("", Mode::Find)->test(""));
  CHECK(re("", Mode::Matches)->test(""));
  CHECK_FALSE(re("", Mode::Matches)->test("x"));
}

TEST_CASE("java_regex: line terminators as in Java") {
  CHECK_FALSE(re("a.b")->test("a\rb"));
  CHECK_FALSE(re("a.b")->test("a\nb"));
  CHECK_FALSE(
      re("a.b")->test("a\xE2\x80\xA8"
                      "b"));  // U+2028 LINE SEPARATOR
  CHECK(re("(?s)a.b")->test("a\nb"));
  CHECK(re("end$")->test("the end\r\n"));  // $ before a final line terminator
  CHECK(re("end$")->test("the end\n"));
  CHECK_FALSE(re("end\\z")->test("the end\n"));
  CHECK(re("(?m)^two$")->test("one\r\ntwo\r\nthree"));
  CHECK(re("a\\Rb")->test("a\r\nb"));
}

TEST_CASE("java_regex: Java escapes and constructs") {
  CHECK(re("caf\\u00e9")->test("café"));
  CHECK(re("\\x{1F30D}")->test("\xF0\x9F\x8C\x8D"));
  CHECK(re("\\x41")->test("A"));
  CHECK(re("\\Qa.b\\E")->test("xa.by"));
  CHECK_FALSE(re("\\Qa.b\\E")->test("axb"));
  CHECK(re("(?<year>\\d{4})-\\k<year>")->test("2024-2024"));
  CHECK(re("a++b")->test("aab"));
  CHECK(re("(?i)error")->test("ERROR"));
  CHECK(re("\\p{Lu}\\p{Ll}+")->test("Zürich"));
  CHECK(re("[[:digit:]]+")->test("a1"));
  CHECK(re("(?<=foo)bar")->test("foobar"));
  // \d, \w, \s and \b are ASCII, as Java's without UNICODE_CHARACTER_CLASS.
  CHECK_FALSE(re("^\\w$")->test("é"));
  CHECK_FALSE(re("\\d")->test("\xD9\xA3"));  // ARABIC-INDIC DIGIT THREE
}

TEST_CASE("java_regex: UTF-8 subjects, invalid bytes and NULs") {
  CHECK(re("^.{4}$")->test("grün"));  // characters, not bytes
  CHECK(
      re("^.{3}$")->test("a\xF0\x9F\x8C\x8D"
                         "b"));
  // Invalid UTF-8 never errors; the invalid bytes just match no character.
  CHECK(
      re("ERROR")->test("\xff\xfe"
                        "ERROR"));
  CHECK_FALSE(re("^.")->test("\xff"));
  CHECK(re("^\\x{fffd}?ok")->test("ok"));
  CHECK(re("b")->test(std::string("a\0b", 3)));
  // Anchors next to invalid bytes: the subject's end is still its end.
  CHECK(re("^.$")->test("\xC3\xBC\xFF") == false);
  CHECK(spans(*re("$"), "\xC3\xBC\xFF") == Spans{{3, 3}});
  CHECK(re("\xC3\xBC\\z")->test("\xFF\xC3\xBC"));
  CHECK_FALSE(re("\xC3\xBC\\z")->test("\xC3\xBC\xFF"));
  Match m;
  auto r = re("(\\w+)=(\\w+)");
  std::string subject("\xC3\xA9 key=value", 12);
  REQUIRE(r->match(subject, 0, m) == 1);
  CHECK(m.group(1) == "key");
  CHECK(m.group(2) == "value");
}

TEST_CASE("java_regex: \\S, \\D and \\W match non-ASCII characters (PCRE2 JIT bug worked around)") {
  CHECK(re("^\\S$")->test("\xC3\xBC"));  // ü
  CHECK(re("^\\D$")->test("\xC3\xBC"));
  CHECK(re("^\\W$")->test("\xC3\xBC"));
  CHECK(re("^\\S+$")->test("\xE6\x9D\xB1\xE4\xBA\xAC"));  // 東京
  CHECK(re("^\\S{2}$")->test("a\xC3\xBC"));
  Match m;
  auto r = re("(\\S+) (\\S+)");
  const std::string s = "Z\xC3\xBCrich \xC3\xBC!";
  REQUIRE(r->match(s, 0, m) == 1);
  CHECK(m.group(1) == "Z\xC3\xBCrich");
  CHECK(m.group(2) == "\xC3\xBC!");
}

TEST_CASE("java_regex: groups that do not take part") {
  auto r = re("(a)|(b)");
  Match m;
  REQUIRE(r->match("b", 0, m) == 1);
  CHECK_FALSE(m.has(1));
  CHECK(m.has(2));
  CHECK(m.group(1).empty());
  CHECK(m.group(2) == "b");
  CHECK_FALSE(m.has(3));  // beyond the pattern's groups
  CHECK(r->captureCount() == 2);
  CHECK(r->groupNumber("x") == -1);
  CHECK(re("(?<x>a)")->groupNumber("x") == 1);
}

TEST_CASE("java_regex: repeated find() follows Java after empty matches") {
  // Java: "baaac".replaceAll("a*", "-") is "-b--c-".
  CHECK(spans(*re("a*"), "baaac") == Spans{{0, 0}, {1, 4}, {4, 4}, {5, 5}});
  CHECK(spans(*re("x*"), "") == Spans{{0, 0}});
  // An empty match steps over a whole multi-byte character, never into it.
  CHECK(spans(*re(""), "é") == Spans{{0, 0}, {2, 2}});
  CHECK(spans(*re("\\d+"), "a1b22c333") == Spans{{1, 2}, {3, 5}, {6, 9}});
  CHECK(spans(*re("^a"), "aaa") == Spans{{0, 1}});  // ^ is the subject's start, not the offset
}

TEST_CASE("java_regex: split follows Java's String.split") {
  CHECK(re("\\s*,\\s*")->split("a, b ,c") == Strings{"a", "b", "c"});
  CHECK(re(",")->split("a,b,,c,,") == Strings{"a", "b", "", "c"});
  CHECK(re(",")->split(",a") == Strings{"", "a"});
  CHECK(re(",")->split("abc") == Strings{"abc"});
  CHECK(re(",")->split("") == Strings{""});
  CHECK(re("")->split("abc") == Strings{"a", "b", "c"});
}

TEST_CASE("java_regex: a runaway match is an error, not a hang") {
  auto r = re("(a+)+b");
  const std::string subject = std::string(40, 'a') + "cb";
  Match m;
  const int rc = r->match(subject, 0, m);
  CHECK(rc < 0);
  int error = 0;
  CHECK_FALSE(r->test(subject, &error));
  CHECK(error < 0);
  CHECK_FALSE(Regex::message(error).empty());
}

TEST_CASE("java_regex: several threads match at once with patterns of different sizes") {
  auto small = re("x");
  auto large = re("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)(m)(n)(o)(p)");
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        Match m;
        if ((i + t) % 2) {
          if (large->match("zabcdefghijklmnop", 0, m) != 1 || m.group(16) != "p") return;
        } else if (small->match("abx", 0, m) != 1 || m.start(0) != 2) {
          return;
        }
      }
      ok[t] = 1;
    });
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>{1, 1, 1, 1});
}

TEST_CASE("java_regex: Java spellings are rewritten outside \\Q...\\E only") {
  auto tr = [](const char* p) { return Regex::javaToPcre2(p).pattern; };
  CHECK(tr("\\x{41}") == "\\u{41}");
  CHECK(tr("[\\x{41}-\\x{5A}]") == "[\\u{41}-\\u{5A}]");
  CHECK(tr("\\\\x{2}") == "\\\\x{2}");  // an escaped backslash, then x{2}
  CHECK(tr("\\Q\\x{41}\\E\\x{41}") == "\\Q\\x{41}\\E\\u{41}");
  CHECK(tr("\\p{Punct}+") == "[[:punct:]]+");
  CHECK(tr("\\P{Digit}") == "[^[:digit:]]");
  CHECK(tr("[\\p{Alnum}_]") == "[[:alnum:]_]");
  CHECK(tr("[^\\P{Space}]") == "[^[:^space:]]");
  CHECK(tr("[]\\p{Lower}]") == "[][:lower:]]");
  CHECK(tr("\\p{IsLatin}\\p{IsLu}") == "\\p{Latin}\\p{Lu}");
  CHECK(tr("\\p{L}\\pL") == "\\p{L}\\pL");
  CHECK(tr("\\S+\\D\\W[\\S\\D\\W]\\s") == "[\\S]+[\\D][\\W][\\S\\D\\W]\\s");
  CHECK(tr("\\\\S") == "\\\\S");  // an escaped backslash, then S
  const auto t = Regex::javaToPcre2("\\p{Punct}(");
  CHECK(t.origin.size() == t.pattern.size() + 1);
  CHECK(t.origin[t.pattern.size() - 1] == 9);  // the ( after the 9-byte \p{Punct}
  CHECK(re("\\Q\\x{41}\\E")->test("\\x{41}"));
  CHECK(re("a\\\\x{2}")->test("a\\xx"));
  CHECK(re("[\\x{41}-\\x{5A}]+")->test("HELLO"));
}

TEST_CASE("java_regex: Java's POSIX classes are US-ASCII, as in Java") {
  CHECK(re("^\\p{Lower}+$")->test("abc"));
  CHECK_FALSE(re("^\\p{Lower}+$")->test("é"));
  CHECK(re("^\\p{Punct}+$")->test("!#-~"));
  CHECK(re("^\\p{XDigit}+$")->test("0aF"));
  CHECK_FALSE(re("\\p{Digit}")->test("\xD9\xA3"));
  CHECK(re("^\\P{Alpha}$")->test("1"));
  CHECK(re("^[\\p{Upper}\\p{Digit}]+$")->test("A1"));
  CHECK(re("\\p{IsGreek}")->test("\xCE\xB1"));  // α
  CHECK(re("^\\p{IsAlphabetic}+$")->test("Zürich"));
  std::string error;
  CHECK_FALSE(Regex::compile("\\p{Punct}(", Mode::Find, &error));
  CHECK(error == "missing closing parenthesis at offset 10");  // offset in the Java pattern
  CHECK_FALSE(Regex::compile("\\p{InGreek}", Mode::Find, &error));
  CHECK(error == "unknown property after \\P or \\p at offset 11");
}

TEST_CASE("java_regex: the JIT and the interpreter agree (guards against PCRE2 JIT bugs)") {
  const char* const patterns[] = {"\\S",       "\\D",         "\\W",        "\\S+",     "\\w+",
                                  "\\d+",      "\\s+",        "\\b\\w",     "\\B.",     ".",
                                  ".+$",       "^.{2}",       "\\X",        "\\P{L}+",  "\\p{L}+",
                                  "(?i)ü",     "(?i)straße",  "[^a]+",      "[\\S]+",   "\\S*?x",
                                  "(\\S+)\\s", "\\p{Punct}",  "(?m)^\\S",   "\\R",      "\\h+",
                                  "\\v",       "(?<=\\S)\\s", "\\S(?=\\s)", "a|\\S\\S", "\\W\\w"};
  // Not compared: $ and \z next to invalid bytes, where PCRE2 10.42's interpreter is wrong
  // (PCRE2Project/pcre2#343); the JIT's answers are checked in the UTF-8 test case above.
  const std::string subjects[] = {"ü",
                                  "aü",
                                  "üa",
                                  " ü x ",
                                  "\xE6\x9D\xB1\xE4\xBA\xAC",
                                  "\xFF\xC3\xBC",
                                  "\xC3\xBC\xFF",
                                  "Stra\xC3\x9F"
                                  "e 12 \xF0\x9F\x8C\x8D!",
                                  "line1\r\nline2\xE2\x80\xA8x",
                                  "",
                                  std::string("a\0\xC3\xBC", 4)};
  for (const char* p : patterns) {
    std::string error;
    auto jit = Regex::compile(p, Mode::Find, &error, true);
    auto interp = Regex::compile(p, Mode::Find, &error, false);
    REQUIRE_MESSAGE(jit, p, ": ", error);
    REQUIRE(interp);
    CHECK(jit->jitCompiled());
    CHECK_FALSE(interp->jitCompiled());
    for (const std::string& s : subjects) {
      Spans a, b;
      CHECK(jit->forEach(s, [&](const Match& m) { a.emplace_back(m.start(0), m.end(0)); }) == 0);
      CHECK(interp->forEach(s, [&](const Match& m) { b.emplace_back(m.start(0), m.end(0)); }) == 0);
      std::string detail;
      for (const auto& [x, y] : a) detail += " jit " + std::to_string(x) + "-" + std::to_string(y);
      for (const auto& [x, y] : b) detail += " int " + std::to_string(x) + "-" + std::to_string(y);
      CHECK_MESSAGE(a == b, "pattern ", std::string(p), " subject #", &s - subjects, detail);
    }
  }
}
