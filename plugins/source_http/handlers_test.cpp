// The two built-in handlers on their own: what Flume's JSONHandler and BlobHandler make of a
// request, charsets and all, and what they refuse.
#include <doctest/doctest.h>

#include <string>

#include "blob_handler.hpp"
#include "capture_logger.hpp"
#include "json_handler.hpp"
#include "sluice/sdk/host_access.hpp"
#include "unicode.hpp"

namespace sdk = sluice::sdk;
using namespace sluice::plugins::http_source;
using sluice::plugins::testing::CaptureLogger;

namespace {

struct Got {
  HandlerResult result;
  sdk::EventBatch events;
};

Got run(HttpSourceHandler& h, std::string body, std::string_view charset = "",
        std::string_view query = "", std::string_view contentType = "", bool truncated = false) {
  HttpSourceRequest req;
  req.method = "POST";
  req.path = "/";
  req.query = query;
  req.contentType = contentType;
  req.characterEncoding = charset;
  req.remoteAddress = "127.0.0.1";
  req.body = &body;
  req.bodyTruncated = truncated;
  Got g;
  g.result = h.handle(req, g.events);
  return g;
}

Got json(std::string body, std::string_view charset = "") {
  JsonHandler h;
  return run(h, std::move(body), charset);
}

sdk::Context ctx(std::initializer_list<std::pair<const char*, const char*>> kv) {
  sdk::Context c("a1.sources.r1.handler");
  for (const auto& [k, v] : kv) c.put(k, v);
  return c;
}

// A Java string's getBytes(charset) for ASCII text (what Flume's clients send).
std::string javaBytes(std::string_view ascii, unicode::Charset cs) {
  return unicode::encodeFromUtf8(cs, ascii);
}

}  // namespace

TEST_CASE("JSONHandler: Flume's example, headers and bodies") {
  const Got g = json(R"([{"headers":{"a":"b","c":"d"},"body":"random_body"},
                         {"headers":{"e":"f"},"body":"random_body2"}])");
  REQUIRE(g.result);
  REQUIRE(g.events.size() == 2);
  CHECK(g.events[0].body == "random_body");
  CHECK(g.events[0].headers == sdk::Headers{{"a", "b"}, {"c", "d"}});
  CHECK(g.events[1].body == "random_body2");
  CHECK(g.events[1].headers == sdk::Headers{{"e", "f"}});
}

TEST_CASE("JSONHandler: missing parts, other members, numbers, nulls, escapes") {
  const Got g = json(R"([{}, {"body":null,"headers":null},
      {"extra":{"deep":[1,{"x":[]}]},"headers":{"n":12,"f":1.50,"t":true,"z":null},"body":42},
      {"body":"tab\tquote\"nul\u0000é\ud83d\ude00"}, []])");
  // The last element is an array, not an event.
  CHECK(g.result.status == 400);
  const Got ok = json(R"([{}, {"body":null,"headers":null},
      {"extra":{"deep":[1,{"x":[]}]},"headers":{"n":12,"f":1.50,"t":true,"z":null},"body":42},
      {"body":"tab\tquote\"nul\u0000é\ud83d\ude00"}])");
  REQUIRE_MESSAGE(ok.result, ok.result.message);
  REQUIRE(ok.events.size() == 4);
  CHECK(ok.events[0].body.empty());
  CHECK(ok.events[0].headers.empty());
  CHECK(ok.events[1].body.empty());
  CHECK(ok.events[2].body == "42");
  CHECK(ok.events[2].headers == sdk::Headers{{"n", "12"}, {"f", "1.50"}, {"t", "true"}});
  CHECK(ok.events[3].body == std::string("tab\tquote\"nul\0\xC3\xA9\xF0\x9F\x98\x80", 20));
  CHECK(json("[]").events.empty());
  CHECK(json("[]").result);
}

TEST_CASE("JSONHandler: malformed input is a 400 with a reason, nothing returned as valid") {
  auto reason = [](std::string body) {
    const Got g = json(std::move(body));
    CHECK(g.result.status == 400);
    return g.result.message;
  };
  CHECK(reason(R"([{"a": "b",["d":"e"],"body": "random_body"}])").find("invalid JSON") == 0);
  CHECK(reason(R"({"headers":{},"body":"x"})").find("expected a JSON array") != std::string::npos);
  CHECK(reason("[null]").find("event 0: the event is null") == 0);
  CHECK(reason(R"([{"body":"x"},"y"])").find("event 1: expected an event object") == 0);
  CHECK(reason(R"([{"headers":{"a":"1","a":"2"}}])").find("duplicate header \"a\"") !=
        std::string::npos);
  CHECK(reason(R"([{"headers":{"a":{"b":"c"}}}])").find("header \"a\" must be a string") !=
        std::string::npos);
  CHECK(reason(R"([{"headers":["a"]}])").find("\"headers\" must be an object") !=
        std::string::npos);
  CHECK(reason(R"([{"body":{"x":1}}])").find("\"body\" must be a string") != std::string::npos);
  CHECK(reason("[{'body':'single quotes'}]").find("invalid JSON") == 0);
  CHECK(reason(R"([{"body":"x"}] trailing)").find("invalid JSON") == 0);
  CHECK(reason("").find("empty") != std::string::npos);
  CHECK(reason("  \r\n").find("empty") != std::string::npos);
  CHECK(reason("[{\"body\":\"unterminated").find("invalid JSON") == 0);
}

TEST_CASE("JSONHandler: the request's charset is honoured as Flume does") {
  const std::string doc = R"([{"headers":{"a":"b"},"body":"random_body"}])";
  SUBCASE("UTF-16 (Java writes a byte order mark), bodies encoded back in UTF-16") {
    const Got g = json(javaBytes(doc, unicode::Charset::Utf16), "utf-16");
    REQUIRE_MESSAGE(g.result, g.result.message);
    REQUIRE(g.events.size() == 1);
    CHECK(g.events[0].headers == sdk::Headers{{"a", "b"}});
    CHECK(g.events[0].body == javaBytes("random_body", unicode::Charset::Utf16));
    CHECK(g.events[0].body.substr(0, 4) == std::string("\xFE\xFF\x00r", 4));
  }
  SUBCASE("UTF-16 little-endian with its mark, and UTF-16 without a mark (big-endian)") {
    std::string le;
    const std::string be = javaBytes(doc, unicode::Charset::Utf16);
    le = "\xFF\xFE";
    for (std::size_t i = 2; i + 1 < be.size(); i += 2) le += std::string{be[i + 1], be[i]};
    CHECK(json(le, "UTF-16").events.at(0).body ==
          javaBytes("random_body", unicode::Charset::Utf16));
    CHECK(json(be.substr(2), "UTF-16").events.at(0).headers == sdk::Headers{{"a", "b"}});
  }
  SUBCASE("UTF-32") {
    const Got g = json(javaBytes(doc, unicode::Charset::Utf32), "UTF-32");
    REQUIRE_MESSAGE(g.result, g.result.message);
    CHECK(g.events.at(0).body == std::string("\0\0\0r\0\0\0a", 8) + g.events.at(0).body.substr(8));
    CHECK(unicode::decodeToUtf8(unicode::Charset::Utf32, g.events.at(0).body) == "random_body");
  }
  SUBCASE("UTF-8 by name or by default; ill-formed bytes become U+FFFD") {
    CHECK(json(doc, "UTF-8").events.at(0).body == "random_body");
    const Got g = json(
        "[{\"body\":\"a\xFF"
        "b\"}]");
    REQUIRE(g.result);
    CHECK(g.events.at(0).body ==
          "a\xEF\xBF\xBD"
          "b");
  }
  SUBCASE("other charsets: 500, as Flume's UnsupportedCharsetException") {
    const Got g = json(doc, "ISO-8859-1");
    CHECK(g.result.status == 500);
    CHECK(g.result.message.find("UTF-8, UTF-16 and UTF-32") != std::string::npos);
    CHECK(g.events.empty());
  }
  SUBCASE("empty bodies stay empty in UTF-16, as Java encodes them") {
    const Got g = json(javaBytes(R"([{"body":""}])", unicode::Charset::Utf16), "utf-16");
    CHECK(g.events.at(0).body.empty());
  }
}

TEST_CASE("JSONHandler: handler.* keys are reported as ignored") {
  CaptureLogger log;
  JsonHandler h;
  sdk::Context c = ctx({{"foo", "bar"}});
  c.setLogger(&log);
  REQUIRE(sdk::HostAccess::configure(h, c).ok());
  CHECK(log.has("a1.sources.r1.handler.foo: Flume's JSONHandler has no such key; ignored"));
}

TEST_CASE("BlobHandler: the body is one event, the query parameters its headers") {
  BlobHandler h;
  REQUIRE(sdk::HostAccess::configure(h, ctx({})).ok());
  CHECK(h.maxBodyBytes() == 100000000);
  const std::string blob("\x00\x01\xFFPDF", 6);
  const Got g = run(h, blob, "", "resourceName=a%20b.pdf&x=1&x=2&flag&empty=&plus=a+b",
                    "application/octet-stream");
  REQUIRE(g.result);
  REQUIRE(g.events.size() == 1);
  CHECK(g.events[0].body == blob);
  CHECK(g.events[0].headers == sdk::Headers{{"resourceName", "a b.pdf"},
                                            {"x", "1"},
                                            {"flag", ""},
                                            {"empty", ""},
                                            {"plus", "a b"},
                                            {"Content-Type", "application/octet-stream"}});
  // A parameter named like the header replaces it; no Content-Type, no header.
  CHECK(run(h, "x", "", "Content-Type=mine", "text/plain").events.at(0).headers ==
        sdk::Headers{{"Content-Type", "mine"}});
  CHECK(run(h, "", "", "", "").events.at(0).headers.empty());
  CHECK(run(h, "", "", "", "").events.at(0).body.empty());
  const Got bad = run(h, "x", "", "a=%zz");
  CHECK(bad.result.status == 400);
  CHECK(bad.result.message.find("malformed %-escape") != std::string::npos);
}

TEST_CASE("BlobHandler: maxBlobLength, its range, and the warning about truncated bodies") {
  CaptureLogger log;
  BlobHandler h;
  sdk::HostAccess::attach(h, "r1.handler", &log);
  REQUIRE(sdk::HostAccess::configure(h, ctx({{"maxBlobLength", "10"}})).ok());
  CHECK(h.maxBodyBytes() == 10);
  // The source truncates (it asked for maxBodyBytes()); the handler says so, throttled.
  for (int i = 0; i < 5; ++i) CHECK(run(h, "0123456789", "", "", "", true).result);
  CHECK(log.occurrences("longer than maxBlobLength (10 bytes)") == 1);
  auto error = [](const char* v) {
    BlobHandler b;
    const sdk::Result r = sdk::HostAccess::configure(b, ctx({{"maxBlobLength", v}}));
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  CHECK(error("0").find("a1.sources.r1.handler.maxBlobLength: must be greater than zero") == 0);
  CHECK(error("-1").find("a1.sources.r1.handler.maxBlobLength:") == 0);
  CHECK(error("lots").find("a1.sources.r1.handler.maxBlobLength:") == 0);
}

TEST_CASE("unicode: UTF-8 validation follows RFC 3629") {
  CHECK(unicode::isValidUtf8("plain ascii, longer than eight bytes"));
  CHECK(unicode::isValidUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
  CHECK_FALSE(unicode::isValidUtf8("\xC0\xAF"));          // overlong
  CHECK_FALSE(unicode::isValidUtf8("\xED\xA0\x80"));      // a surrogate
  CHECK_FALSE(unicode::isValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  CHECK_FALSE(unicode::isValidUtf8("\xE2\x82"));          // cut short
  CHECK(unicode::replaceInvalidUtf8("a\xE2\x82z") == "a\xEF\xBF\xBDz");
  CHECK(unicode::decodeToUtf8(unicode::Charset::Utf16, std::string("\xD8\x3D\xDE\x00", 4)) ==
        "\xF0\x9F\x98\x80");
  CHECK(unicode::decodeToUtf8(unicode::Charset::Utf16, std::string("\xDC\x00\x00", 3)) ==
        "\xEF\xBF\xBD\xEF\xBF\xBD");  // a lone low surrogate, then an odd byte
}
