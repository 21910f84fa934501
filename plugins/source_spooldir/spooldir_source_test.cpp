#include "spooldir_source.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host_context.hpp"
#include "readme_schema_check.hpp"
#include "sluice/sdk/host_access.hpp"
#include "source_test_support.hpp"

namespace sdk = sluice::sdk;
namespace fs = std::filesystem;
using namespace sluice::plugins::spooldir;
using sluice::plugins::testing::checkReadmeMatchesSchema;

namespace {

using FakeProcessor = sluice::plugins::testing::RecordingProcessor;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::waitFor;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/sluice-spool-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

// Places a file the way the spooling contract asks: written under a hidden name, then renamed
// into place, so the source never sees it half-written.
void writeFile(const std::string& path, const std::string& data, int ageSeconds = 0) {
  const fs::path p(path);
  const std::string tmp = (p.parent_path() / ("." + p.filename().string() + ".part")).string();
  {
    std::ofstream out(tmp, std::ios::binary);
    out << data;
  }
  if (ageSeconds) {
    struct timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = ::time(nullptr) - ageSeconds;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    ::utimensat(AT_FDCWD, tmp.c_str(), ts, 0);
  }
  fs::rename(tmp, path);
}

std::string numbered(int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s += "line " + std::to_string(i) + "\n";
  return s;
}

using KV = std::initializer_list<std::pair<const char*, std::string>>;

sdk::Context contextOf(const std::string& dir, KV kv) {
  sdk::Context ctx("a1.sources.r1");
  ctx.put("spoolDir", dir);
  ctx.put("pollDelay", "10");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, spoolDirSourceSchema(), ctx, "spooldir");
}

struct Fixture {
  FakeProcessor processor;
  CaptureLogger log;
  SpoolDirSource source;

  Fixture(const std::string& dir, KV kv, bool start = true) {
    sdk::HostAccess::attach(source, "r1", &log);
    sdk::HostAccess::setChannelProcessor(source, &processor);
    sdk::Result r = configure(source, contextOf(dir, kv));
    REQUIRE_MESSAGE(r.ok(), r.error());
    if (start) {
      sdk::Result s = sdk::HostAccess::start(source);
      REQUIRE_MESSAGE(s.ok(), s.error());
    }
  }
  ~Fixture() { (void)sdk::HostAccess::stop(source); }
  int64_t counter(std::size_t i) { return source.sourceCounter().get(i); }
};

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(spoolDirSourceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("meta format round-trips and rejects damage") {
  SpoolMeta m{"/spool/a b.log", FileIdentity{1, 2, 300, 4000000000}, 120, 7};
  auto back = parseMeta(formatMeta(m));
  REQUIRE(back);
  CHECK(back->path == m.path);
  CHECK(back->id == m.id);
  CHECK(back->offset == 120);
  CHECK(back->seq == 7);
  const std::string text = formatMeta(m);
  for (std::size_t cut = 0; cut < text.size(); ++cut) CHECK_FALSE(parseMeta(text.substr(0, cut)));
  std::string flipped = text;
  flipped[30] ^= 1;  // a damaged digit: the checksum catches it
  CHECK_FALSE(parseMeta(flipped));
  m.offset = 400;  // beyond the size
  CHECK_FALSE(parseMeta(formatMeta(m)));
}

TEST_CASE("meta file: the newest valid slot wins; a torn slot falls back to the other") {
  auto slotFile = [](const std::string& a, const std::string& b) {
    std::string f(2 * kMetaSlotBytes, '\0');
    f.replace(0, a.size(), a);
    f.replace(kMetaSlotBytes, b.size(), b);
    return f;
  };
  const std::string older = formatMeta(SpoolMeta{"/s/x", FileIdentity{1, 2, 300, 5}, 100, 4});
  const std::string newer = formatMeta(SpoolMeta{"/s/x", FileIdentity{1, 2, 300, 5}, 200, 5});
  CHECK(parseMetaFile(slotFile(older, newer))->offset == 200);
  CHECK(parseMetaFile(slotFile(newer, older))->offset == 200);
  CHECK(parseMetaFile(slotFile(older, newer.substr(0, newer.size() / 2)))->offset == 100);
  CHECK(parseMetaFile(older)->offset == 100);  // only one slot written so far
  CHECK_FALSE(parseMetaFile(""));
}

TEST_CASE("configure errors name the key") {
  TempDir d;
  auto errorOf = [&](KV kv) {
    SpoolDirSource s;
    sdk::Result r = configure(s, contextOf(d.path, kv));
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  {
    SpoolDirSource s;
    sdk::Context empty("a1.sources.r1");
    // configure() itself, without the host's check, still names the key.
    sdk::Result r = sdk::HostAccess::configure(s, empty);
    CHECK(r.error() == "a1.sources.r1.spoolDir: is required but missing");
    CHECK(configure(s, empty).error().find("a1.sources.r1: missing required key 'spoolDir'") == 0);
  }
  CHECK(errorOf({{"includePattern", "(unclosed"}})
            .find("a1.sources.r1.includePattern: invalid regex") == 0);
  CHECK(errorOf({{"inputCharset", "UTF-16"}}).find("a1.sources.r1.inputCharset:") == 0);
  CHECK(errorOf({{"deserializer", "AVRO"}}).find("a1.sources.r1.deserializer:") == 0);
  CHECK(errorOf({{"deserializer.outputCharset", "ISO-8859-1"}})
            .find("a1.sources.r1.deserializer.outputCharset: only UTF-8") == 0);
  CHECK(errorOf({{"batchSize", "0"}}).find("a1.sources.r1.batchSize:") == 0);
  CHECK(errorOf({{"decodeErrorPolicy", "PANIC"}}).find("a1.sources.r1.decodeErrorPolicy:") == 0);
}

TEST_CASE("valid config: every key") {
  TempDir d;
  Fixture f(d.path,
            {{"fileSuffix", ".DONE"},
             {"deletePolicy", "never"},
             {"fileHeader", "true"},
             {"fileHeaderKey", "f"},
             {"basenameHeader", "true"},
             {"basenameHeaderKey", "b"},
             {"includePattern", ".*"},
             {"ignorePattern", "^$"},
             {"trackerDir", "/tmp/x-tracker"},
             {"trackingPolicy", "rename"},
             {"consumeOrder", "random"},
             {"recursiveDirectorySearch", "true"},
             {"maxBackoff", "100"},
             {"batchSize", "5"},
             {"inputCharset", "ISO-8859-1"},
             {"decodeErrorPolicy", "REPLACE"},
             {"deserializer", "LINE"},
             {"deserializer.maxLineLength", "10"},
             {"deserializer.outputCharset", "UTF-8"},
             {"deserializer.maxBlobLength", "100"},
             {"onError", "leave"},
             {"quarantineDir", "q"},
             {"metaSyncInterval", "0"}},
            false);
  CHECK(f.source.settings().trackerDir == "/tmp/x-tracker");
  CHECK(f.source.settings().quarantineDir == d / "q");
  CHECK(f.source.settings().consumeOrder == ConsumeOrder::Random);
}

TEST_CASE("start fails naming spoolDir when it does not exist") {
  FakeProcessor p;
  SpoolDirSource s;
  sdk::HostAccess::setChannelProcessor(s, &p);
  REQUIRE(configure(s, contextOf("/nonexistent/spool-xyz", {})).ok());
  sdk::Result r = sdk::HostAccess::start(s);
  CHECK_FALSE(r.ok());
  CHECK(r.error().find("/nonexistent/spool-xyz") != std::string::npos);
}

TEST_CASE("every file delivered once, oldest first, renamed .COMPLETED, headers set") {
  TempDir d;
  writeFile(d / "b.log", numbered(0, 250), 30);
  writeFile(d / "a.log", numbered(250, 300), 10);
  writeFile(d / "empty.log", "", 20);
  Fixture f(d.path, {{"batchSize", "40"}, {"fileHeader", "true"}, {"basenameHeader", "true"}});
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 3; }));
  auto bodies = f.processor.snapshot();
  REQUIRE(bodies.size() == 300);
  for (int i = 0; i < 300; ++i)
    CHECK(bodies[static_cast<std::size_t>(i)] == "line " + std::to_string(i));
  CHECK(fs::exists(d / "b.log.COMPLETED"));
  CHECK(fs::exists(d / "a.log.COMPLETED"));
  CHECK(fs::exists(d / "empty.log.COMPLETED"));
  CHECK_FALSE(fs::exists(d / "b.log"));
  CHECK(f.processor.headersOf(0).get("file") == d / "b.log");
  CHECK(f.processor.headersOf(0).get("basename") == "b.log");
  CHECK(f.processor.headersOf(299).get("basename") == "a.log");
  CHECK_FALSE(fs::exists(d / ".flumespool/.sluicespool-main.meta"));
}

TEST_CASE("consumeOrder youngest reads the newest file first") {
  TempDir d;
  writeFile(d / "old", "old\n", 100);
  writeFile(d / "new", "new\n", 1);
  Fixture f(d.path, {{"consumeOrder", "youngest"}});
  REQUIRE(waitFor([&] { return f.processor.count() == 2; }));
  CHECK(f.processor.snapshot() == std::vector<std::string>{"new", "old"});
}

TEST_CASE("consumeOrder random delivers every file once, in neither age order") {
  TempDir d;
  std::vector<std::string> oldestFirst;
  for (int i = 0; i < 20; ++i) {
    const std::string name = "f" + std::to_string(i);
    writeFile(d / name, name + "\n", 100 - i);  // f0 is the oldest
    oldestFirst.push_back(name);
  }
  Fixture f(d.path, {{"consumeOrder", "random"}});
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 20; }));
  const std::vector<std::string> got = f.processor.snapshot();
  REQUIRE(got.size() == 20);
  std::vector<std::string> sorted = got;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> expected = oldestFirst;
  std::sort(expected.begin(), expected.end());
  CHECK(sorted == expected);  // each file exactly once
  // 20 files in either age order by chance: 2 in 20! (about 1e-18).
  CHECK(got != oldestFirst);
  CHECK(got != std::vector<std::string>(oldestFirst.rbegin(), oldestFirst.rend()));
  for (const auto& name : oldestFirst) CHECK(fs::exists(d / (name + ".COMPLETED")));
}

TEST_CASE("deletePolicy immediate deletes delivered files") {
  TempDir d;
  writeFile(d / "x.log", "1\n2\n");
  Fixture f(d.path, {{"deletePolicy", "immediate"}});
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 1; }));
  CHECK(f.processor.count() == 2);
  CHECK_FALSE(fs::exists(d / "x.log"));
  CHECK_FALSE(fs::exists(d / "x.log.COMPLETED"));
}

TEST_CASE("hidden, completed, ignored and not-included files are skipped") {
  TempDir d;
  writeFile(d / ".hidden", "h\n");
  writeFile(d / "old.COMPLETED", "c\n");
  writeFile(d / "skip.tmp", "t\n");
  writeFile(d / "data.txt", "n\n");
  writeFile(d / "take.log", "y\n");
  Fixture f(d.path, {{"includePattern", "^.*\\.(log|tmp)$"}, {"ignorePattern", "^.*\\.tmp$"}});
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 1; }));
  // A file placed now is the newest: once it is delivered, later scans have seen (and passed
  // over) every older file.
  writeFile(d / "zz-later.log", "later\n");
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 2; }));
  CHECK(f.processor.snapshot() == std::vector<std::string>{"y", "later"});
  CHECK(fs::exists(d / "skip.tmp"));
  CHECK(fs::exists(d / "data.txt"));
}

TEST_CASE("recursiveDirectorySearch reads subdirectories") {
  TempDir d;
  fs::create_directories(d / "sub/deeper");
  writeFile(d / "sub/deeper/x", "deep\n");
  writeFile(d / "top", "top\n");
  {
    Fixture flat(d.path, {});
    REQUIRE(waitFor([&] { return flat.counter(SpoolDirSource::kFilesCompleted) == 1; }));
    CHECK(flat.processor.snapshot() == std::vector<std::string>{"top"});
  }
  Fixture f(d.path, {{"recursiveDirectorySearch", "true"}});
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 1; }));
  CHECK(f.processor.snapshot() == std::vector<std::string>{"deep"});
  CHECK(fs::exists(d / "sub/deeper/x.COMPLETED"));
}

TEST_CASE("tracker_dir policy: file left in place, marker written, not read twice") {
  TempDir d;
  writeFile(d / "t.log", "a\nb\n");
  {
    Fixture f(d.path, {{"trackingPolicy", "tracker_dir"}});
    REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 1; }));
    CHECK(f.processor.count() == 2);
  }
  CHECK(fs::exists(d / "t.log"));
  CHECK(fs::exists(d / ".flumespool/t.log.COMPLETED"));
  // A new source (restart) does not read it again; a different file under the same name is a
  // re-used name and is quarantined.
  Fixture g(d.path, {{"trackingPolicy", "tracker_dir"}});
  writeFile(d / "u.log", "u\n");
  REQUIRE(waitFor([&] { return g.counter(SpoolDirSource::kFilesCompleted) == 1; }));
  CHECK(g.processor.snapshot() == std::vector<std::string>{"u"});
  writeFile(d / "t.log", "different\n", 5);
  REQUIRE(waitFor([&] { return g.counter(SpoolDirSource::kFilesQuarantined) == 1; }));
  INFO(g.log.text());
  CHECK(fs::exists(d / ".flumespool/quarantine/t.log"));
  CHECK(g.processor.count() == 1);
}

TEST_CASE("a re-used name is quarantined; other files keep flowing") {
  TempDir d;
  writeFile(d / "dup.log.COMPLETED", "old\n");
  writeFile(d / "dup.log", "new\n", 10);
  writeFile(d / "other.log", "other\n", 5);
  Fixture f(d.path, {});
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 1; }));
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesQuarantined) == 1; }));
  CHECK(f.processor.snapshot() == std::vector<std::string>{"other"});
  CHECK(fs::exists(d / ".flumespool/quarantine/dup.log"));
  CHECK(f.log.has(d / "dup.log"));
  CHECK(f.log.has("re-used"));
}

namespace {

FileIdentity identityOfPath(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return FileIdentity{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                      static_cast<int64_t>(st.st_size),
                      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec};
}

}  // namespace

// The state a crash leaves between the link() to <name>.COMPLETED and the unlink() of <name>,
// with the progress record saying every event of the file was committed.
TEST_CASE("crash between link and unlink: the resumed file is marked done, not quarantined") {
  TempDir d;
  writeFile(d / "done.log", numbered(0, 50), 20);
  writeFile(d / "next.log", "next\n", 10);
  const FileIdentity id = identityOfPath(d / "done.log");
  fs::create_directories(d / ".flumespool");
  {
    std::ofstream meta(d / ".flumespool/.sluicespool-main.meta", std::ios::binary);
    meta << formatMeta(SpoolMeta{d / "done.log", id, id.size, 7}) << '\0';
  }
  REQUIRE(::link((d / "done.log").c_str(), (d / "done.log.COMPLETED").c_str()) == 0);
  Fixture f(d.path, {});
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 2; }));
  INFO(f.log.text());
  CHECK(f.counter(SpoolDirSource::kFilesResumed) == 1);
  CHECK(f.counter(SpoolDirSource::kFilesQuarantined) == 0);
  CHECK(f.processor.snapshot() == std::vector<std::string>{"next"});  // nothing of done.log again
  CHECK_FALSE(fs::exists(d / "done.log"));
  CHECK(identityOfPath(d / "done.log.COMPLETED") == id);
  CHECK(fs::exists(d / "next.log.COMPLETED"));
  CHECK_FALSE(fs::exists(d / ".flumespool/quarantine"));
  CHECK_FALSE(f.log.has("re-used"));
  CHECK(f.log.has("an earlier run stopped before removing the old name"));
  CHECK_FALSE(fs::exists(d / ".flumespool/.sluicespool-main.meta"));
}

// The same without a progress record (it was removed, or never written): found by the scan.
TEST_CASE("crash between link and unlink, no progress record: the old name is removed") {
  TempDir d;
  writeFile(d / "done.log", numbered(0, 50), 20);
  writeFile(d / "next.log", "next\n", 10);
  const FileIdentity id = identityOfPath(d / "done.log");
  REQUIRE(::link((d / "done.log").c_str(), (d / "done.log.COMPLETED").c_str()) == 0);
  Fixture f(d.path, {});
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 1; }));
  REQUIRE(waitFor([&] { return !fs::exists(d / "done.log"); }));
  INFO(f.log.text());
  CHECK(f.counter(SpoolDirSource::kFilesQuarantined) == 0);
  CHECK(f.processor.snapshot() == std::vector<std::string>{"next"});
  CHECK(identityOfPath(d / "done.log.COMPLETED") == id);
  CHECK_FALSE(f.log.has("re-used"));
  // A symlink is not the same file: still a re-used name, and the data is kept.
  REQUIRE(::symlink((d / "other.log").c_str(), (d / "other.log.COMPLETED").c_str()) == 0);
  writeFile(d / "other.log", "other\n", 5);
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesQuarantined) == 1; }));
  CHECK(fs::exists(d / ".flumespool/quarantine/other.log"));
  CHECK(f.processor.snapshot() == std::vector<std::string>{"next"});
}

TEST_CASE("a file modified after pickup is quarantined, the source carries on") {
  TempDir d;
  writeFile(d / "grow.log", numbered(0, 100), 10);
  writeFile(d / "next.log", "next\n", 5);
  Fixture f(d.path, {{"batchSize", "10"}}, false);
  std::atomic<bool> appended{false};
  f.processor.onBatch = [&] {
    if (!appended.exchange(true)) {
      std::ofstream out(d / "grow.log", std::ios::app);
      out << "appended later\n";
    }
  };
  REQUIRE(sdk::HostAccess::start(f.source).ok());
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesQuarantined) == 1; }));
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 1; }));
  CHECK(fs::exists(d / ".flumespool/quarantine/grow.log"));
  CHECK(f.log.has("modified after pickup"));
  auto bodies = f.processor.snapshot();
  CHECK(bodies.back() == "next");
  for (const auto& b : bodies) CHECK(b != "appended later");
}

TEST_CASE("onError = leave keeps the bad file in place and skips it") {
  TempDir d;
  writeFile(d / "bad.log", "ok\n\xFF\n");
  writeFile(d / "good.log", "good\n", 5);
  Fixture f(d.path, {{"onError", "leave"}});
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesQuarantined) == 1; }));
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 1; }));
  // A file placed now is the newest: once it is delivered, a later scan has seen bad.log again.
  writeFile(d / "zz-later.log", "later\n");
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 2; }));
  CHECK(fs::exists(d / "bad.log"));
  CHECK(f.counter(SpoolDirSource::kFilesQuarantined) == 1);  // not retried in a loop
  CHECK(f.log.has("undecodable UTF-8 at byte 3"));
}

TEST_CASE("decodeErrorPolicy REPLACE and IGNORE deliver the file") {
  TempDir d;
  writeFile(d / "r.log",
            "a\xFF"
            "b\n");
  Fixture f(d.path, {{"decodeErrorPolicy", "REPLACE"}});
  REQUIRE(waitFor([&] { return f.processor.count() == 1; }));
  CHECK(f.processor.snapshot()[0] ==
        "a\xEF\xBF\xBD"
        "b");
  CHECK(f.counter(SpoolDirSource::kUndecodableBytes) == 1);
}

TEST_CASE("a refused batch is re-read: nothing lost, nothing repeated") {
  TempDir d;
  writeFile(d / "f.log", numbered(0, 100));
  Fixture f(d.path, {{"batchSize", "30"}, {"maxBackoff", "20"}}, false);
  f.processor.refuse = true;
  REQUIRE(sdk::HostAccess::start(f.source).ok());
  REQUIRE(waitFor([&] { return f.counter(sdk::SourceCounter::ChannelWriteFail) >= 3; }));
  f.processor.refuse = false;
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 1; }));
  auto bodies = f.processor.snapshot();
  REQUIRE(bodies.size() == 100);
  for (int i = 0; i < 100; ++i)
    CHECK(bodies[static_cast<std::size_t>(i)] == "line " + std::to_string(i));
}

TEST_CASE("stop mid-file and start a new source: resumes at the committed batch") {
  TempDir d;
  writeFile(d / "big.log", numbered(0, 1000));
  std::vector<std::string> first;
  {
    Fixture f(d.path, {{"batchSize", "50"}}, false);
    std::atomic<int> batches{0};
    f.processor.onBatch = [&] {
      if (++batches == 4) f.processor.refuse = true;  // channel fills after 200 events
    };
    REQUIRE(sdk::HostAccess::start(f.source).ok());
    REQUIRE(waitFor([&] { return f.counter(sdk::SourceCounter::ChannelWriteFail) >= 1; }));
    first = f.processor.snapshot();
  }
  CHECK(first.size() == 200);
  CHECK(fs::exists(d / ".flumespool/.sluicespool-main.meta"));
  Fixture g(d.path, {{"batchSize", "50"}});
  REQUIRE(waitFor([&] { return g.counter(SpoolDirSource::kFilesCompleted) == 1; }));
  CHECK(g.counter(SpoolDirSource::kFilesResumed) == 1);
  auto rest = g.processor.snapshot();
  REQUIRE(rest.size() == 800);
  CHECK(rest.front() == "line 200");
  CHECK(rest.back() == "line 999");
}

TEST_CASE("a file changed while the agent was down is quarantined, not resumed") {
  TempDir d;
  writeFile(d / "big.log", numbered(0, 300));
  {
    Fixture f(d.path, {{"batchSize", "50"}}, false);
    f.processor.onBatch = [&] { f.processor.refuse = true; };
    REQUIRE(sdk::HostAccess::start(f.source).ok());
    REQUIRE(waitFor([&] { return f.counter(sdk::SourceCounter::ChannelWriteFail) >= 1; }));
  }
  writeFile(d / "big.log", numbered(0, 10));  // rewritten
  Fixture g(d.path, {});
  REQUIRE(waitFor([&] { return g.counter(SpoolDirSource::kFilesQuarantined) == 1; }));
  CHECK(g.log.has("modified while partly delivered"));
  CHECK(fs::exists(d / ".flumespool/quarantine/big.log"));
}

TEST_CASE("BLOB deserializer: one event per file, split at maxBlobLength") {
  TempDir d;
  const std::string bin = std::string("\x00\x01\n\xFF", 4) + std::string(96, 'z');
  writeFile(d / "one.bin", bin, 10);
  writeFile(d / "two.bin", std::string(250, 'q'), 5);
  Fixture f(d.path, {{"deserializer", "BLOB"}, {"deserializer.maxBlobLength", "100"}});
  REQUIRE(waitFor([&] { return f.counter(SpoolDirSource::kFilesCompleted) == 2; }));
  auto bodies = f.processor.snapshot();
  REQUIRE(bodies.size() == 4);
  CHECK(bodies[0] == bin);
  CHECK(bodies[1] == std::string(100, 'q'));
  CHECK(bodies[3] == std::string(50, 'q'));
}

TEST_CASE("start and stop are repeatable") {
  TempDir d;
  Fixture f(d.path, {});
  for (int i = 0; i < 2; ++i) {
    CHECK(sdk::HostAccess::stop(f.source).ok());
    CHECK(sdk::HostAccess::stop(f.source).ok());
    CHECK(sdk::HostAccess::start(f.source).ok());
    CHECK(sdk::HostAccess::start(f.source).ok());
  }
  writeFile(d / "late.log", "late\n");
  REQUIRE(waitFor([&] { return f.processor.count() == 1; }));
}
