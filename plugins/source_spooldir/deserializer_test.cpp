#include "deserializer.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace sluice::plugins::spooldir;
namespace sdk = sluice::sdk;

namespace {

struct Run {
  std::vector<std::string> bodies;
  std::vector<std::size_t> consumed;
  bool bad = false;
  std::size_t badAt = 0;
};

// Runs a LINE deserializer over input, revealing `chunk` more bytes whenever it asks for more.
Run lines(const std::string& input, std::size_t maxLine, DecodeErrorPolicy policy,
          const std::string& charset = "UTF-8", std::size_t chunk = 1 << 20) {
  std::string err;
  auto dec = Decoder::open(charset, &err);
  REQUIRE_MESSAGE(dec, err);
  LineDeserializer des(*dec, policy, maxLine);
  sdk::EventBatch out;
  Run r;
  std::size_t pos = 0, avail = std::min(input.size(), chunk);
  for (int i = 0; i < 100000; ++i) {
    const bool eof = avail == input.size();
    Step s = des.step(std::string_view(input).substr(pos, avail - pos), eof, out);
    if (s.kind == Step::End) break;
    if (s.kind == Step::NeedMore) {
      REQUIRE_FALSE(eof);
      avail = std::min(input.size(), avail + chunk);
      continue;
    }
    if (s.kind == Step::BadInput) {
      r.bad = true;
      r.badAt = pos + s.bad;
      break;
    }
    REQUIRE(s.consumed > 0);
    pos += s.consumed;
    r.consumed.push_back(pos);
  }
  for (auto& e : out) r.bodies.push_back(e.body);
  return r;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("UTF-8 validation") {
  CHECK(isValidUtf8("plain ascii text, long enough for the fast path"));
  CHECK(isValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  CHECK_FALSE(isValidUtf8("\xC0\xAF"));          // overlong
  CHECK_FALSE(isValidUtf8("\xED\xA0\x80"));      // surrogate
  CHECK_FALSE(isValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(isValidUtf8("abc\xE2\x82"));       // truncated
  CHECK_FALSE(isValidUtf8("12345678\xFF"));
}

TEST_CASE("LINE: one event per line, empty lines kept, last line without newline kept") {
  auto r = lines("a\nbb\n\nlast", 100, DecodeErrorPolicy::Fail);
  CHECK(r.bodies == V{"a", "bb", "", "last"});
  CHECK(r.consumed == std::vector<std::size_t>{2, 5, 6, 10});
}

TEST_CASE("LINE: \\r is kept, as in Flume") {
  CHECK(lines("x\r\ny\n", 100, DecodeErrorPolicy::Fail).bodies == V{"x\r", "y"});
}

TEST_CASE("LINE: lines split at maxLineLength characters, not bytes") {
  auto r = lines("abcdefghij\nxy\n", 4, DecodeErrorPolicy::Fail);
  CHECK(r.bodies == V{"abcd", "efgh", "ij", "xy"});
  // 'é' is two bytes but one character.
  CHECK(lines("\xC3\xA9\xC3\xA9\xC3\xA9\n", 2, DecodeErrorPolicy::Fail).bodies ==
        V{"\xC3\xA9\xC3\xA9", "\xC3\xA9"});
  // Exactly maxLineLength: one event, no empty one after it.
  CHECK(lines("abcd\nef\n", 4, DecodeErrorPolicy::Fail).bodies == V{"abcd", "ef"});
}

TEST_CASE("LINE: a line longer than the window continues where it was cut") {
  std::string big(5000, 'x');
  auto r = lines(big + "\nend\n", 100, DecodeErrorPolicy::Fail, "UTF-8", 64);
  REQUIRE(r.bodies.size() == 51);
  for (std::size_t i = 0; i < 50; ++i) CHECK(r.bodies[i] == std::string(100, 'x'));
  CHECK(r.bodies[50] == "end");
}

TEST_CASE("LINE: decode policies on invalid UTF-8") {
  const std::string in = "ok\nb\xFFz\nfine\n";
  auto fail = lines(in, 100, DecodeErrorPolicy::Fail);
  CHECK(fail.bad);
  CHECK(fail.badAt == 4);
  CHECK(fail.bodies == V{"ok"});
  CHECK(lines(in, 100, DecodeErrorPolicy::Replace).bodies == V{"ok", "b\xEF\xBF\xBDz", "fine"});
  CHECK(lines(in, 100, DecodeErrorPolicy::Ignore).bodies == V{"ok", "bz", "fine"});
  // A truncated sequence before the newline is invalid, not "need more".
  CHECK(lines("a\xE2\x82\nb\n", 100, DecodeErrorPolicy::Ignore).bodies == V{"a", "b"});
}

TEST_CASE("LINE: multibyte characters across read boundaries") {
  const std::string in = "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\n";
  for (std::size_t chunk = 1; chunk < 12; ++chunk)
    CHECK(lines(in, 100, DecodeErrorPolicy::Fail, "UTF-8", chunk).bodies ==
          V{"\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC"});
}

TEST_CASE("charsets: ISO-8859-1 and Shift_JIS through iconv") {
  CHECK(lines("caf\xE9\nx\n", 100, DecodeErrorPolicy::Fail, "ISO-8859-1").bodies ==
        V{"caf\xC3\xA9", "x"});
  // "あ" in Shift_JIS is 82 A0.
  CHECK(lines("\x82\xA0\n", 100, DecodeErrorPolicy::Fail, "Shift_JIS").bodies == V{"\xE3\x81\x82"});
  auto bad = lines("a\n\x82\n", 100, DecodeErrorPolicy::Fail, "Shift_JIS");
  CHECK(bad.bad);
  CHECK(lines("a\n\x82\n", 100, DecodeErrorPolicy::Replace, "Shift_JIS").bodies ==
        V{"a", "\xEF\xBF\xBD"});
  // Splitting by characters after decoding.
  CHECK(lines("\xE9\xE9\xE9\n", 2, DecodeErrorPolicy::Fail, "ISO-8859-1").bodies ==
        V{"\xC3\xA9\xC3\xA9", "\xC3\xA9"});
}

TEST_CASE("charsets: unknown and non-ASCII-compatible ones are refused with the list") {
  std::string err;
  CHECK_FALSE(Decoder::open("NO-SUCH-CHARSET", &err));
  CHECK(err.find("unknown charset 'NO-SUCH-CHARSET'") != std::string::npos);
  CHECK(err.find("UTF-8") != std::string::npos);
  CHECK_FALSE(Decoder::open("UTF-16", &err));
  CHECK(err.find("not ASCII-compatible") != std::string::npos);
}

TEST_CASE("BLOB: whole file, or pieces of maxBlobLength") {
  BlobDeserializer des(4);
  sdk::EventBatch out;
  CHECK(des.step("abcdefghij", false, out).consumed == 4);
  CHECK(des.step("efghij", false, out).consumed == 4);
  CHECK(des.step("ij", false, out).kind == Step::NeedMore);
  CHECK(des.step("ij", true, out).consumed == 2);
  CHECK(des.step("", true, out).kind == Step::End);
  REQUIRE(out.size() == 3);
  CHECK(out[2].body == "ij");
  BlobDeserializer big(100);
  sdk::EventBatch one;
  const std::string bin("\x00\xFF\n\x01", 4);
  CHECK(big.step(bin, true, one).consumed == 4);
  CHECK(one[0].body == bin);  // raw bytes, no decoding
}
