#include "search_replace_interceptor.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>
#include "allocation_counter.hpp"
#include "interceptor_test_support.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using namespace sluice::plugins::testing;
using sluice::plugins::searchreplace::SearchAndReplaceInterceptor;
using sluice::plugins::searchreplace::SearchAndReplaceInterceptorBuilder;
using sluice::plugins::searchreplace::searchReplaceSchema;

// The host checks the keys against this schema before configure() (interceptor_test_support).
template <>
const sdk::Schema& sluice::plugins::testing::schemaOf<SearchAndReplaceInterceptorBuilder>() {
  return searchReplaceSchema();
}

namespace {

// The body after one interceptor built from (searchPattern, replaceString) ran on it.
std::string replaced(const char* pattern, const char* replacement, std::string body) {
  auto icpt = built<SearchAndReplaceInterceptorBuilder>(
      {{"searchPattern", pattern}, {"replaceString", replacement}});
  sdk::Event e(std::move(body));
  CHECK(icpt->intercept(e));
  return e.body;
}

// The error configure() reports for a pattern and replacement.
std::string replacementError(const char* pattern, const char* replacement) {
  return configureError<SearchAndReplaceInterceptorBuilder>(
      {{"searchPattern", pattern}, {"replaceString", replacement}});
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(searchReplaceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("the schema declares every key configure() reads, and no others") {
  const sdk::Schema& s = searchReplaceSchema();
  CHECK_FALSE(s.allowUnknownKeys);
  for (const char* k : {"searchPattern", "replaceString", "charset"})
    CHECK_MESSAGE(schemaDeclares(s, k), k);
  CHECK_FALSE(schemaDeclares(s, "replacement"));
  CHECK_FALSE(schemaDeclares(s, "regex"));
}

TEST_CASE("Flume's documented examples") {
  CHECK(replaced("^INFO:", "Log msg:", "INFO: started") == "Log msg: started");
  CHECK(replaced("The quick brown ([a-z]+) jumped over the lazy ([a-z]+)",
                 "The hungry $2 ate the careless $1",
                 "The quick brown fox jumped over the lazy dog.") ==
        "The hungry dog ate the careless fox.");
  // Deleting a prefix with an empty replacement.
  CHECK(replaced("^[A-Za-z0-9_]+\\s+", "", "token123 rest of line") == "rest of line");
}

TEST_CASE("every match is replaced; no match leaves the body as it was") {
  CHECK(replaced("\\d+", "#", "a1b22c333") == "a#b#c#");
  auto icpt =
      built<SearchAndReplaceInterceptorBuilder>({{"searchPattern", "x"}, {"replaceString", "y"}});
  sdk::Event e(std::string(100, 'a'));
  const char* data = e.body.data();
  icpt->intercept(e);
  CHECK(e.body == std::string(100, 'a'));
  CHECK(e.body.data() == data);  // untouched, not rebuilt
}

TEST_CASE("empty bodies and empty matches follow Java's replaceAll") {
  CHECK(replaced("a", "b", "").empty());
  CHECK(replaced("x*", "-", "") == "-");
  CHECK(replaced("a*", "-", "baaac") == "-b--c-");
  CHECK(replaced("(?:)", "-", "ab") == "-a-b-");  // an empty searchPattern is an error
  CHECK(replaced("(?:)", "-", "é") == "-é-");     // never splits a character
  CHECK(replaced("\\b", "|", "hi you") == "|hi| |you|");
}

TEST_CASE("anchors") {
  CHECK(replaced("^", "> ", "a\nb") == "> a\nb");
  CHECK(replaced("(?m)^", "> ", "a\nb") == "> a\n> b");
  CHECK(replaced("$", "!", "a\n") == "a!\n!");  // Java: before the final terminator and at the end
  CHECK(replaced("\\z", "!", "a\n") == "a\n!");
  CHECK(replaced("^a", "b", "aaa") == "baa");
}

TEST_CASE("the replacement: groups, named groups, escapes") {
  CHECK(replaced("(\\w+)@(\\w+)", "$2 at $1", "me@host") == "host at me");
  CHECK(replaced("(?<user>\\w+)@(?<host>\\w+)", "${host}/${user}", "me@host") == "host/me");
  CHECK(replaced("(\\w+)", "\\$1=\\\\$1", "x") == "$1=\\x");
  CHECK(replaced("a", "\\q", "a") == "q");
  CHECK(replaced("(a)|(b)", "[$1$2]", "ab") == "[a][b]");  // a group that took no part is empty
  CHECK(replaced("(a)", "$10", "a") == "a0");              // only 1 group: $1 then "0"
  CHECK(replaced("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)", "$10$1", "abcdefghij") == "ja");
  CHECK(replaced("(a)", "$0$0", "xa") == "xaa");
}

TEST_CASE("UTF-8 bodies, invalid bytes and NULs") {
  CHECK(replaced("ü", "ue", "Grüße") == "Grueße");
  CHECK(replaced(".", "x", "né") == "xx");
  CHECK(replaced("a", "b", "\xff-a-\xfe") == "\xff-b-\xfe");  // other bytes are kept as they are
  CHECK(replaced("\\x00", "0", std::string("a\0b", 3)) == "a0b");
  CHECK(replaced("東京", "Tokyo", "to 東京!") == "to Tokyo!");
}

TEST_CASE("replacement errors are configuration errors naming replaceString") {
  const std::string prefix = std::string(kInterceptorPath) + ".replaceString: invalid replacement ";
  CHECK(replacementError("(a)(b)", "$3") == prefix + "'$3' for searchPattern '(a)(b)': No group 3");
  CHECK(startsWith(replacementError("a", "x$"), prefix));
  CHECK(contains(replacementError("a", "x$"), "group index is missing"));
  CHECK(contains(replacementError("a", "x\\"), "character to be escaped is missing"));
  CHECK(contains(replacementError("a", "$x"), "Illegal group reference"));
  CHECK(contains(replacementError("a", "${}"), "0 length name"));
  CHECK(contains(replacementError("(?<n>a)", "${n"), "missing trailing '}'"));
  CHECK(contains(replacementError("a", "${1a}"), "starts with digit character"));
  CHECK(contains(replacementError("(?<n>a)", "${m}"), "No group with name {m}"));
  CHECK(replacementError("(?<n>a)", "${n}$1$0").empty());
}

TEST_CASE("other configure errors name the key") {
  const std::string p(kInterceptorPath);
  CHECK(
      startsWith(pluginConfigureError<SearchAndReplaceInterceptorBuilder>({{"replaceString", "x"}}),
                 p + ".searchPattern: is required but missing"));
  CHECK(startsWith(configureError<SearchAndReplaceInterceptorBuilder>({{"replaceString", "x"}}),
                   p + ": missing required key 'searchPattern'"));
  CHECK(startsWith(configureError<SearchAndReplaceInterceptorBuilder>(
                       {{"searchPattern", ""}, {"replaceString", "x"}}),
                   p + ".searchPattern: is required but missing"));
  CHECK(
      startsWith(pluginConfigureError<SearchAndReplaceInterceptorBuilder>({{"searchPattern", "a"}}),
                 p + ".replaceString: is required but missing"));
  CHECK(startsWith(configureError<SearchAndReplaceInterceptorBuilder>({{"searchPattern", "a"}}),
                   p + ": missing required key 'replaceString'"));
  CHECK(configureError<SearchAndReplaceInterceptorBuilder>(
            {{"searchPattern", "(a"}, {"replaceString", "x"}}) ==
        p + ".searchPattern: cannot compile '(a': missing closing parenthesis at offset 2");
  CHECK(configureError<SearchAndReplaceInterceptorBuilder>(
            {{"searchPattern", "a"}, {"replaceString", "x"}, {"charset", "ISO-8859-1"}}) ==
        p + ".charset: only UTF-8 is supported, got 'ISO-8859-1'");
  for (const char* cs : {"UTF-8", "utf-8", "UTF8"})
    CHECK(configureError<SearchAndReplaceInterceptorBuilder>(
              {{"searchPattern", "a"}, {"replaceString", "x"}, {"charset", cs}})
              .empty());
}

TEST_CASE("an empty replaceString deletes the matches") {
  CHECK(replaced("\\s+", "", " a b  c ") == "abc");
}

TEST_CASE("a match that fails leaves the body unchanged and is counted") {
  auto icpt = built<SearchAndReplaceInterceptorBuilder>(
      {{"searchPattern", "(a+)+b"}, {"replaceString", "x"}});
  const std::string bad = "ab " + std::string(40, 'a') + "cb";
  sdk::Event e(bad);
  icpt->intercept(e);
  CHECK(e.body == bad);  // not half-replaced
  CHECK(static_cast<SearchAndReplaceInterceptor&>(*icpt).matchErrors() == 1);
}

TEST_CASE("events of very different sizes in a row") {
  auto icpt =
      built<SearchAndReplaceInterceptorBuilder>({{"searchPattern", "o"}, {"replaceString", "0"}});
  for (std::size_t n : {std::size_t(3), std::size_t(3u << 20), std::size_t(1), std::size_t(70),
                        std::size_t(0), std::size_t(2u << 20), std::size_t(5)}) {
    sdk::Event e(std::string(n, 'o') + "k");
    icpt->intercept(e);
    CHECK(e.body == std::string(n, '0') + "k");
  }
}

TEST_CASE("the batch form never grows the batch and keeps order and capacity") {
  auto icpt =
      built<SearchAndReplaceInterceptorBuilder>({{"searchPattern", "^"}, {"replaceString", "#"}});
  sdk::EventBatch batch;
  batch.reserve(8);
  for (int i = 0; i < 5; ++i) batch.emplace_back(std::to_string(i));
  const auto* data = batch.data();
  REQUIRE(sdk::HostAccess::intercept(*icpt, batch).ok());
  CHECK(bodiesOf(batch) == std::vector<std::string>{"#0", "#1", "#2", "#3", "#4"});
  CHECK(batch.data() == data);
}

TEST_CASE("build, initialize and close are safe to repeat") {
  SearchAndReplaceInterceptorBuilder b;
  REQUIRE(configureAsHost(b, searchReplaceSchema(),
                          contextOf({{"searchPattern", "a"}, {"replaceString", "b"}}))
              .ok());
  sdk::Result r;
  auto a = sdk::HostAccess::build(b, r);
  auto c = sdk::HostAccess::build(b, r);
  REQUIRE(r.ok());
  for (int i = 0; i < 2; ++i) {
    CHECK(sdk::HostAccess::initialize(*a).ok());
    sdk::HostAccess::close(*a);
    sdk::HostAccess::close(*c);
  }
  sdk::Event e("aa");
  c->intercept(e);
  CHECK(e.body == "bb");
  SearchAndReplaceInterceptorBuilder unconfigured;
  CHECK_FALSE(sdk::HostAccess::build(unconfigured, r));
  CHECK_FALSE(r.ok());
}

TEST_CASE("intercept runs on several threads at once") {
  auto icpt = built<SearchAndReplaceInterceptorBuilder>(
      {{"searchPattern", "user=(\\w+)"}, {"replaceString", "user=<$1>"}});
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        sdk::EventBatch batch;
        for (int i = 0; i < 16; ++i)
          batch.emplace_back("t" + std::to_string(t) + " user=u" + std::to_string(i) + " end");
        if (!sdk::HostAccess::intercept(*icpt, batch).ok()) return;
        for (int i = 0; i < 16; ++i)
          if (batch[i].body != "t" + std::to_string(t) + " user=<u" + std::to_string(i) + "> end")
            return;
      }
      ok[t] = 1;
    });
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>{1, 1, 1, 1});
}

// ---- Allocation count: the hot path must not allocate beyond the change itself. ----

TEST_CASE("replacing allocates nothing in the steady state") {
  auto icpt = built<SearchAndReplaceInterceptorBuilder>(
      {{"searchPattern", "user=(\\w+)"}, {"replaceString", "user=<$1>"}});
  auto fill = [](sdk::EventBatch& b) {
    b.clear();
    for (int i = 0; i < 64; ++i) {
      b.emplace_back("login user=u" + std::to_string(i) + " from host " + std::string(60, 'h'));
      b.back().body.reserve(200);
    }
  };
  sdk::EventBatch batch;
  batch.reserve(64);
  fill(batch);
  icpt->intercept(batch);  // warms this thread's match data and body buffer
  fill(batch);
  CHECK(allocationsDuring([&] { icpt->intercept(batch); }) == 0);
  CHECK(batch[5].body.substr(0, 15) == "login user=<u5>");
  // No match: no copy at all.
  sdk::Event none(std::string(100, 'z'));
  CHECK(allocationsDuring([&] { icpt->intercept(none); }) == 0);
}
