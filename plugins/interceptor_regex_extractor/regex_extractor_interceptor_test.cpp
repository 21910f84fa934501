#include "regex_extractor_interceptor.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include <cstdlib>
#include <ctime>
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
using sluice::plugins::regexextractor::naturalLess;
using sluice::plugins::regexextractor::RegexExtractorInterceptor;
using sluice::plugins::regexextractor::RegexExtractorInterceptorBuilder;
using sluice::plugins::regexextractor::regexExtractorSchema;

// The host checks the keys against this schema before configure() (interceptor_test_support).
template <>
const sdk::Schema& sluice::plugins::testing::schemaOf<RegexExtractorInterceptorBuilder>() {
  return regexExtractorSchema();
}

namespace {

// The headers an interceptor with these keys puts on an event with this body.
sdk::Headers extracted(KeyValues kv, std::string body) {
  auto icpt = built<RegexExtractorInterceptorBuilder>(kv);
  sdk::Event e(std::move(body));
  const std::string before = e.body;
  CHECK(icpt->intercept(e));
  CHECK(e.body == before);
  return e.headers;
}

const char* const kMillis =
    "org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer";
const char* const kPassThrough =
    "org.apache.flume.interceptor.RegexExtractorInterceptorPassThroughSerializer";

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(regexExtractorSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("the schema declares every key configure() reads, and no others") {
  const sdk::Schema& s = regexExtractorSchema();
  CHECK_FALSE(s.allowUnknownKeys);
  for (const char* k : {"regex", "serializers", "serializers.s1.name", "serializers.s1.type",
                        "serializers.s1.pattern"})
    CHECK_MESSAGE(schemaDeclares(s, k), k);
  CHECK_FALSE(schemaDeclares(s, "serializer.s1.name"));
  CHECK_FALSE(schemaDeclares(s, "regexp"));
}

TEST_CASE("Flume's documented example: groups go to serializers in order") {
  const KeyValues three{{"regex", "(\\d):(\\d):(\\d)"},
                        {"serializers", "s1 s2 s3"},
                        {"serializers.s1.name", "one"},
                        {"serializers.s2.name", "two"},
                        {"serializers.s3.name", "three"}};
  CHECK(extracted(three, "1:2:3.4foobar5") ==
        sdk::Headers{{"one", "1"}, {"two", "2"}, {"three", "3"}});
  // Fewer serializers than groups: the extra groups are skipped.
  CHECK(extracted({{"regex", "(\\d):(\\d):(\\d)"},
                   {"serializers", "s1 s2"},
                   {"serializers.s1.name", "one"},
                   {"serializers.s2.name", "two"}},
                  "1:2:3.4foobar5") == sdk::Headers{{"one", "1"}, {"two", "2"}});
}

TEST_CASE("a non-matching event passes unchanged; existing headers are replaced on a match") {
  const KeyValues kv{
      {"regex", "level=(\\w+)"}, {"serializers", "s1"}, {"serializers.s1.name", "level"}};
  CHECK(extracted(kv, "no level here").empty());
  CHECK(extracted(kv, "").empty());
  auto icpt = built<RegexExtractorInterceptorBuilder>(kv);
  sdk::Event e(sdk::Headers{{"level", "old"}, {"x", "y"}}, "a level=WARN b level=ERROR");
  icpt->intercept(e);
  CHECK(e.headers == sdk::Headers{{"level", "WARN"}, {"x", "y"}});  // the first match only
  sdk::Event miss(sdk::Headers{{"level", "old"}}, "nothing");
  icpt->intercept(miss);
  CHECK(miss.headers.get("level") == "old");
}

TEST_CASE("groups that take no part set no header; extra serializers are unused") {
  const KeyValues kv{{"regex", "(WARNING)|(ERROR)|(FATAL)"}, {"serializers", "s1 s2 s3 s4"},
                     {"serializers.s1.name", "warning"},     {"serializers.s2.name", "error"},
                     {"serializers.s3.name", "fatal"},       {"serializers.s4.name", "never"}};
  CHECK(extracted(kv, "an ERROR here") == sdk::Headers{{"error", "ERROR"}});
  CHECK(extracted(kv, "FATAL") == sdk::Headers{{"fatal", "FATAL"}});
  // An empty group is still a group that took part.
  CHECK(extracted({{"regex", "k=(\\w*);"}, {"serializers", "s1"}, {"serializers.s1.name", "k"}},
                  "k=;") == sdk::Headers{{"k", ""}});
  // A regex without groups sets nothing.
  CHECK(extracted({{"regex", "x"}, {"serializers", "s1"}, {"serializers.s1.name", "k"}}, "x")
            .empty());
}

TEST_CASE("anchors and unicode") {
  const KeyValues kv{{"regex", "^(\\S+) (.)"},
                     {"serializers", "a b"},
                     {"serializers.a.name", "first"},
                     {"serializers.b.name", "char"}};
  CHECK(extracted(kv, "Zürich ü rest") == sdk::Headers{{"first", "Zürich"}, {"char", "ü"}});
  CHECK(extracted(kv, " leading space").empty());
  CHECK(extracted({{"regex", "(\\d+)$"}, {"serializers", "s1"}, {"serializers.s1.name", "n"}},
                  "a1 b22\n") == sdk::Headers{{"n", "22"}});
  CHECK(extracted({{"regex", "id=(\\d+)"}, {"serializers", "s1"}, {"serializers.s1.name", "id"}},
                  "\xff\xfe id=7 \xc3") == sdk::Headers{{"id", "7"}});
}

TEST_CASE("the millis serializer turns a date into milliseconds since the epoch") {
  const KeyValues kv{{"regex", "^(\\d\\d\\d\\d-\\d\\d-\\d\\d \\d\\d:\\d\\d) (\\w+)"},
                     {"serializers", "s1 s2"},
                     {"serializers.s1.type", kMillis},
                     {"serializers.s1.name", "timestamp"},
                     {"serializers.s1.pattern", "yyyy-MM-dd HH:mm"},
                     {"serializers.s2.name", "level"}};
  const char* old = std::getenv("TZ");
  const std::string saved = old ? old : "";
  setenv("TZ", "UTC", 1);
  tzset();
  CHECK(extracted(kv, "2024-01-15 10:30 INFO started") ==
        sdk::Headers{{"timestamp", "1705314600000"}, {"level", "INFO"}});
  // Flume's user guide example.
  CHECK(extracted({{"regex", "^(\\d\\d\\d\\d-\\d\\d-\\d\\d\\s\\d\\d:\\d\\d)"},
                   {"serializers", "s1"},
                   {"serializers.s1.type", kMillis},
                   {"serializers.s1.name", "timestamp"},
                   {"serializers.s1.pattern", "yyyy-MM-dd HH:mm"}},
                  "2012-10-18 18:47:57,614 some log line") ==
        sdk::Headers{{"timestamp", "1350586020000"}});
  // A value the pattern cannot parse: no header from that serializer, and counted.
  auto icpt = built<RegexExtractorInterceptorBuilder>(kv);
  sdk::Event bad("2024-13-45 10:30 INFO x");
  icpt->intercept(bad);
  CHECK(bad.headers == sdk::Headers{{"level", "INFO"}});
  CHECK(static_cast<RegexExtractorInterceptor&>(*icpt).parseErrors() == 1);
  if (old)
    setenv("TZ", saved.c_str(), 1);
  else
    unsetenv("TZ");
  tzset();
  // With an offset in the text the zone does not matter.
  CHECK(extracted({{"regex", "\\[(.*?)\\]"},
                   {"serializers", "s1"},
                   {"serializers.s1.type", kMillis},
                   {"serializers.s1.name", "ts"},
                   {"serializers.s1.pattern", "dd/MMM/yyyy:HH:mm:ss Z"}},
                  "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\"") ==
        sdk::Headers{{"ts", "971211336000"}});
}

TEST_CASE("serializer types: default and the pass-through class name") {
  for (const char* type : {"default", "DEFAULT", kPassThrough})
    CHECK(extracted({{"regex", "(a)"},
                     {"serializers", "s1"},
                     {"serializers.s1.type", type},
                     {"serializers.s1.name", "h"}},
                    "xa") == sdk::Headers{{"h", "a"}});
}

TEST_CASE("without a serializers list the names come from the keys, in natural order") {
  CHECK(naturalLess("s2", "s10"));
  CHECK_FALSE(naturalLess("s10", "s2"));
  CHECK(naturalLess("a", "b"));
  CHECK(naturalLess("s1", "s1a"));
  KeyValues kv{{"regex", "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)"}};
  std::vector<std::pair<std::string, std::string>> keys;
  for (int i = 1; i <= 11; ++i)
    keys.emplace_back("serializers.s" + std::to_string(i) + ".name", "h" + std::to_string(i));
  auto icpt = [&] {
    RegexExtractorInterceptorBuilder b;
    sdk::Context ctx = contextOf(kv);
    for (const auto& [k, v] : keys) ctx.put(k, v);
    sdk::Result r = configureAsHost(b, regexExtractorSchema(), ctx);
    REQUIRE_MESSAGE(r.ok(), r.error());
    return sdk::HostAccess::build(b, r);
  }();
  sdk::Event e("abcdefghijk");
  icpt->intercept(e);
  for (int i = 1; i <= 11; ++i)
    CHECK(e.headers.get("h" + std::to_string(i)) == std::string(1, static_cast<char>('a' + i - 1)));
}

TEST_CASE("configure errors name the key") {
  using B = RegexExtractorInterceptorBuilder;
  const std::string p(kInterceptorPath);
  CHECK(startsWith(pluginConfigureError<B>({{"serializers", "s1"}, {"serializers.s1.name", "h"}}),
                   p + ".regex: is required but missing"));
  CHECK(startsWith(configureError<B>({{"serializers", "s1"}, {"serializers.s1.name", "h"}}),
                   p + ": missing required key 'regex'"));
  CHECK(configureError<B>({{"regex", "(a"}, {"serializers", "s1"}, {"serializers.s1.name", "h"}}) ==
        p + ".regex: cannot compile '(a': missing closing parenthesis at offset 2");
  CHECK(startsWith(configureError<B>({{"regex", "(a)"}}), p + ".serializers: is required"));
  CHECK(startsWith(configureError<B>({{"regex", "(a)"}, {"serializers", " "}}),
                   p + ".serializers: must name at least one serializer"));
  CHECK(startsWith(configureError<B>({{"regex", "(a)"}, {"serializers", "s1"}}),
                   p + ".serializers.s1.name: is required but missing"));
  CHECK(startsWith(
      configureError<B>({{"regex", "(a)"}, {"serializers", "s1"}, {"serializers.s1.name", ""}}),
      p + ".serializers.s1.name: is required but missing"));
  CHECK(configureError<B>({{"regex", "(a)"},
                           {"serializers", "s1"},
                           {"serializers.s1.name", "h"},
                           {"serializers.s2.name", "g"}}) ==
        p + ".serializers.s2.name: serializer 's2' is not listed in serializers (s1)");
  CHECK(configureError<B>({{"regex", "(a)"},
                           {"serializers", "s1"},
                           {"serializers.s1.name", "h"},
                           {"serializers.s1.format", "x"}}) ==
        p + ".serializers.s1.format: unknown key; a serializer takes name, type and pattern");
  CHECK(startsWith(configureError<B>({{"regex", "(a)"},
                                      {"serializers", "s1"},
                                      {"serializers.s1.name", "h"},
                                      {"serializers.s1.type", "com.example.Mine"}}),
                   p + ".serializers.s1.type: unknown serializer type 'com.example.Mine'"));
  CHECK(startsWith(configureError<B>({{"regex", "(a)"},
                                      {"serializers", "s1"},
                                      {"serializers.s1.name", "h"},
                                      {"serializers.s1.type", kMillis}}),
                   p + ".serializers.s1.pattern: is required but missing"));
  CHECK(configureError<B>({{"regex", "(a)"},
                           {"serializers", "s1"},
                           {"serializers.s1.name", "h"},
                           {"serializers.s1.type", kMillis},
                           {"serializers.s1.pattern", "yyyy-MM-dd G"}}) ==
        p + ".serializers.s1.pattern: invalid date pattern 'yyyy-MM-dd G': pattern letter 'G' is "
            "not supported (supported: y M d H k h K a m s S E e Z)");
}

TEST_CASE("a match that fails sets no header and is counted") {
  auto icpt = built<RegexExtractorInterceptorBuilder>(
      {{"regex", "(a+)+b"}, {"serializers", "s1"}, {"serializers.s1.name", "h"}});
  sdk::Event e(std::string(40, 'a') + "cb");
  icpt->intercept(e);
  CHECK(e.headers.empty());
  CHECK(static_cast<RegexExtractorInterceptor&>(*icpt).matchErrors() == 1);
}

TEST_CASE("the batch form never grows the batch and keeps order and capacity") {
  auto icpt = built<RegexExtractorInterceptorBuilder>(
      {{"regex", "(\\d)"}, {"serializers", "s1"}, {"serializers.s1.name", "d"}});
  sdk::EventBatch batch;
  batch.reserve(8);
  for (int i = 0; i < 5; ++i) batch.emplace_back(i % 2 ? std::to_string(i) : "x");
  const auto* data = batch.data();
  REQUIRE(sdk::HostAccess::intercept(*icpt, batch).ok());
  CHECK(bodiesOf(batch) == std::vector<std::string>{"x", "1", "x", "3", "x"});
  CHECK(batch.data() == data);
  CHECK(batch[1].headers.get("d") == "1");
  CHECK(batch[2].headers.empty());
}

TEST_CASE("build, initialize and close are safe to repeat") {
  RegexExtractorInterceptorBuilder b;
  REQUIRE(configureAsHost(
              b, regexExtractorSchema(),
              contextOf({{"regex", "(a)"}, {"serializers", "s1"}, {"serializers.s1.name", "h"}}))
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
  sdk::Event e("a");
  c->intercept(e);
  CHECK(e.headers.get("h") == "a");
  RegexExtractorInterceptorBuilder unconfigured;
  CHECK_FALSE(sdk::HostAccess::build(unconfigured, r));
  CHECK_FALSE(r.ok());
}

TEST_CASE("intercept runs on several threads at once") {
  auto icpt = built<RegexExtractorInterceptorBuilder>(
      {{"regex", "t(\\d+) n(\\d+) ts=(\\S+)"},
       {"serializers", "s1 s2 s3"},
       {"serializers.s1.name", "thread"},
       {"serializers.s2.name", "n"},
       {"serializers.s3.name", "ts"},
       {"serializers.s3.type", kMillis},
       {"serializers.s3.pattern", "yyyy-MM-dd'T'HH:mm:ssZ"}});
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        sdk::EventBatch batch;
        for (int i = 0; i < 16; ++i)
          batch.emplace_back("t" + std::to_string(t) + " n" + std::to_string(i) +
                             " ts=1970-01-01T00:00:0" + std::to_string(i % 10) + "Z");
        if (!sdk::HostAccess::intercept(*icpt, batch).ok()) return;
        for (int i = 0; i < 16; ++i) {
          const auto& h = batch[i].headers;
          if (h.get("thread") != std::to_string(t) || h.get("n") != std::to_string(i) ||
              h.get("ts") != std::to_string((i % 10) * 1000))
            return;
        }
      }
      ok[t] = 1;
    });
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>{1, 1, 1, 1});
}

// ---- Allocation count: the hot path must not allocate beyond the change itself. ----

TEST_CASE("extracting allocates nothing beyond new headers") {
  auto icpt = built<RegexExtractorInterceptorBuilder>(
      {{"regex", "level=(\\w+) at=(\\S+)"},
       {"serializers", "s1 s2"},
       {"serializers.s1.name", "level"},
       {"serializers.s2.name", "at"},
       {"serializers.s2.type",
        "org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer"},
       {"serializers.s2.pattern", "yyyy-MM-dd'T'HH:mm:ssZ"}});
  sdk::EventBatch batch;
  for (int i = 0; i < 64; ++i)
    batch.emplace_back(sdk::Headers{{"level", std::string(30, '.')}, {"at", std::string(30, '.')}},
                       "level=INFO at=2024-01-15T10:30:00Z rest of the line");
  sdk::Event warm("x");
  icpt->intercept(warm);
  // The headers exist already, so their strings are reused: nothing to allocate.
  CHECK(allocationsDuring([&] { icpt->intercept(batch); }) == 0);
  CHECK(batch[3].headers.get("level") == "INFO");
  CHECK(batch[3].headers.get("at") == "1705314600000");
  sdk::Event miss("no match");
  CHECK(allocationsDuring([&] { icpt->intercept(miss); }) == 0);
}
