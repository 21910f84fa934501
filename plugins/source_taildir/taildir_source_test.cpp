// Unit tests: the position file format (including a file as Flume writes it), the line splitter
// and multiline joiner, and the source itself on real files in a temporary directory with an
// in-test ChannelProcessor that records what it accepts and can refuse (a full channel;
// plugins/testing/source_test_support.hpp).
#include "taildir_source.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "host_context.hpp"
#include "position_file.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"
#include "source_test_support.hpp"

namespace sdk = sluice::sdk;
namespace fs = std::filesystem;
using namespace sluice::plugins::taildir;
using namespace std::chrono_literals;

namespace {

using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::RecordingProcessor;
using sluice::plugins::testing::waitFor;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/taildir-test-XXXXXX";
    path = ::mkdtemp(tmpl);
    fs::create_directories(path / "logs");
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void append(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::app | std::ios::binary);
  out << text;
}

std::string lines(int from, int to, const std::string& prefix = "line-") {
  std::string out;
  for (int i = from; i < to; ++i) out += prefix + std::to_string(i) + "\n";
  return out;
}

std::vector<std::string> expected(int from, int to, const std::string& prefix = "line-") {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

using KV = std::vector<std::pair<std::string, std::string>>;

sdk::Context contextOf(const TempDir& d, const KV& extra = {}) {
  sdk::Context ctx("a1.sources.r1");
  ctx.put("filegroups", "g1");
  ctx.put("filegroups.g1", (d.path / "logs").string() + "/app\\.log.*");
  ctx.put("positionFile", (d.path / "pos" / "taildir_position.json").string());
  ctx.put("batchSize", "7");
  for (const auto& [k, v] : extra) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, taildirSourceSchema(), ctx, "TAILDIR");
}

struct Fixture {
  RecordingProcessor processor;
  CaptureLogger log;
  TaildirSource source;
  explicit Fixture(const sdk::Context& ctx) {
    sdk::HostAccess::attach(source, "r1", &log);
    sdk::HostAccess::setChannelProcessor(source, &processor);
    sdk::Result r = configure(source, ctx);
    REQUIRE_MESSAGE(r.ok(), r.error());
  }
  void start() {
    sdk::Result r = sdk::HostAccess::start(source);
    REQUIRE_MESSAGE(r.ok(), r.error());
  }
  void stop() { REQUIRE(sdk::HostAccess::stop(source).ok()); }
  int64_t counter(const char* name) {
    auto v = source.sourceCounter().get(name);
    REQUIRE_MESSAGE(v.has_value(), name);
    return *v;
  }
};

std::string configError(const sdk::Context& ctx) {
  TaildirSource s;
  sdk::Result r = configure(s, ctx);
  return r.ok() ? std::string() : r.error();
}

std::vector<PositionEntry> readPositions(const fs::path& p) {
  std::string text;
  REQUIRE(readWholeFile(p.string(), &text));
  std::vector<PositionEntry> out;
  std::string err;
  REQUIRE_MESSAGE(parsePositions(text, &out, &err), err);
  return out;
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  sluice::plugins::testing::checkReadmeMatchesSchema(taildirSourceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("position file: Flume's format round trip") {
  std::vector<PositionEntry> in{{1837265, 48, "/var/log/a.log"},
                                {7, 0, "/x/\"quoted\"\\ back\tslash/é.log"}};
  const std::string text = formatPositions(in);
  CHECK(text.rfind("[{\"inode\":1837265,\"pos\":48,\"file\":\"/var/log/a.log\"},", 0) == 0);
  std::vector<PositionEntry> out;
  std::string err;
  REQUIRE(parsePositions(text, &out, &err));
  CHECK(out == in);
  CHECK(formatPositions({}) == "[]");
}

TEST_CASE("position file: a file name that is not UTF-8 survives the round trip byte for byte") {
  // Latin-1 "café", and a byte that starts no UTF-8 sequence: Linux names are bytes.
  const std::vector<PositionEntry> in{{11, 3, "/var/log/caf\xe9.log"}, {12, 0, "/var/log/\xff\x80"}};
  std::vector<PositionEntry> out;
  std::string err;
  REQUIRE_MESSAGE(parsePositions(formatPositions(in), &out, &err), err);
  CHECK(out == in);
}

TEST_CASE("position file: reads a file written by Flume, byte for byte back") {
  std::string text;
  REQUIRE(readWholeFile(std::string(SLUICE_TAILDIR_TESTDATA) + "/flume_position.json", &text));
  std::vector<PositionEntry> out;
  std::string err;
  REQUIRE_MESSAGE(parsePositions(text, &out, &err), err);
  REQUIRE(out.size() == 2);
  CHECK(out[0] == PositionEntry{1837265, 48, "/var/log/test1/example.log"});
  CHECK(out[1] == PositionEntry{1837270, 1024, "/var/log/test2/app.log"});
  CHECK(formatPositions(out) == text);  // what we write, Flume reads
}

TEST_CASE("position file: tolerant of layout, strict about structure") {
  std::vector<PositionEntry> out;
  std::string err;
  std::size_t skipped = 0;
  CHECK(parsePositions("  \n", &out, &err));
  CHECK(out.empty());
  REQUIRE(parsePositions(
      "[ {\"file\" : \"/a\\u00e9\", \"x\": {\"y\": [1, null, true]}, \"pos\": 5.0, \"inode\": 9},"
      " {\"inode\": 1} ]",
      &out, &err, &skipped));
  REQUIRE(out.size() == 1);
  CHECK(out[0] == PositionEntry{9, 5, "/a\xc3\xa9"});
  CHECK(skipped == 1);
  for (const char* bad : {"[", "{}", "[{\"inode\":1,\"pos\":2,\"file\":\"a\"", "[{\"inode\":-1}]",
                          "[{\"inode\":99999999999999999999}]", "[] x", "[{\"inode\":\"1\"}]",
                          "[{\"file\":\"a\\q\"}]"}) {
    CHECK_MESSAGE(!parsePositions(bad, &out, &err), bad);
    CHECK(out.empty());
    CHECK(err.find("offset") != std::string::npos);
  }
}

TEST_CASE("position file: written atomically, no temporary left") {
  TempDir d;
  const std::string p = (d.path / "pos.json").string();
  writeFileAtomically(p, "[1]");
  writeFileAtomically(p, "[2]");
  std::string text;
  REQUIRE(readWholeFile(p, &text));
  CHECK(text == "[2]");
  CHECK(!fs::exists(p + ".tmp"));
  CHECK_THROWS_WITH_AS(writeFileAtomically((d.path / "no" / "dir.json").string(), "x"),
                       doctest::Contains("cannot create"), std::runtime_error);
}

TEST_CASE("line splitter: chunks, CRLF, partial lines and the cap") {
  LineSplitter sp(8);
  std::vector<std::string> got;
  std::vector<uint64_t> ends;
  int truncated = 0;
  auto on = [&](const Line& l) {
    got.emplace_back(l.body);
    ends.push_back(l.end);
    truncated += l.truncated;
    return true;
  };
  std::string data = "ab\r\ncd";
  std::size_t used = sp.scan(data.data(), data.size(), false, on);
  CHECK(used == 4);  // "cd" waits for its newline
  data = "cd\nTOOLONGLINE_0123456789";
  used = sp.scan(data.data(), data.size(), false, on);
  CHECK(used == data.size());  // the long line's head is kept, the rest dropped
  CHECK(sp.skipping());
  data = "more\nlast";
  used = sp.scan(data.data(), data.size(), false, on);
  CHECK(used == 5);
  CHECK(got == std::vector<std::string>{"ab", "cd", "TOOLONGL"});
  CHECK(truncated == 1);
  CHECK(ends == std::vector<uint64_t>{4, 7, 7 + 22 + 5});
  data = "last";
  used = sp.scan(data.data(), data.size(), true, on);  // idle: the partial line goes out
  CHECK(used == 4);
  CHECK(got.back() == "last");
  CHECK(sp.offset() == 38);
}

TEST_CASE("line splitter: stops after the line the callback refuses") {
  LineSplitter sp(100);
  std::string data = "a\nb\nc\n";
  int n = 0;
  std::size_t used = sp.scan(data.data(), data.size(), false, [&](const Line&) { return ++n < 2; });
  CHECK(n == 2);
  CHECK(used == 4);
  CHECK(sp.offset() == 4);
}

namespace {
std::vector<std::string> joinAll(const std::string& text, const char* pattern, bool negate,
                                 bool after, std::size_t maxLines = 500) {
  MultilineSettings ms;
  std::string err;
  ms.pattern = sluice::plugins::javaregex::Regex::compile(
      pattern, sluice::plugins::javaregex::Mode::Find, &err);
  REQUIRE(ms.pattern);
  ms.negate = negate;
  ms.matchAfter = after;
  ms.maxLines = maxLines;
  Multiline ml(ms);
  LineSplitter sp(1000);
  std::vector<std::string> out;
  auto emit = [&](Aggregate&& a) { out.push_back(a.body); };
  sp.scan(text.data(), text.size(), false, [&](const Line& l) {
    ml.feed(l, emit);
    return true;
  });
  ml.flush(emit);
  return out;
}
}  // namespace

TEST_CASE("multiline: Java stack traces (continuation lines start with whitespace, after)") {
  const std::string text =
      "ERROR boom\n\tat a.B(B.java:1)\n\tat c.D(D.java:2)\nINFO fine\nWARN x\n  detail\n";
  CHECK(joinAll(text, "^\\s", false, true) ==
        std::vector<std::string>{"ERROR boom\n\tat a.B(B.java:1)\n\tat c.D(D.java:2)", "INFO fine",
                                 "WARN x\n  detail"});
}

TEST_CASE("multiline: negate + after joins lines that do not start with a timestamp") {
  const std::string text = "2024-01-01 a\nx\ny\n2024-01-02 b\n2024-01-03 c\nz\n";
  CHECK(joinAll(text, "^\\d{4}-", true, true) ==
        std::vector<std::string>{"2024-01-01 a\nx\ny", "2024-01-02 b", "2024-01-03 c\nz"});
}

TEST_CASE("multiline: before joins continued lines (trailing backslash) with the next one") {
  const std::string text = "a \\\nb \\\nc\nd\n";
  CHECK(joinAll(text, "\\\\$", false, false) == std::vector<std::string>{"a \\\nb \\\nc", "d"});
}

TEST_CASE("multiline: maxLines drops the extra lines") {
  const std::string text = "E\n 1\n 2\n 3\n 4\nF\n";
  CHECK(joinAll(text, "^ ", false, true, 3) == std::vector<std::string>{"E\n 1\n 2", "F"});
}

TEST_CASE("configuration errors name the key") {
  TempDir d;
  sdk::Context ctx("a1.sources.r1");
  CHECK(configError(ctx).find("a1.sources.r1.filegroups") != std::string::npos);
  ctx.put("filegroups", "g1 g2");
  ctx.put("filegroups.g1", "/tmp/.*");
  CHECK(configError(ctx).find("filegroups.g2 is missing") != std::string::npos);
  CHECK(configError(contextOf(d, {{"filegroups.g1", "/tmp/(unclosed"}}))
            .find("a1.sources.r1.filegroups.g1: bad file-name regex") != std::string::npos);
  CHECK(configError(contextOf(d, {{"filegroups.g1", "nodir"}})).find("filegroups.g1") !=
        std::string::npos);
  CHECK(configError(contextOf(d, {{"headers.g9.k", "v"}})).find("headers.g9.k") !=
        std::string::npos);
  CHECK(configError(contextOf(d, {{"multiline.pattern", "("}})).find("multiline.pattern") !=
        std::string::npos);
  CHECK(configError(contextOf(d, {{"batchSize", "0"}})).find("batchSize") != std::string::npos);
  CHECK(configError(contextOf(d, {{"maxBackoffSleep", "10"}, {"backoffSleepIncrement", "100"}}))
            .find("maxBackoffSleep") != std::string::npos);
  CHECK(configError(contextOf(d)).empty());
}

TEST_CASE("the host fills the schema defaults configure() reads") {
  TempDir d;
  TaildirSource s;
  sdk::Context ctx("a1.sources.r1");
  ctx.put("filegroups.g1", (d.path / "logs").string() + "/app\\.log.*");
  REQUIRE(configure(s, ctx).ok());
  CHECK(s.settings().batchSize == 100);  // Flume's default, declared only in the schema
  CHECK(s.settings().idleTimeout == std::chrono::milliseconds(120000));
  CHECK(s.settings().writePosInterval == std::chrono::milliseconds(3000));
  CHECK(s.settings().backoffSleepIncrement == 1000);
  CHECK(s.settings().maxBackoffSleep == 5000);
  CHECK(s.settings().maxLineLength == std::size_t{1} << 20);
  CHECK(s.settings().positionFile.find("/.flume/taildir_position.json") != std::string::npos);
}

TEST_CASE("multiline keys without multiline.pattern: a value set is warned about, defaults not") {
  TempDir d;
  sluice::plugins::testing::CaptureLogger log;
  TaildirSource quiet;
  sdk::HostAccess::attach(quiet, "r1", &log);
  REQUIRE(configure(quiet, contextOf(d)).ok());
  CHECK_FALSE(log.has("has no effect"));
  TaildirSource set;
  sdk::HostAccess::attach(set, "r1", &log);
  REQUIRE(configure(set, contextOf(d, {{"multiline.maxLines", "3"}})).ok());
  CHECK(log.has("a1.sources.r1.multiline.maxLines has no effect without multiline.pattern"));
  CHECK_FALSE(log.has("multiline.timeout"));
}

TEST_CASE("tails, follows a rename, writes committed positions, resumes without duplicates") {
  TempDir d;
  const fs::path log = d.path / "logs" / "app.log";
  append(log, lines(0, 20));
  const sdk::Context ctx = contextOf(d, {{"writePosInterval", "50"}});
  {
    Fixture f(ctx);
    f.start();
    f.start();  // repeat start: no effect
    REQUIRE(waitFor([&] { return f.processor.count() == 20; }));
    append(log, lines(20, 30));
    REQUIRE(waitFor([&] { return f.processor.count() == 30; }));
    // Rename rotation: the renamed file still matches app\.log.*; its lines are not read again.
    fs::rename(log, d.path / "logs" / "app.log.1");
    append(d.path / "logs" / "app.log.1", lines(30, 35));  // the writer still had it open
    append(log, lines(35, 40));
    REQUIRE(waitFor([&] { return f.processor.count() == 40; }));
    CHECK(waitFor([&] { return f.counter("RotationsDetectedCount") == 1; }));
    f.stop();
    f.stop();
    auto got = f.processor.snapshot();
    std::sort(got.begin(), got.end());
    auto want = expected(0, 40);
    std::sort(want.begin(), want.end());
    CHECK(got == want);
  }
  const auto pos = readPositions(d.path / "pos" / "taildir_position.json");
  REQUIRE(pos.size() == 2);
  for (const auto& e : pos) CHECK(e.pos == fs::file_size(e.file));
  // Restart: nothing new is read again; new lines are.
  append(log, lines(40, 45));
  Fixture f(ctx);
  f.start();
  REQUIRE(waitFor([&] { return f.processor.count() == 5; }));
  f.stop();  // then nothing more can arrive: what came is all the source read
  CHECK(f.processor.snapshot() == expected(40, 45));
}

TEST_CASE("copytruncate: a file that shrinks, or is replaced by new content, restarts at 0") {
  TempDir d;
  const fs::path log = d.path / "logs" / "app.log";
  append(log, lines(0, 50));
  Fixture f(contextOf(d));
  f.start();
  REQUIRE(waitFor([&] { return f.processor.count() == 50; }));
  fs::resize_file(log, 0);
  append(log, lines(50, 53));
  REQUIRE(waitFor([&] { return f.processor.count() == 53; }));
  auto got = f.processor.snapshot();
  auto want = expected(0, 53);
  CHECK(got == want);
  CHECK(f.counter("TruncationsDetectedCount") >= 1);
}

TEST_CASE("truncation while running and grown past the old position is detected") {
  TempDir d;
  const fs::path log = d.path / "logs" / "app.log";
  append(log, lines(0, 10, "a-"));
  Fixture f(contextOf(
      d, {{"inotify", "false"}, {"backoffSleepIncrement", "300"}, {"maxBackoffSleep", "300"}}));
  f.start();
  REQUIRE(waitFor([&] { return f.processor.count() == 10; }));
  {
    std::ofstream out(log, std::ios::trunc | std::ios::binary);
    out << lines(0, 40, "b-");  // bigger than before, within one poll interval
  }
  REQUIRE(waitFor([&] { return f.processor.count() == 50; }));
  auto got = f.processor.snapshot();
  CHECK(std::vector<std::string>(got.begin() + 10, got.end()) == expected(0, 40, "b-"));
}

// copytruncate racing the reader: the file is truncated and written past the read position
// between two reads of one catch-up (here from the channel's side, at the first accepted batch,
// on the reader thread). The second read would return the new content from the middle: a torn
// line, and the new lines before the old position lost.
TEST_CASE("truncated and grown past the read position between two reads of one catch-up") {
  TempDir d;
  const fs::path log = d.path / "logs" / "app.log";
  // More than one read (512 KiB plus maxLineLength): 3.6 MB of 12-byte lines.
  constexpr int kOld = 300000, kNew = 250000;
  append(log, lines(0, kOld, "old-"));  // "old-<n>": 5 to 10 bytes and a newline
  Fixture f(contextOf(d, {{"batchSize", "1000"}}));
  std::atomic<bool> done{false};
  f.processor.onBatch = [&] {
    if (done.exchange(true)) return;
    // Longer lines than before, so a read at a stale offset starts inside one.
    std::ofstream out(log, std::ios::trunc | std::ios::binary);
    out << lines(0, kNew, "new-line-");
  };
  f.start();
  REQUIRE(waitFor(
      [&] {
        const auto got = f.processor.snapshot();
        return !got.empty() && got.back() == "new-line-" + std::to_string(kNew - 1);
      },
      60s));
  const auto got = f.processor.snapshot();
  // Lines of the old content read before the truncation (the first read), then every new line.
  std::size_t old = 0;
  while (old < got.size() && got[old].rfind("old-", 0) == 0) ++old;
  REQUIRE(old >= 1000);
  CHECK(std::vector<std::string>(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(old)) ==
        expected(0, static_cast<int>(old), "old-"));
  CHECK(std::vector<std::string>(got.begin() + static_cast<std::ptrdiff_t>(old), got.end()) ==
        expected(0, kNew, "new-line-"));
  CHECK(f.counter("TruncationsDetectedCount") == 1);
}

TEST_CASE("partial last line: waits for the newline, sent after idleTimeout") {
  TempDir d;
  const fs::path log = d.path / "logs" / "app.log";
  append(log, "complete\npart");
  Fixture f(contextOf(d, {{"idleTimeout", "600"}}));
  // When each batch arrived, to tell how long the partial line was held.
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  f.processor.onBatch = [&] {
    std::lock_guard<std::mutex> lock(mu);
    arrivals.push_back(std::chrono::steady_clock::now());
  };
  f.start();
  REQUIRE(waitFor([&] { return f.processor.count() == 1; }));
  const auto appended = std::chrono::steady_clock::now();
  append(log, "ial");
  REQUIRE(waitFor([&] { return f.processor.count() == 2; }));
  {
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(arrivals.size() == 2);
    // Still waiting for its newline 150 ms after the append: sent by idleTimeout (600 ms).
    CHECK(arrivals[1] - appended >= 150ms);
  }
  CHECK(f.processor.snapshot() == std::vector<std::string>{"complete", "partial"});
  CHECK(f.counter("PartialLinesFlushedCount") == 1);
  CHECK(waitFor([&] { return f.counter("FilesClosedCount") >= 1; }));
  append(log, "next\n");  // a closed idle file is reopened when it changes
  REQUIRE(waitFor([&] { return f.processor.count() == 3; }));
  CHECK(f.processor.snapshot().back() == "next");
}

TEST_CASE("long lines are capped and counted; headers, fileHeader and byteOffsetHeader") {
  TempDir d;
  const fs::path log = d.path / "logs" / "app.log";
  append(log, "short\n" + std::string(5000, 'x') + "\nafter\n");
  Fixture f(contextOf(d, {{"maxLineLength", "100"},
                          {"headers.g1.dc", "nyc1"},
                          {"fileHeader", "true"},
                          {"fileHeaderKey", "path"},
                          {"byteOffsetHeader", "true"}}));
  f.start();
  REQUIRE(waitFor([&] { return f.processor.count() == 3; }));
  auto got = f.processor.snapshot();
  CHECK(got[0] == "short");
  CHECK(got[1] == std::string(100, 'x'));
  CHECK(got[2] == "after");
  CHECK(f.counter("LinesTruncatedCount") == 1);
  const sdk::Headers h = f.processor.headersOf(2);
  CHECK(h.get("dc") == "nyc1");
  CHECK(h.get("path") == log.string());
  CHECK(h.get("byteoffset") == std::to_string(6 + 5001));
}

TEST_CASE("a refused batch is read again: nothing lost, nothing duplicated") {
  TempDir d;
  const fs::path log = d.path / "logs" / "app.log";
  Fixture f(contextOf(d, {{"backoffSleepIncrement", "20"}, {"maxBackoffSleep", "50"}}));
  f.processor.refuse = true;
  append(log, lines(0, 30));
  f.start();
  REQUIRE(waitFor([&] { return f.processor.refusedCalls.load() >= 3; }));
  f.processor.refuse = false;
  REQUIRE(waitFor([&] { return f.processor.count() == 30; }));
  f.stop();  // then nothing more can arrive: a duplicate would be in the snapshot
  CHECK(f.processor.snapshot() == expected(0, 30));
  CHECK(f.counter("ChannelWriteFail") >= 3);
}

TEST_CASE("a deleted file is read to its end and closed") {
  TempDir d;
  const fs::path log = d.path / "logs" / "app.log";
  append(log, lines(0, 5));
  Fixture f(contextOf(d));
  f.start();
  REQUIRE(waitFor([&] { return f.processor.count() == 5; }));
  append(log, lines(5, 8) + "tail-without-newline");
  fs::remove(log);
  REQUIRE(waitFor([&] { return f.counter("FilesDeletedCount") == 1; }));
  auto want = expected(0, 8);
  want.push_back("tail-without-newline");
  CHECK(f.processor.snapshot() == want);
  CHECK(f.counter("OpenConnectionCount") == 0);
}

TEST_CASE("skipToEnd starts files found at start-up at their end, later files at 0") {
  TempDir d;
  append(d.path / "logs" / "app.log", lines(0, 10));
  Fixture f(contextOf(d, {{"skipToEnd", "true"}}));
  f.start();
  // The source found the file at start-up and placed itself at its end.
  REQUIRE(waitFor([&] { return f.log.has(") from byte " + std::to_string(lines(0, 10).size())); }));
  append(d.path / "logs" / "app.log", lines(10, 12));
  REQUIRE(waitFor([&] { return f.processor.count() == 2; }));
  append(d.path / "logs" / "app.log.2", lines(0, 3, "new-"));
  REQUIRE(waitFor([&] { return f.processor.count() == 5; }));
  auto got = f.processor.snapshot();
  CHECK(got[0] == "line-10");
  CHECK(got[4] == "new-2");
}

TEST_CASE("multiline in the source: a stack trace is one event, flushed by multiline.timeout") {
  TempDir d;
  Fixture f(contextOf(d, {{"multiline.pattern", "^\\s"}, {"multiline.timeout", "300"}}));
  f.start();
  append(d.path / "logs" / "app.log", "ERROR x\n\tat A\n\tat B\nINFO y\n");
  REQUIRE(waitFor([&] { return f.processor.count() == 2; }));
  CHECK(f.processor.snapshot() == std::vector<std::string>{"ERROR x\n\tat A\n\tat B", "INFO y"});
  CHECK(f.counter("MultilineEventsCount") == 1);
}

TEST_CASE(
    "multiline in the source: match = before, sent at the first line that does not "
    "continue; a trailing continued line by multiline.timeout") {
  TempDir d;
  Fixture f(contextOf(d, {{"multiline.pattern", "\\\\$"},
                          {"multiline.match", "before"},
                          {"multiline.timeout", "300"},
                          {"byteOffsetHeader", "true"}}));
  f.start();
  const std::string joined = "a \\\nb \\\nc\n";
  append(d.path / "logs" / "app.log", joined + "d\n");
  // Both complete without waiting: with before, a line that does not continue ends its event.
  REQUIRE(waitFor([&] { return f.processor.count() == 2; }));
  CHECK(f.processor.snapshot() == std::vector<std::string>{"a \\\nb \\\nc", "d"});
  CHECK(f.processor.headersOf(0).get("byteoffset") == "0");
  CHECK(f.processor.headersOf(1).get("byteoffset") == std::to_string(joined.size()));
  CHECK(f.counter("MultilineEventsCount") == 1);
  append(d.path / "logs" / "app.log", "e \\\n");  // continues, but nothing follows
  REQUIRE(waitFor([&] { return f.processor.count() == 3; }));
  CHECK(f.processor.snapshot().back() == "e \\");
  CHECK(f.counter("MultilineEventsCount") == 1);
}

TEST_CASE("multiline in the source: negate + after, a joined event pending across reads") {
  TempDir d;
  Fixture f(contextOf(d, {{"multiline.pattern", "^\\d{4}-"},
                          {"multiline.negate", "true"},
                          {"multiline.timeout", "60000"}}));
  f.start();
  append(d.path / "logs" / "app.log", "2024-01-01 a\nx\ny\n2024-01-02 b\n");
  REQUIRE(waitFor([&] { return f.processor.count() == 1; }));
  CHECK(f.processor.snapshot() == std::vector<std::string>{"2024-01-01 a\nx\ny"});
  // "2024-01-02 b" waits (the timeout is a minute): the next append continues it.
  append(d.path / "logs" / "app.log", "z\n2024-01-03 c\n");
  REQUIRE(waitFor([&] { return f.processor.count() == 2; }));
  CHECK(f.processor.snapshot() ==
        std::vector<std::string>{"2024-01-01 a\nx\ny", "2024-01-02 b\nz"});
  CHECK(f.counter("MultilineEventsCount") == 2);
}

TEST_CASE("multiline in the source: maxLines drops the extra lines, and they are not re-read") {
  TempDir d;
  const fs::path log = d.path / "logs" / "app.log";
  const sdk::Context ctx = contextOf(
      d,
      {{"multiline.pattern", "^ "}, {"multiline.maxLines", "3"}, {"multiline.timeout", "60000"}});
  append(log, "E\n 1\n 2\n 3\n 4\nF\n");
  {
    Fixture f(ctx);
    f.start();
    REQUIRE(waitFor([&] { return f.processor.count() == 1; }));
    CHECK(f.processor.snapshot() == std::vector<std::string>{"E\n 1\n 2"});
    f.stop();
  }
  // The committed position is after the dropped " 3" and " 4", before the pending "F".
  const auto pos = readPositions(d.path / "pos" / "taildir_position.json");
  REQUIRE(pos.size() == 1);
  CHECK(pos[0].pos == fs::file_size(log) - 2);
  Fixture f(ctx);
  f.start();
  append(log, "G\n");
  REQUIRE(waitFor([&] { return f.processor.count() == 1; }));
  CHECK(f.processor.snapshot() == std::vector<std::string>{"F"});
}

// README: "Positions stay exact: a restart reads the lines of an unsent joined event again."
TEST_CASE("multiline in the source: a joined event pending at stop is read again after a restart") {
  TempDir d;
  const fs::path log = d.path / "logs" / "app.log";
  const sdk::Context ctx =
      contextOf(d, {{"multiline.pattern", "^\\s"}, {"multiline.timeout", "60000"}});
  append(log, "first\nERROR x\n\tat A\n");
  {
    Fixture f(ctx);
    f.start();
    REQUIRE(waitFor([&] { return f.processor.count() == 1; }));  // "first", ended by ERROR
    f.stop();  // "ERROR x\n\tat A" is pending: not sent, not committed
    CHECK(f.processor.snapshot() == std::vector<std::string>{"first"});
  }
  const auto pos = readPositions(d.path / "pos" / "taildir_position.json");
  REQUIRE(pos.size() == 1);
  CHECK(pos[0].pos == std::string("first\n").size());
  append(log, "\tat B\nINFO y\n");
  Fixture f(ctx);
  f.start();
  REQUIRE(waitFor([&] { return f.processor.count() == 1; }));
  CHECK(f.processor.snapshot() == std::vector<std::string>{"ERROR x\n\tat A\n\tat B"});
  CHECK(f.counter("MultilineEventsCount") == 1);
  CHECK(f.counter("TruncationsDetectedCount") == 0);
}

TEST_CASE("polling without inotify still sees new files and lines") {
  TempDir d;
  Fixture f(contextOf(
      d, {{"inotify", "false"}, {"backoffSleepIncrement", "50"}, {"maxBackoffSleep", "100"}}));
  f.start();
  append(d.path / "logs" / "app.log", lines(0, 3));
  REQUIRE(waitFor([&] { return f.processor.count() == 3; }));
  append(d.path / "logs" / "app.log", lines(3, 6));
  REQUIRE(waitFor([&] { return f.processor.count() == 6; }));
  CHECK(f.processor.snapshot() == expected(0, 6));
}

TEST_CASE("cachePatternMatching on or off, inotify on or off: files created later are found") {
  for (const char* cache : {"true", "false"})
    for (const char* inotify : {"true", "false"}) {
      CAPTURE(cache);
      CAPTURE(inotify);
      TempDir d;
      append(d.path / "logs" / "app.log", lines(0, 2));
      Fixture f(contextOf(d, {{"cachePatternMatching", cache},
                              {"inotify", inotify},
                              {"backoffSleepIncrement", "50"},
                              {"maxBackoffSleep", "100"}}));
      f.start();
      REQUIRE(waitFor([&] { return f.processor.count() == 2; }));
      // A new matching file changes the directory (its mtime, an inotify event); a file that
      // does not match the pattern is never read.
      append(d.path / "logs" / "other.txt", lines(100, 101));
      append(d.path / "logs" / "app.log.1", lines(2, 4));
      REQUIRE(waitFor([&] { return f.processor.count() == 4; }));
      append(d.path / "logs" / "app.log.2", lines(4, 6));
      REQUIRE(waitFor([&] { return f.processor.count() == 6; }));
      std::vector<std::string> got = f.processor.snapshot();
      std::sort(got.begin(), got.end());
      std::vector<std::string> want = expected(0, 6);
      std::sort(want.begin(), want.end());
      CHECK(got == want);
      f.stop();
    }
}

TEST_CASE("a corrupt position file is set aside, not fatal") {
  TempDir d;
  fs::create_directories(d.path / "pos");
  append(d.path / "pos" / "taildir_position.json", "[{\"inode\":");
  append(d.path / "logs" / "app.log", lines(0, 2));
  Fixture f(contextOf(d));
  f.start();
  REQUIRE(waitFor([&] { return f.processor.count() == 2; }));
  CHECK(fs::exists(d.path / "pos" / "taildir_position.json.corrupt"));
}

TEST_CASE("a thousand files: all read by one thread, idle ones closed, reopened on change") {
  TempDir d;
  constexpr int kFiles = 1000;
  for (int i = 0; i < kFiles; ++i)
    append(d.path / "logs" / ("app.log." + std::to_string(i)), "file-" + std::to_string(i) + "\n");
  Fixture f(contextOf(d, {{"idleTimeout", "300"}}));
  f.start();
  REQUIRE(waitFor([&] { return f.processor.count() == kFiles; }, 60s));
  REQUIRE(waitFor([&] { return f.counter("OpenConnectionCount") == 0; }, 30s));
  CHECK(f.counter("FilesClosedCount") == kFiles);
  append(d.path / "logs" / "app.log.500", "again\n");
  REQUIRE(waitFor([&] { return f.processor.count() == kFiles + 1; }));
  CHECK(f.processor.snapshot().back() == "again");
  auto got = f.processor.snapshot();
  std::sort(got.begin(), got.end());
  CHECK(std::adjacent_find(got.begin(), got.end()) == got.end());
}

TEST_CASE("migration: a position file written by Flume is honoured, also after a rename") {
  TempDir d;
  const fs::path log = d.path / "logs" / "app.log";
  append(log, lines(0, 10));
  const uint64_t pos4 = lines(0, 4).size();
  struct stat st {};
  REQUIRE(::stat(log.c_str(), &st) == 0);
  fs::create_directories(d.path / "pos");
  // As Flume's Gson writes it; then the file is rotated while no agent runs.
  append(d.path / "pos" / "taildir_position.json", "[{\"inode\":" + std::to_string(st.st_ino) +
                                                       ",\"pos\":" + std::to_string(pos4) +
                                                       ",\"file\":\"" + log.string() + "\"}]");
  fs::rename(log, d.path / "logs" / "app.log.1");
  append(log, lines(0, 2, "new-"));
  Fixture f(contextOf(d));
  f.start();
  REQUIRE(waitFor([&] { return f.processor.count() == 8; }));
  f.stop();  // then nothing more can arrive
  auto got = f.processor.snapshot();
  std::sort(got.begin(), got.end());
  auto want = expected(4, 10);
  want.push_back("new-0");
  want.push_back("new-1");
  std::sort(want.begin(), want.end());
  CHECK(got == want);
  // What sluice wrote back is Flume's format, with the renamed file's new path.
  const auto pos = readPositions(d.path / "pos" / "taildir_position.json");
  REQUIRE(pos.size() == 2);
  bool sawRenamed = false;
  for (const auto& e : pos) {
    CHECK(e.pos == fs::file_size(e.file));
    if (e.inode == st.st_ino) {
      sawRenamed = true;
      CHECK(e.file == (d.path / "logs" / "app.log.1").string());
    }
  }
  CHECK(sawRenamed);
}

TEST_CASE("maxBatchCount: a busy file does not starve the others") {
  TempDir d;
  append(d.path / "logs" / "app.log.big", lines(0, 5000, "big-"));
  append(d.path / "logs" / "app.log.small", lines(0, 3, "small-"));
  Fixture f(contextOf(d, {{"maxBatchCount", "2"}}));
  f.start();
  REQUIRE(waitFor([&] { return f.processor.count() == 5003; }));
  auto got = f.processor.snapshot();
  // The small file's lines come long before the big file is done (batches of 7, 2 per turn).
  const auto at = std::find(got.begin(), got.end(), "small-2") - got.begin();
  CHECK(at < 100);
}

namespace {
// Descriptors this process holds, as a user would count them (ls /proc/<pid>/fd).
std::size_t openFdCount() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Samples openFdCount() every few milliseconds until destroyed; max() is the highest seen.
class FdSampler {
 public:
  FdSampler()
      : thread_([this] {
          while (!done_.load()) {
            const std::size_t n = openFdCount();
            std::size_t m = max_.load();
            while (n > m && !max_.compare_exchange_weak(m, n)) {
            }
            std::this_thread::sleep_for(2ms);
          }
        }) {}
  ~FdSampler() {
    done_ = true;
    thread_.join();
  }
  std::size_t max() const { return max_.load(); }

 private:
  std::atomic<bool> done_{false};
  std::atomic<std::size_t> max_{0};
  std::thread thread_;
};
}  // namespace

TEST_CASE("maxOpenFiles: 2000 files under a cap of 50, every line once, rotations while closed") {
  TempDir d;
  constexpr int kFiles = 2000;
  constexpr int kCap = 50;
  const fs::path logs = d.path / "logs";
  auto name = [](int i) { return "app.log." + std::to_string(i); };
  auto body = [](int i, int from, int to) {
    return lines(from, to, "f" + std::to_string(i) + "-");
  };
  std::vector<std::string> want;
  auto add = [&](int i, int from, int to) {
    append(logs / name(i), body(i, from, to));
    for (auto& s : expected(from, to, "f" + std::to_string(i) + "-")) want.push_back(s);
  };
  for (int i = 0; i < kFiles; ++i) add(i, 0, 5);
  const std::size_t baseline = openFdCount();
  FdSampler fds;
  // A long idleTimeout: only the cap keeps descriptors few.
  Fixture f(contextOf(d, {{"maxOpenFiles", std::to_string(kCap)}, {"idleTimeout", "600000"}}));
  f.start();
  REQUIRE(waitFor([&] { return f.processor.count() == want.size(); }, 120s));
  CHECK(f.counter("OpenConnectionCount") <= kCap);
  CHECK(f.counter("FilesEvictedCount") >= kFiles - kCap);
  // Closed files are reopened when they grow, and resume where they stopped.
  for (int i = 0; i < kFiles; ++i) add(i, 5, 8);
  REQUIRE(waitFor([&] { return f.processor.count() == want.size(); }, 120s));
  // The 100 files written last are the most recently active: file 0-99 are surely closed now.
  for (int i = kFiles - 100; i < kFiles; ++i) add(i, 8, 9);
  REQUIRE(waitFor([&] { return f.processor.count() == want.size(); }, 60s));
  // Rotated while closed: to another matching name (followed as usual), to a name that does not
  // match (found by inode and read to its end), out of the directory (lost, and counted).
  fs::rename(logs / name(5), logs / "app.log.5.1");
  add(5, 9, 12);
  fs::rename(logs / name(6), logs / "other-6");
  {
    std::ofstream out(logs / "other-6", std::ios::app);
    out << body(6, 9, 12);
  }
  for (auto& s : expected(9, 12, "f6-")) want.push_back(s);
  fs::create_directories(d.path / "away");
  fs::rename(logs / name(7), d.path / "away" / "app.log.7");
  append(d.path / "away" / "app.log.7", body(7, 9, 12));  // cannot be read: not counted in want
  REQUIRE(waitFor([&] { return f.processor.count() == want.size(); }, 60s));
  CHECK(waitFor([&] { return f.counter("ClosedFilesLostCount") == 1; }));
  f.stop();  // then nothing more can arrive
  auto got = f.processor.snapshot();
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  CHECK(got.size() == want.size());
  CHECK(got == want);
  CHECK(fds.max() <= baseline + kCap + 6);
  MESSAGE("fds: baseline ", baseline, ", most seen ", fds.max(), "; evicted ",
          f.counter("FilesEvictedCount"));
  // Every file's committed position is its size (app.log.7 left the directory: forgotten).
  for (const auto& e : readPositions(d.path / "pos" / "taildir_position.json"))
    CHECK(e.pos == fs::file_size(e.file));
}

TEST_CASE("maxOpenFiles is range-checked") {
  TempDir d;
  CHECK(configError(contextOf(d, {{"maxOpenFiles", "0"}})).find("maxOpenFiles") !=
        std::string::npos);
  CHECK(configError(contextOf(d, {{"maxOpenFiles", "1"}})).empty());
}

TEST_CASE("a file truncated and rewritten while stopped is read from 0, whatever its new size") {
  // The old content was read to byte 100 lines * 8; the new one is shorter, as long, longer.
  for (int newLines : {20, 100, 300}) {
    CAPTURE(newLines);
    TempDir d;
    const fs::path log = d.path / "logs" / "app.log";
    append(log, lines(0, 100, "old-"));
    const sdk::Context ctx = contextOf(d);
    {
      Fixture f(ctx);
      f.start();
      REQUIRE(waitFor([&] { return f.processor.count() == 100; }));
      f.stop();
    }
    // The position file stays exactly Flume's format; the fingerprint is in the sidecar.
    const fs::path pos = d.path / "pos" / "taildir_position.json";
    std::string text;
    REQUIRE(readWholeFile(pos.string(), &text));
    CHECK(formatPositions(readPositions(pos)) == text);
    std::string side;
    REQUIRE(readWholeFile(pos.string() + ".fingerprints", &side));
    std::vector<FingerprintEntry> fps;
    REQUIRE(parseFingerprints(side, &fps));
    REQUIRE(fps.size() == 1);
    CHECK(fps[0].pos == lines(0, 100, "old-").size());
    {
      std::ofstream out(log, std::ios::trunc | std::ios::binary);  // same inode, new content
      out << lines(0, newLines, "new-");
    }
    Fixture f(ctx);
    f.start();
    REQUIRE(waitFor([&] { return f.processor.count() == static_cast<std::size_t>(newLines); }));
    f.stop();  // then nothing more can arrive
    CHECK(f.processor.snapshot() == expected(0, newLines, "new-"));
    CHECK(f.counter("TruncationsDetectedCount") == 1);
  }
}

TEST_CASE("restart after plain appends: the fingerprint matches, nothing is read twice") {
  TempDir d;
  const fs::path log = d.path / "logs" / "app.log";
  append(log, lines(0, 100));
  const sdk::Context ctx = contextOf(d);
  {
    Fixture f(ctx);
    f.start();
    REQUIRE(waitFor([&] { return f.processor.count() == 100; }));
    f.stop();
  }
  append(log, lines(100, 400));
  Fixture f(ctx);
  f.start();
  REQUIRE(waitFor([&] { return f.processor.count() == 300; }));
  f.stop();  // then nothing more can arrive
  CHECK(f.processor.snapshot() == expected(100, 400));
  CHECK(f.counter("TruncationsDetectedCount") == 0);
}

TEST_CASE("fingerprint sidecar: round trip, bad lines skipped, wrong header refused") {
  std::vector<FingerprintEntry> in{{1, 2, 3, 3, 99}, {18446744073709551615ULL, 0, 4096, 4096, 7}};
  std::vector<FingerprintEntry> out;
  REQUIRE(parseFingerprints(formatFingerprints(in), &out));
  CHECK(out == in);
  REQUIRE(parseFingerprints(
      "sluice-taildir-fingerprints 1\n1 2 3 3 4\nx\n1 2 3 0 4\n1 2 3 9 4\n5 6 7 7\n"
      "99999999999999999999 1 1 1 1\n",
      &out));
  CHECK(out == std::vector<FingerprintEntry>{{1, 2, 3, 3, 4}});
  CHECK(!parseFingerprints("[]", &out));
  CHECK(!parseFingerprints("", &out));
}

TEST_CASE("maxOpenFiles: a file closed with an unfinished last line still sends it when idle") {
  TempDir d;
  const fs::path logs = d.path / "logs";
  append(logs / "app.log.a", "a1\npartial-a");
  Fixture f(contextOf(d, {{"maxOpenFiles", "1"}, {"idleTimeout", "2000"}}));
  f.start();
  REQUIRE(waitFor([&] { return f.processor.count() == 1; }));
  append(logs / "app.log.b", "b1\n");  // opening it closes app.log.a (the cap is 1)
  REQUIRE(waitFor([&] { return f.processor.count() == 2; }));
  CHECK(f.counter("FilesEvictedCount") >= 1);
  REQUIRE(waitFor([&] { return f.processor.count() == 3; }));
  CHECK(f.processor.snapshot() == std::vector<std::string>{"a1", "b1", "partial-a"});
  CHECK(f.counter("PartialLinesFlushedCount") == 1);
  CHECK(f.counter("OpenConnectionCount") <= 1);
}
