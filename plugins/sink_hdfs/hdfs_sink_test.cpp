// Unit tests with real files in a temporary directory and an in-test channel
// (plugins/testing/sink_test_support.hpp, which also says how a write failure is forced).
#include "hdfs_sink.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "capture_logger.hpp"
#include "host_context.hpp"
#include "readme_schema_check.hpp"
#include "sink_test_support.hpp"
#include "skip.hpp"
#include "sluice/sdk/host_access.hpp"
#include "source_test_support.hpp"

namespace sdk = sluice::sdk;
namespace fs = std::filesystem;
using sluice::plugins::hdfs::HdfsSink;
using sluice::plugins::hdfs::hdfsSinkSchema;
using sluice::plugins::hdfs::MissingTimestampPolicy;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::FileSizeLimit;
using sluice::plugins::testing::onPath;
using sluice::plugins::testing::skipUnless;
using sluice::plugins::testing::TestChannel;
using namespace std::chrono_literals;

namespace {

using KV = std::initializer_list<std::pair<const char*, std::string>>;

struct TempDir : sluice::plugins::testing::TempDir {
  TempDir() : sluice::plugins::testing::TempDir("sluice-hdfs") {}
};

// A clock the tests move forward.
std::atomic<int64_t> gClockShiftMs{0};
HdfsSink::Clock::time_point shiftedNow() {
  return HdfsSink::Clock::now() + std::chrono::milliseconds(gClockShiftMs.load());
}

sdk::Context contextOf(const std::string& path, KV kv) {
  sdk::Context ctx("a1.sinks.k1");
  ctx.put("hdfs.path", path);
  ctx.put("hdfs.fileType", "DataStream");
  ctx.put("hdfs.timeZone", "UTC");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, hdfsSinkSchema(), ctx, "hdfs");
}

constexpr int64_t kTs = 1704164645678;  // 2024-01-02T03:04:05.678Z

struct Fixture {
  TempDir dir;
  TestChannel channel;
  HdfsSink sink;

  explicit Fixture(KV extra = {}, const std::string& tmpl = "out/%Y%m%d/%H", bool start = true) {
    gClockShiftMs = 0;
    sink.setClockForTest(&shiftedNow);
    sdk::HostAccess::setChannel(sink, &channel);
    sdk::Result r = configure(sink, contextOf((dir.path / tmpl).string(), extra));
    REQUIRE_MESSAGE(r.ok(), r.error());
    if (start) {
      r = sdk::HostAccess::start(sink);
      REQUIRE_MESSAGE(r.ok(), r.error());
    }
  }
  fs::path out() const { return dir.path / "out"; }
  int64_t counter(const char* name) { return sluice::plugins::testing::counterOf(sink, name); }
  void drain() { sluice::plugins::testing::drain(sink, channel); }
};

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every regular file under dir, relative path -> content.
std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = readFile(e.path());
  return out;
}

std::vector<std::string> linesOf(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// All lines of all files in a tree, sorted by the number after "event-".
std::vector<int> eventNumbers(const std::map<std::string, std::string>& files) {
  std::vector<int> out;
  for (const auto& [name, content] : files)
    for (const std::string& l : linesOf(content)) out.push_back(std::stoi(l.substr(6)));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int> range(int from, int to) {
  std::vector<int> v;
  for (int i = from; i < to; ++i) v.push_back(i);
  return v;
}

bool isFinalName(const std::string& rel, const std::string& dir,
                 const std::string& prefix = "FlumeData", const std::string& suffix = "") {
  const std::string want = dir + "/" + prefix + ".";
  if (rel.compare(0, want.size(), want) != 0) return false;
  if (rel.size() < want.size() + suffix.size()) return false;
  if (rel.compare(rel.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  const std::string digits = rel.substr(want.size(), rel.size() - want.size() - suffix.size());
  return !digits.empty() && std::all_of(digits.begin(), digits.end(), ::isdigit);
}

std::string shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  CHECK(::pclose(p) == 0);
  return out;
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  sluice::plugins::testing::checkReadmeMatchesSchema(hdfsSinkSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config with every key; file:// is accepted") {
  TempDir d;
  HdfsSink sink;
  sdk::Context ctx =
      contextOf("file://" + (d.path / "x/%{h}").string(), {{"hdfs.filePrefix", "P"},
                                                           {"hdfs.fileSuffix", ".log"},
                                                           {"hdfs.inUsePrefix", "_"},
                                                           {"hdfs.inUseSuffix", ".inprogress"},
                                                           {"hdfs.rollInterval", "0"},
                                                           {"hdfs.rollSize", "0"},
                                                           {"hdfs.rollCount", "0"},
                                                           {"hdfs.idleTimeout", "5"},
                                                           {"hdfs.batchSize", "10"},
                                                           {"hdfs.maxOpenFiles", "3"},
                                                           {"hdfs.round", "true"},
                                                           {"hdfs.roundValue", "10"},
                                                           {"hdfs.roundUnit", "minute"},
                                                           {"hdfs.useLocalTimeStamp", "true"},
                                                           {"serializer", "TEXT"},
                                                           {"serializer.appendNewline", "false"}});
  sdk::Result r = configure(sink, ctx);
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(sink.settings().path == (d.path / "x/%{h}").string());
  CHECK(sink.settings().maxOpenFiles == 3);
}

TEST_CASE("config errors name the key and what was expected") {
  TempDir d;
  auto err = [&](KV kv, const std::string& path = "") {
    HdfsSink sink;
    sdk::Context ctx = contextOf(path.empty() ? (d.path / "x").string() : path, kv);
    sdk::Result r = configure(sink, ctx);
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  {
    HdfsSink sink;
    // configure() itself, without the host's check, still names the key.
    sdk::Result r = sdk::HostAccess::configure(sink, sdk::Context("a1.sinks.k1"));
    CHECK(r.error() == "a1.sinks.k1.hdfs.path: is required but missing");
    CHECK(configure(sink, sdk::Context("a1.sinks.k1"))
              .error()
              .find("a1.sinks.k1: missing required key 'hdfs.path'") == 0);
  }
  CHECK(err({}, "hdfs://nn:8020/flume")
            .find("a1.sinks.k1.hdfs.path: hdfs:// (a real HDFS "
                  "cluster) is not supported yet") == 0);
  CHECK(err({}, "s3://b/x").find("hdfs.path: the scheme 's3://' is not supported") !=
        std::string::npos);
  CHECK(err({}, "relative/dir").find("expected an absolute directory path") != std::string::npos);
  CHECK(err({{"hdfs.fileType", "SequenceFile"}})
            .find("a1.sinks.k1.hdfs.fileType: SequenceFile "
                  "(Flume's default) is not supported") == 0);
  CHECK(err({{"hdfs.fileType", "CompressedStream"}}).find("hdfs.codeC: is required") !=
        std::string::npos);
  CHECK(err({{"hdfs.fileType", "CompressedStream"}, {"hdfs.codeC", "snappy"}})
            .find("codec 'snappy' is not supported; expected gzip or zstd") != std::string::npos);
  CHECK(err({{"hdfs.codeC", "gzip"}}).find("hdfs.codeC: is set but hdfs.fileType is DataStream") !=
        std::string::npos);
  CHECK(
      err({{"hdfs.timeZone", "Mars/Base"}}).find("hdfs.timeZone: unknown time zone 'Mars/Base'") !=
      std::string::npos);
  CHECK(err({{"hdfs.roundUnit", "hour"}, {"hdfs.roundValue", "30"}})
            .find("hdfs.roundValue: expected a value between 1 and 24, got 30") !=
        std::string::npos);
  CHECK(err({}, (d.path / "%[nope]").string()).find("unknown escape %[nope]") != std::string::npos);
  CHECK(err({{"hdfs.fallbackPath", (d.path / "late/%Y").string()}})
            .find("hdfs.fallbackPath: must not use time escapes") != std::string::npos);
  CHECK(err({{"hdfs.rollCount", "-1"}}).find("hdfs.rollCount") != std::string::npos);
}

TEST_CASE("bucketing by %Y%m%d/%H with round to 10 minutes: expected paths, renamed on stop") {
  Fixture f({{"hdfs.round", "true"},
             {"hdfs.roundValue", "10"},
             {"hdfs.roundUnit", "minute"},
             {"hdfs.rollCount", "0"},
             {"hdfs.rollSize", "0"}},
            "out/%Y%m%d/%H%M");
  f.channel.putAt(0, 5, kTs);                    // 03:04:05 -> 0300
  f.channel.putAt(5, 8, kTs + 6 * 60000LL);      // 03:10:05 -> 0310
  f.channel.putAt(8, 10, kTs + 24 * 3600000LL);  // next day 03:04 -> 0300
  f.drain();
  CHECK(f.sink.openFiles() == 3);
  auto open = tree(f.out());
  REQUIRE(open.size() == 3);
  for (const auto& [name, content] : open) CHECK(name.size() > 4);
  for (const auto& [name, content] : open) CHECK(name.substr(name.size() - 4) == ".tmp");
  (void)sdk::HostAccess::stop(f.sink);
  auto files = tree(f.out());
  REQUIRE(files.size() == 3);
  std::map<std::string, std::string> byDir;
  for (const auto& [name, content] : files) {
    const std::string dir = name.substr(0, name.rfind('/'));
    CHECK(isFinalName(name, dir));
    byDir[dir] = content;
  }
  CHECK(byDir["20240102/0300"] == "event-0\nevent-1\nevent-2\nevent-3\nevent-4\n");
  CHECK(byDir["20240102/0310"] == "event-5\nevent-6\nevent-7\n");
  CHECK(byDir["20240103/0300"] == "event-8\nevent-9\n");
  CHECK(f.counter("ConnectionCreatedCount") == 3);
  CHECK(f.counter("ConnectionClosedCount") == 3);
  CHECK(f.counter("EventDrainSuccessCount") == 10);
  CHECK(f.counter("EventDrainAttemptCount") == 10);
}

TEST_CASE("hdfs.timeZone buckets in that zone") {
  Fixture f({{"hdfs.timeZone", "America/New_York"}});
  f.channel.putAt(0, 2, kTs);  // 2024-01-01 22:04 in New York
  f.drain();
  (void)sdk::HostAccess::stop(f.sink);
  auto files = tree(f.out());
  REQUIRE(files.size() == 1);
  CHECK(isFinalName(files.begin()->first, "20240101/22"));
}

TEST_CASE("roll by count: Flume's default of 10, and a file holds exactly rollCount events") {
  Fixture f({{"hdfs.rollCount", "3"}, {"hdfs.rollSize", "0"}, {"hdfs.batchSize", "4"}});
  f.channel.putAt(0, 10, kTs);
  f.drain();
  (void)sdk::HostAccess::stop(f.sink);
  auto files = tree(f.out());
  REQUIRE(files.size() == 4);
  std::vector<std::size_t> counts;
  counts.reserve(files.size());
  for (const auto& [name, content] : files) counts.push_back(linesOf(content).size());
  std::sort(counts.begin(), counts.end());
  CHECK(counts == std::vector<std::size_t>{1, 3, 3, 3});
  CHECK(eventNumbers(files) == range(0, 10));
  // Order within the series: the counter in the name grows.
  std::vector<std::string> contents;
  contents.reserve(files.size());
  for (const auto& [name, content] : files) contents.push_back(content);
  CHECK(contents.front() == "event-0\nevent-1\nevent-2\n");
}

TEST_CASE("Flume's defaults") {
  TempDir d;
  HdfsSink sink;
  sdk::Context ctx("a1.sinks.k1");
  ctx.put("hdfs.path", (d.path / "x").string());
  ctx.put("hdfs.fileType", "DataStream");
  REQUIRE(configure(sink, ctx).ok());
  const auto& s = sink.settings();
  CHECK(s.filePrefix == "FlumeData");
  CHECK(s.inUsePrefix.empty());
  CHECK(s.inUseSuffix == ".tmp");
  CHECK(s.rollIntervalSec == 30);
  CHECK(s.rollSize == 1024);
  CHECK(s.rollCount == 10);
  CHECK(s.idleTimeoutSec == 0);
  CHECK(s.batchSize == 100);
  CHECK(s.maxOpenFiles == 5000);
  CHECK_FALSE(s.round);
  CHECK_FALSE(s.useLocalTimeStamp);
}

TEST_CASE("roll by size: body bytes, checked before each event") {
  // Bodies are 7 bytes ("event-N"); rollSize 14 -> two events per file.
  Fixture f({{"hdfs.rollCount", "0"}, {"hdfs.rollSize", "14"}});
  f.channel.putAt(0, 5, kTs);
  f.drain();
  (void)sdk::HostAccess::stop(f.sink);
  auto files = tree(f.out());
  REQUIRE(files.size() == 3);
  std::vector<std::size_t> counts;
  counts.reserve(files.size());
  for (const auto& [name, content] : files) counts.push_back(linesOf(content).size());
  CHECK(counts == std::vector<std::size_t>{2, 2, 1});
  CHECK(eventNumbers(files) == range(0, 5));
}

TEST_CASE("roll by interval and close on idle timeout") {
  SUBCASE("rollInterval") {
    Fixture f({{"hdfs.rollCount", "0"}, {"hdfs.rollSize", "0"}, {"hdfs.rollInterval", "30"}});
    f.channel.putAt(0, 2, kTs);
    f.drain();
    gClockShiftMs = 29000;
    f.channel.putAt(2, 3, kTs);
    f.drain();
    CHECK(f.counter("ConnectionClosedCount") == 0);
    gClockShiftMs = 31000;
    (void)sdk::HostAccess::process(f.sink);  // empty channel: the timer check still runs
    CHECK(f.counter("ConnectionClosedCount") == 1);
    auto files = tree(f.out());
    REQUIRE(files.size() == 1);
    CHECK(isFinalName(files.begin()->first, "20240102/03"));
    CHECK(files.begin()->second == "event-0\nevent-1\nevent-2\n");
    f.channel.putAt(3, 4, kTs);
    f.drain();
    CHECK(f.counter("ConnectionCreatedCount") == 2);
  }
  SUBCASE("idleTimeout") {
    Fixture f({{"hdfs.rollCount", "0"},
               {"hdfs.rollSize", "0"},
               {"hdfs.rollInterval", "0"},
               {"hdfs.idleTimeout", "5"}});
    f.channel.putAt(0, 2, kTs);
    f.drain();
    gClockShiftMs = 3000;
    f.channel.putAt(2, 3, kTs);
    f.drain();
    gClockShiftMs = 7000;  // 4 s after the last write
    (void)sdk::HostAccess::process(f.sink);
    CHECK(f.sink.openFiles() == 1);
    gClockShiftMs = 8500;
    (void)sdk::HostAccess::process(f.sink);
    CHECK(f.sink.openFiles() == 0);
    auto files = tree(f.out());
    REQUIRE(files.size() == 1);
    CHECK(isFinalName(files.begin()->first, "20240102/03"));
  }
}

TEST_CASE("in-use prefix and suffix, file suffix; renamed on close") {
  Fixture f({{"hdfs.inUsePrefix", "_"},
             {"hdfs.inUseSuffix", ".inprogress"},
             {"hdfs.fileSuffix", ".log"},
             {"hdfs.filePrefix", "app-%{host}"}});
  sdk::EventBatch b;
  b.emplace_back(sdk::Headers{{"timestamp", std::to_string(kTs)}, {"host", "web1"}}, "x");
  f.channel.put(std::move(b));
  f.drain();
  auto open = tree(f.out());
  REQUIRE(open.size() == 1);
  const std::string name = open.begin()->first;
  CHECK(name.rfind("20240102/03/_app-web1.", 0) == 0);
  CHECK(name.substr(name.size() - 15) == ".log.inprogress");
  (void)sdk::HostAccess::stop(f.sink);
  auto closed = tree(f.out());
  REQUIRE(closed.size() == 1);
  CHECK(isFinalName(closed.begin()->first, "20240102/03", "app-web1", ".log"));
}

TEST_CASE("start closes out in-use files a crash left, cutting a partial last line") {
  TempDir d;
  const fs::path bucket = d.path / "out/20240102/03";
  fs::create_directories(bucket);
  fs::create_directories(d.path / "out/other");
  { std::ofstream(bucket / "FlumeData.1700000000001.tmp") << "line-1\nline-2\npart"; }
  { std::ofstream(bucket / "FlumeData.1700000000002.tmp") << ""; }
  { std::ofstream(bucket / "unrelated.tmp") << "keep\n"; }
  { std::ofstream(d.path / "out/other/FlumeData.5.tmp") << "x\n"; }
  HdfsSink sink;
  TestChannel ch;
  sdk::HostAccess::setChannel(sink, &ch);
  REQUIRE(configure(sink, contextOf((d.path / "out/%Y%m%d/%H").string(), {})).ok());
  REQUIRE(sdk::HostAccess::start(sink).ok());
  CHECK(readFile(bucket / "FlumeData.1700000000001") == "line-1\nline-2\n");
  CHECK_FALSE(fs::exists(bucket / "FlumeData.1700000000001.tmp"));
  CHECK_FALSE(fs::exists(bucket / "FlumeData.1700000000002.tmp"));  // empty: removed
  CHECK_FALSE(fs::exists(bucket / "FlumeData.1700000000002"));
  CHECK(fs::exists(bucket / "unrelated.tmp"));
  CHECK(fs::exists(d.path / "out/other/FlumeData.5"));
  CHECK(sink.sinkCounter().get("InUseFileRecoveredCount") == 2);
  (void)sdk::HostAccess::stop(sink);
}

TEST_CASE("CompressedStream gzip: readable by gzip -d, one member per batch") {
  Fixture f({{"hdfs.fileType", "CompressedStream"},
             {"hdfs.codeC", "gzip"},
             {"hdfs.rollCount", "0"},
             {"hdfs.rollSize", "0"},
             {"hdfs.batchSize", "7"}});
  f.channel.putAt(0, 50, kTs);
  f.drain();
  (void)sdk::HostAccess::stop(f.sink);
  auto files = tree(f.out());
  REQUIRE(files.size() == 1);
  const std::string name = files.begin()->first;
  CHECK(isFinalName(name, "20240102/03", "FlumeData", ".gz"));
  const std::string text = shell("gzip -dc '" + (f.out() / name).string() + "'");
  CHECK(eventNumbers({{"x", text}}) == range(0, 50));
  CHECK(text.rfind("event-0\nevent-1\n", 0) == 0);
}

TEST_CASE("CompressedStream zstd: readable by zstd -d" *
          skipUnless(onPath("zstd"), "CompressedStream zstd: the zstd CLI is not installed")) {
  Fixture f({{"hdfs.fileType", "CompressedStream"},
             {"hdfs.codeC", "zstd"},
             {"hdfs.rollCount", "0"},
             {"hdfs.rollSize", "0"},
             {"hdfs.batchSize", "9"}});
  f.channel.putAt(0, 40, kTs);
  f.drain();
  (void)sdk::HostAccess::stop(f.sink);
  auto files = tree(f.out());
  REQUIRE(files.size() == 1);
  CHECK(isFinalName(files.begin()->first, "20240102/03", "FlumeData", ".zst"));
  const std::string text = shell("zstd -dc -q '" + (f.out() / files.begin()->first).string() + "'");
  CHECK(eventNumbers({{"x", text}}) == range(0, 40));
}

TEST_CASE("a failed write rolls back, cuts the files back, and the events come again") {
  Fixture f({{"hdfs.rollCount", "0"}, {"hdfs.rollSize", "0"}, {"hdfs.batchSize", "10"}});
  f.channel.putAt(0, 10, kTs);
  f.drain();  // 80 bytes committed
  const fs::path dir = f.out() / "20240102/03";
  {
    FileSizeLimit limit(100);  // the next batch (80 bytes) gets a short write, then EFBIG
    f.channel.putAt(10, 20, kTs);
    sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
    CHECK(o.failed);
    CHECK(o.error.find("cannot write to") != std::string::npos);
    CHECK(o.error.find("10 events rolled back") != std::string::npos);
    CHECK(f.channel.size() == 10);
    CHECK(f.counter("EventWriteFail") == 1);
  }
  // The file holding the committed batch was cut back and closed under its final name.
  auto files = tree(f.out());
  REQUIRE(files.size() == 1);
  CHECK(isFinalName(files.begin()->first, "20240102/03"));
  CHECK(eventNumbers(files) == range(0, 10));
  f.drain();
  (void)sdk::HostAccess::stop(f.sink);
  files = tree(f.out());
  CHECK(files.size() == 2);
  CHECK(eventNumbers(files) == range(0, 20));  // nothing lost, nothing twice
}

TEST_CASE("a failed write in a batch that rolled files mid-batch loses and repeats nothing") {
  Fixture f({{"hdfs.rollCount", "3"}, {"hdfs.rollSize", "0"}, {"hdfs.batchSize", "10"}});
  f.channel.putAt(0, 2, kTs);
  f.drain();
  {
    FileSizeLimit limit(10);  // every file above 10 bytes fails
    f.channel.putAt(2, 12, kTs);
    CHECK(sdk::HostAccess::process(f.sink).failed);
    CHECK(f.channel.size() == 10);
  }
  f.drain();
  (void)sdk::HostAccess::stop(f.sink);
  auto files = tree(f.out());
  CHECK(eventNumbers(files) == range(0, 12));
  for (const auto& [name, content] : files) {
    CHECK(name.find(".tmp") == std::string::npos);
    CHECK(linesOf(content).size() <= 3);
  }
}

TEST_CASE("a failed commit cuts the batch from the files") {
  Fixture f({{"hdfs.rollCount", "0"}, {"hdfs.rollSize", "0"}});
  f.channel.putAt(0, 3, kTs);
  f.drain();
  f.channel.failCommit = true;
  f.channel.putAt(3, 6, kTs);
  CHECK(sdk::HostAccess::process(f.sink).failed);
  f.channel.failCommit = false;
  f.drain();
  (void)sdk::HostAccess::stop(f.sink);
  CHECK(eventNumbers(tree(f.out())) == range(0, 6));
}

namespace {

// Events event-0.. with a timestamp, interleaved with events whose timestamp is missing
// ("no-ts-<i>") or not a number ("bad-ts-<i>"): good, missing, good, bad, good.
void putMixedBatch(TestChannel& ch) {
  sdk::EventBatch b;
  b.emplace_back(sdk::Headers{{"timestamp", std::to_string(kTs)}}, "event-0");
  b.emplace_back("no-ts-0");
  b.emplace_back(sdk::Headers{{"timestamp", std::to_string(kTs)}}, "event-1");
  b.emplace_back(sdk::Headers{{"timestamp", "soon"}}, "bad-ts-0");
  b.emplace_back(sdk::Headers{{"timestamp", std::to_string(kTs)}}, "event-2");
  ch.put(std::move(b));
}

}  // namespace

// The default policy. The log is rate-limited: one line per 10 s, with the number held back.
TEST_CASE("missingTimestampPolicy drop: each bad event counted and dropped, the rest written") {
  CaptureLogger log;
  Fixture f({{"hdfs.rollCount", "0"}, {"hdfs.rollSize", "0"}}, "out/%Y%m%d/%H", false);
  sdk::HostAccess::attach(f.sink, "k1", &log);
  REQUIRE(sdk::HostAccess::start(f.sink).ok());
  CHECK(f.sink.settings().missingTimestampPolicy == MissingTimestampPolicy::Drop);
  putMixedBatch(f.channel);
  sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
  REQUIRE_MESSAGE(!o.failed, o.error);
  CHECK(f.channel.size() == 0);  // committed: the bad events do not come back
  CHECK(f.counter("EventTimestampMissingCount") == 2);
  CHECK(f.counter("EventDrainAttemptCount") == 5);
  CHECK(f.counter("EventDrainSuccessCount") == 3);
  CHECK(f.counter("EventWriteFail") == 0);
  // One log line for the first bad event; the second is held back (same 10 s window).
  CHECK(log.occurrences("no timestamp header") == 1);
  CHECK(log.occurrences("dropped it (hdfs.missingTimestampPolicy = drop)") == 1);

  // A flood: 1000 bad events, then good ones. Each is counted once, none is logged.
  {
    sdk::EventBatch b;
    for (int i = 1; i <= 1000; ++i) b.emplace_back("no-ts-" + std::to_string(i));
    f.channel.put(std::move(b));
  }
  f.channel.putAt(3, 5, kTs);
  f.drain();
  CHECK(f.counter("EventTimestampMissingCount") == 1002);
  CHECK(f.counter("EventDrainAttemptCount") == 1007);
  CHECK(f.counter("EventDrainSuccessCount") == 5);
  CHECK(log.occurrences("dropped it") == 1);
  // After the interval, the next bad event is logged with the number held back.
  gClockShiftMs = 10001;
  f.channel.put([] {
    sdk::EventBatch b;
    b.emplace_back(sdk::Headers{{"timestamp", "12:00"}}, "bad-ts-1");
    return b;
  }());
  f.drain();
  CHECK(f.counter("EventTimestampMissingCount") == 1003);
  CHECK(log.occurrences("dropped it") == 2);
  CHECK(log.occurrences("timestamp header '12:00' is not a number of milliseconds") == 1);
  CHECK(log.occurrences("1001 more such events since the last report") == 1);

  (void)sdk::HostAccess::stop(f.sink);
  const auto files = tree(f.out());
  REQUIRE(files.size() == 1);
  CHECK(isFinalName(files.begin()->first, "20240102/03"));
  CHECK(files.begin()->second == "event-0\nevent-1\nevent-2\nevent-3\nevent-4\n");
  CHECK(tree(f.dir.path).size() == 1);  // nothing anywhere else
}

TEST_CASE("missingTimestampPolicy drop: a batch that fails to write counts its bad events once") {
  Fixture f({{"hdfs.rollCount", "0"}, {"hdfs.rollSize", "0"}});
  f.channel.putAt(10, 20, kTs);
  f.drain();  // 80 bytes committed
  {
    FileSizeLimit limit(100);  // the good events of the next batch (24 bytes) do not fit
    putMixedBatch(f.channel);
    CHECK(sdk::HostAccess::process(f.sink).failed);
    CHECK(f.channel.size() == 5);
    CHECK(f.counter("EventTimestampMissingCount") == 0);  // not committed: not counted yet
  }
  f.drain();
  CHECK(f.counter("EventTimestampMissingCount") == 2);
  CHECK(f.counter("EventDrainSuccessCount") == 13);
  (void)sdk::HostAccess::stop(f.sink);
  std::vector<int> want{0, 1, 2};
  for (int i : range(10, 20)) want.push_back(i);
  CHECK(eventNumbers(tree(f.out())) == want);  // nothing twice: the failed write was cut back
}

TEST_CASE("missingTimestampPolicy fail: Flume's behaviour, the batch fails and is retried") {
  Fixture f({{"hdfs.missingTimestampPolicy", "fail"}});
  putMixedBatch(f.channel);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
    CHECK(o.failed);
    CHECK(o.error.find("no timestamp header") != std::string::npos);
    CHECK(o.error.find("5 events rolled back and retried (hdfs.missingTimestampPolicy = fail") !=
          std::string::npos);
    CHECK(f.channel.size() == 5);  // the whole batch stays, in order
    // Counted at the first bad event of each attempt: once per failed attempt.
    CHECK(f.counter("EventTimestampMissingCount") == attempt);
    CHECK(f.counter("EventWriteFail") == attempt);
  }
  CHECK(f.counter("EventDrainSuccessCount") == 0);
  CHECK(tree(f.out()).empty());  // the good events of the failed batch were cut again
}

TEST_CASE("missingTimestampPolicy fallback: bad events written under hdfs.fallbackPath") {
  TempDir d;
  auto check = [&](KV extra, const std::string& late) {
    Fixture f(extra);
    CHECK(f.sink.settings().missingTimestampPolicy == MissingTimestampPolicy::Fallback);
    putMixedBatch(f.channel);
    f.drain();
    (void)sdk::HostAccess::stop(f.sink);
    CHECK(f.counter("EventTimestampMissingCount") == 2);
    CHECK(f.counter("EventDrainSuccessCount") == 5);
    auto lateFiles = tree(late);
    REQUIRE(lateFiles.size() == 1);
    CHECK(isFinalName("x/" + lateFiles.begin()->first, "x"));
    CHECK(lateFiles.begin()->second == "no-ts-0\nbad-ts-0\n");
    auto files = tree(f.out());
    REQUIRE(files.size() == 1);
    CHECK(files.begin()->second == "event-0\nevent-1\nevent-2\n");
  };
  const std::string late1 = (d.path / "late1").string(), late2 = (d.path / "late2").string();
  SUBCASE("explicit") {
    check({{"hdfs.fallbackPath", late1}, {"hdfs.missingTimestampPolicy", "fallback"}}, late1);
  }
  SUBCASE("implied by hdfs.fallbackPath alone (what that key meant before the policy)") {
    check({{"hdfs.fallbackPath", late2}}, late2);
  }
}

TEST_CASE("missingTimestampPolicy: config errors") {
  TempDir d;
  auto err = [&](KV kv) {
    HdfsSink sink;
    sdk::Result r = configure(sink, contextOf((d.path / "x/%Y").string(), kv));
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  // An enum value the schema lacks is refused by the host, which names every accepted value.
  CHECK(err({{"hdfs.missingTimestampPolicy", "ignore"}}) ==
        "a1.sinks.k1.hdfs.missingTimestampPolicy: expected one of drop, fallback, fail, got "
        "'ignore'");
  CHECK(err({{"hdfs.missingTimestampPolicy", "fallback"}}) ==
        "a1.sinks.k1.hdfs.missingTimestampPolicy: fallback needs hdfs.fallbackPath, the "
        "directory for events without a usable timestamp");
  CHECK(err({{"hdfs.missingTimestampPolicy", "fail"}, {"hdfs.fallbackPath", d.path.string()}}) ==
        "a1.sinks.k1.hdfs.fallbackPath: is set but hdfs.missingTimestampPolicy is fail, which "
        "never writes there; set the policy to fallback or remove the key");
  HdfsSink sink;
  REQUIRE(
      configure(sink, contextOf(d.path.string(), {{"hdfs.missingTimestampPolicy", "DROP"}})).ok());
  CHECK(sink.settings().missingTimestampPolicy == MissingTimestampPolicy::Drop);
}

TEST_CASE("useLocalTimeStamp needs no timestamp header") {
  Fixture f({{"hdfs.useLocalTimeStamp", "true"}});
  sdk::EventBatch b;
  b.emplace_back("event-0");
  f.channel.put(std::move(b));
  f.drain();
  CHECK(tree(f.out()).size() == 1);
  CHECK(f.counter("EventTimestampMissingCount") == 0);
}

TEST_CASE("maxOpenFiles closes the least recently used file") {
  Fixture f({{"hdfs.maxOpenFiles", "2"}, {"hdfs.rollCount", "0"}, {"hdfs.rollSize", "0"}},
            "out/%{k}");
  auto put = [&](const char* k, int i) {
    sdk::EventBatch b;
    b.emplace_back(sdk::Headers{{"k", k}}, "event-" + std::to_string(i));
    f.channel.put(std::move(b));
    f.drain();
  };
  put("a", 0);
  put("b", 1);
  put("a", 2);  // a is now the most recent
  put("c", 3);  // evicts b
  CHECK(f.sink.openFiles() == 2);
  auto files = tree(f.out());
  for (const auto& [name, content] : files) {
    const bool closed = name.find(".tmp") == std::string::npos;
    CHECK(closed == (name.rfind("b/", 0) == 0));
  }
  (void)sdk::HostAccess::stop(f.sink);
  CHECK(eventNumbers(tree(f.out())) == range(0, 4));
}

TEST_CASE("HEADER_AND_TEXT writes the headers before each body, as Flume's serializer does") {
  Fixture f({{"serializer", "HEADER_AND_TEXT"}, {"hdfs.rollCount", "0"}, {"hdfs.rollSize", "0"}});
  f.channel.putAt(0, 2, kTs);
  f.drain();
  (void)sdk::HostAccess::stop(f.sink);
  auto files = tree(f.out());
  REQUIRE(files.size() == 1);
  CHECK(files.begin()->second ==
        "{timestamp=1704164645678} event-0\n{timestamp=1704164645678} event-1\n");
}

TEST_CASE("avro_event writes an Avro container per file") {
  Fixture f({{"serializer", "avro_event"}, {"hdfs.rollCount", "0"}, {"hdfs.rollSize", "0"}});
  f.channel.putAt(0, 3, kTs);
  f.drain();
  f.channel.putAt(3, 5, kTs);
  f.drain();
  (void)sdk::HostAccess::stop(f.sink);
  auto files = tree(f.out());
  REQUIRE(files.size() == 1);
  const std::string& c = files.begin()->second;
  CHECK(c.rfind("Obj\x01", 0) == 0);
  CHECK(c.find("avro.schema") != std::string::npos);
  for (int i = 0; i < 5; ++i) CHECK(c.find("event-" + std::to_string(i)) != std::string::npos);
  // The sync marker (last 16 bytes) ends the header and each of the two blocks.
  const std::string sync = c.substr(c.size() - 16);
  std::size_t n = 0;
  for (std::size_t at = 0; (at = c.find(sync, at)) != std::string::npos; at += 16) ++n;
  CHECK(n == 3);
}

TEST_CASE("start cuts a crashed avro_event in-use file back to its last whole block") {
  Fixture f({{"serializer", "avro_event"}, {"hdfs.rollCount", "0"}, {"hdfs.rollSize", "0"}});
  f.channel.putAt(0, 3, kTs);
  f.drain();
  f.channel.putAt(3, 5, kTs);
  f.drain();
  auto open = tree(f.out());  // the .tmp file, as a crash would leave it
  REQUIRE(open.size() == 1);
  const std::string whole = open.begin()->second;
  (void)sdk::HostAccess::stop(f.sink);

  TempDir d;
  const fs::path bucket = d.path / "out";
  fs::create_directories(bucket);
  // Part of a third block: count, size and a few bytes of its records.
  std::ofstream(bucket / "FlumeData.1700000000001.tmp") << whole << std::string("\x06\x40\x00\x0e", 4);
  HdfsSink sink;
  TestChannel ch;
  sdk::HostAccess::setChannel(sink, &ch);
  REQUIRE(configure(sink, contextOf(bucket.string(), {{"serializer", "avro_event"}})).ok());
  REQUIRE(sdk::HostAccess::start(sink).ok());
  CHECK(readFile(bucket / "FlumeData.1700000000001") == whole);
  (void)sdk::HostAccess::stop(sink);
}

TEST_CASE("start and stop are repeatable; stop closes every file") {
  Fixture f;
  f.channel.putAt(0, 3, kTs);
  f.drain();
  (void)sdk::HostAccess::stop(f.sink);
  (void)sdk::HostAccess::stop(f.sink);
  REQUIRE(sdk::HostAccess::start(f.sink).ok());
  f.channel.putAt(3, 4, kTs);
  f.drain();
  (void)sdk::HostAccess::stop(f.sink);
  auto files = tree(f.out());
  for (const auto& [name, content] : files) CHECK(name.find(".tmp") == std::string::npos);
  CHECK(eventNumbers(files) == range(0, 4));
}

TEST_CASE("a directory that cannot be created fails the batch, counted, events kept") {
  TempDir d;
  { std::ofstream(d.path / "file") << "x"; }
  HdfsSink sink;
  TestChannel ch;
  sdk::HostAccess::setChannel(sink, &ch);
  REQUIRE(configure(sink, contextOf((d.path / "file/%Y").string(), {})).ok());
  REQUIRE(sdk::HostAccess::start(sink).ok());
  ch.putAt(0, 2, kTs);
  sdk::ProcessOutcome o = sdk::HostAccess::process(sink);
  CHECK(o.failed);
  CHECK(o.error.find("cannot create directory") != std::string::npos);
  CHECK(ch.size() == 2);
  CHECK(sink.sinkCounter().get("ConnectionFailedCount") == 1);
}
