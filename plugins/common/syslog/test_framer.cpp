// The framers: Flume's newline framing (SyslogUtils' byte machine, LineSplitter) and RFC 6587
// octet counting, with the input cut at every possible point, the bound on what a connection
// keeps, and the framing errors.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "syslog/framer.hpp"
#include "test_util.hpp"

using namespace sluice::plugins::syslog;
using namespace sluice::plugins::syslog::testing;

namespace {

FramerOptions opts(int eventSize = kDefaultEventSize, Framing f = Framing::Auto) {
  FramerOptions o;
  o.eventSize = eventSize;
  o.framing = f;
  return o;
}

std::vector<std::string> texts(const std::vector<Cut>& cuts) {
  std::vector<std::string> out;
  out.reserve(cuts.size());
  for (const Cut& c : cuts) out.push_back(c.bytes);
  return out;
}

// The same messages whatever the chunk size, down to one byte at a time.
template <class Framer>
void checkSplitInvariant(const std::string& input, const FramerOptions& o) {
  const std::vector<Cut> whole = cutAll<Framer>(input, o);
  for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
    const std::vector<Cut> cut = cutAll<Framer>(input, o, chunk);
    INFO("chunk ", chunk);
    REQUIRE(cut.size() == whole.size());
    for (std::size_t i = 0; i < cut.size(); ++i) {
      CHECK(cut[i].bytes == whole[i].bytes);
      CHECK(cut[i].incomplete == whole[i].incomplete);
      CHECK(cut[i].framed == whole[i].framed);
      CHECK(cut[i].badPriority == whole[i].badPriority);
      CHECK(cut[i].priorityDigits == whole[i].priorityDigits);
    }
  }
}

std::string frame(const std::string& content) {
  return std::to_string(content.size()) + " " + content;
}

const std::string kF(26, 'f'), kG(27, 'g');
const std::string kMixed = "<13>1 - host a\n\n\n"         // newline framing, blank lines
                           + frame("<13>1 - host b\nc")   // a frame with a '\n' inside
                           + "<14>Oct 11 22:14:15 h d\n"  // a line right after a frame
                           + frame("<15>1 - h e") + "\n"  // a frame followed by '\n'
                           + "<16>1 - host " + kF + "\n"  // a line over eventSize 32
                           + frame("<17>1 - host " + kG)  // a frame over eventSize 32
                           + "hi <10> bad\n";
const std::vector<std::string> kMixedMessages = {
    "<13>1 - host a",
    "<13>1 - host b\nc",
    "<14>Oct 11 22:14:15 h d",
    "<15>1 - h e",
    "<16>1 - host " + kF.substr(0, 19),  // 32 bytes: Incomplete
    kF.substr(19),                       // the rest of the line
    "<17>1 - host " + kG.substr(0, 19),  // the frame's first 32 bytes
    kG.substr(19),                       // and its rest
    "hi <10> bad",
};

}  // namespace

TEST_CASE("UtilsFramer: newline framing and octet counting in one stream, any split") {
  const FramerOptions o = opts(32);
  const std::vector<Cut> cuts = cutAll<UtilsFramer>(kMixed, o);
  CHECK(texts(cuts) == kMixedMessages);
  CHECK(cuts[1].framed);
  CHECK_FALSE(cuts[2].framed);
  CHECK(cuts[4].incomplete);
  CHECK_FALSE(cuts[5].incomplete);
  CHECK(cuts[5].badPriority);  // the rest of a cut line does not start with '<'
  CHECK(cuts[6].incomplete);
  CHECK(cuts[6].framed);
  CHECK(cuts[7].framed);
  CHECK(cuts[7].badPriority);
  CHECK(cuts[8].badPriority);
  CHECK(cuts[0].priorityDigits == 2);
  checkSplitInvariant<UtilsFramer>(kMixed, o);
}

TEST_CASE("LineFramer: newline framing and octet counting in one stream, any split") {
  const FramerOptions o = opts(32);
  const std::vector<Cut> cuts = cutAll<LineFramer>(kMixed, o);
  CHECK(texts(cuts) == kMixedMessages);
  CHECK(cuts[4].incomplete);
  CHECK(cuts[6].incomplete);
  CHECK_FALSE(cuts[7].incomplete);
  checkSplitInvariant<LineFramer>(kMixed, o);
  BufferedFramer<LineFramer> f(o);
  f.feed(kMixed, [](const Message&) {});
  CHECK(f.framer().stats().emptyLines == 3);  // two blank lines and the '\n' after a frame
  CHECK(f.framer().stats().octetFrames == 3);
  CHECK(f.framer().stats().oversizedFrames == 1);
  CHECK(f.framer().stats().incomplete == 2);
}

TEST_CASE("SyslogUtils' machine: a '\\n' inside <...> belongs to the priority") {
  const std::vector<Cut> cuts = cutAll<UtilsFramer>("<13\nhello\n<1>ok\n", opts());
  REQUIRE(cuts.size() == 2);
  CHECK(cuts[0].bytes == "<13\nhello");
  CHECK(cuts[0].badPriority);
  CHECK(cuts[1].bytes == "<1>ok");
  CHECK_FALSE(cuts[1].badPriority);
  CHECK(cuts[1].priorityDigits == 1);
  // More than three digits, an empty priority, and no '<' are invalid.
  for (const char* bad : {"<1234>x\n", "<>x\n", "x<13>\n", "<1a>x\n"}) {
    const std::vector<Cut> c = cutAll<UtilsFramer>(bad, opts());
    REQUIRE(c.size() == 1);
    CHECK(c[0].badPriority);
  }
}

TEST_CASE("a line of exactly eventSize bytes leaves its '\\n' behind, which is skipped") {
  const std::vector<Cut> cuts = cutAll<UtilsFramer>("<13>abcdef\n<13>x\n", opts(10));
  REQUIRE(cuts.size() == 2);
  CHECK(cuts[0].bytes == "<13>abcdef");
  CHECK(cuts[0].incomplete);
  CHECK(cuts[1].bytes == "<13>x");
  // eventSize below 6 is raised to 6, the smallest with which SyslogUtils' cut is reached.
  const std::vector<Cut> small = cutAll<UtilsFramer>("<134>abcdefgh\n", opts(1));
  REQUIRE(small.size() == 3);
  CHECK(small[0].bytes == "<134>a");
}

TEST_CASE("octet counting: what is and is not a count") {
  // Digits not followed by a space, or too many digits: a line (Flume's behaviour).
  CHECK(texts(cutAll<UtilsFramer>("12abc\n", opts())) == std::vector<std::string>{"12abc"});
  CHECK(texts(cutAll<UtilsFramer>("12345678901 x\n", opts())) ==
        std::vector<std::string>{"12345678901 x"});
  CHECK(texts(cutAll<UtilsFramer>("0 x\n", opts())) == std::vector<std::string>{"0 x"});
  // NewlineOnly: never a count.
  CHECK(texts(cutAll<UtilsFramer>("5 <13>x\n", opts(2500, Framing::NewlineOnly))) ==
        std::vector<std::string>{"5 <13>x"});
  // The rest of a line cut at eventSize is not a message start: "10 <13>..." in it is data.
  const std::vector<Cut> cont = cutAll<LineFramer>("<13>1 - h 10 <13>abcdefghijk\n", opts(10));
  CHECK(texts(cont) == std::vector<std::string>{"<13>1 - h ", "10 <13>abc", "defghijk"});
  // A frame that ends inside "<...>".
  const std::vector<Cut> open = cutAll<UtilsFramer>("3 <132 <>", opts());
  REQUIRE(open.size() == 2);
  CHECK(open[0].bytes == "<13");
  CHECK_FALSE(open[0].badPriority);
  CHECK(open[0].priorityDigits == 2);
  CHECK(open[1].bytes == "<>");
  CHECK(open[1].badPriority);
  const std::vector<Cut> lone = cutAll<UtilsFramer>("1 <", opts());
  REQUIRE(lone.size() == 1);
  CHECK(lone[0].badPriority);
}

TEST_CASE("octet counting: a count above maxFrameLength is an error, counted") {
  FramerOptions o = opts();
  o.maxFrameLength = 1000;
  for (int which = 0; which < 2; ++which) {
    bool ok = true;
    const std::vector<Cut> cuts = which ? cutAll<UtilsFramer>("<13>x\n1001 <13>y", o, 0, &ok)
                                        : cutAll<LineFramer>("<13>x\n1001 <13>y", o, 0, &ok);
    CHECK_FALSE(ok);
    CHECK(texts(cuts) == std::vector<std::string>{"<13>x"});
  }
  UtilsFramer f(o);
  FrameStep s = f.next("9999999999 <13>");
  CHECK(s.kind == FrameStep::Error);
  CHECK(s.consumed == 0);
  CHECK(std::string(s.error).find("octet count") != std::string::npos);
  CHECK(f.stats().badCounts == 1);
  // 1000 itself is fine.
  s = f.next("1000 <13>");
  CHECK(s.kind == FrameStep::NeedMore);
}

TEST_CASE("the framers keep at most maxKeptBytes, whatever arrives") {
  const FramerOptions o = opts(100);
  const std::string noNewline(10'000, 'x');
  const std::string longFrame = "5000 " + std::string(5000, 'y');
  for (const std::string* input : {&noNewline, &longFrame}) {
    BufferedFramer<UtilsFramer> u(o);
    BufferedFramer<LineFramer> l(o);
    std::size_t bytes = 0, messages = 0;
    for (char c : *input) {
      u.feed(std::string_view(&c, 1), [&](const Message& m) {
        bytes += m.bytes.size();
        ++messages;
      });
      l.feed(std::string_view(&c, 1), [](const Message&) {});
      REQUIRE(u.kept() <= u.framer().maxKeptBytes());
      REQUIRE(l.kept() <= l.framer().maxKeptBytes());
    }
    CHECK(messages >= input->size() / 100 - 1);
  }
}

TEST_CASE("messages point into the offered bytes (no copy)") {
  UtilsFramer f(opts());
  const std::string view = "<13>1 - h a\n18 <13>1 - h bbbbbbbb";
  FrameStep s = f.next(view);
  REQUIRE(s.kind == FrameStep::Message);
  CHECK(s.message.bytes.data() == view.data());
  CHECK(s.consumed == 12);
  s = f.next(std::string_view(view).substr(12));
  REQUIRE(s.kind == FrameStep::Message);
  CHECK(s.message.bytes.data() == view.data() + 15);
  CHECK(s.message.bytes == "<13>1 - h bbbbbbbb");
  CHECK_FALSE(f.pending());
  // An unfinished message: the count is consumed, the content is kept.
  s = f.next("18 <13>1 -");
  CHECK(s.kind == FrameStep::NeedMore);
  CHECK(s.consumed == 3);
  CHECK(f.pending());
  s = f.next("<13>1 - h bbbbbbbb");
  REQUIRE(s.kind == FrameStep::Message);
  CHECK(s.consumed == 18);
}

TEST_CASE("frameDatagram as SyslogUtils reads a UDP datagram") {
  const std::optional<Message> m = frameDatagram("<13>1 - h a\nignored");
  REQUIRE(m);
  CHECK(m->bytes == "<13>1 - h a");
  CHECK(m->priorityDigits == 2);
  CHECK_FALSE(m->badPriority);
  CHECK(frameDatagram("no priority")->badPriority);
  CHECK(frameDatagram("<13\n>x")->bytes == "<13\n>x");  // '\n' in the priority is data
  CHECK_FALSE(frameDatagram(""));
  const std::optional<Message> cut = frameDatagram("<13>abcdefghij", 10);
  REQUIRE(cut);
  CHECK(cut->bytes == "<13>abcdef");
  CHECK(cut->incomplete);
}
