// Unit tests with real files in a temporary directory and an in-test channel
// (plugins/testing/sink_test_support.hpp, which also says how a write failure is forced).
#include "rolling_file_sink.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
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
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include "host_context.hpp"
#include "readme_schema_check.hpp"
#include "sink_test_support.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::testing::FileSizeLimit;
using sluice::plugins::testing::TestChannel;
namespace fs = std::filesystem;
using sluice::plugins::file_roll::RollingFileSink;
using sluice::plugins::file_roll::rollingFileSinkSchema;
using namespace std::chrono_literals;

namespace {

using KV = std::initializer_list<std::pair<const char*, std::string>>;

struct TempDir : sluice::plugins::testing::TempDir {
  TempDir() : sluice::plugins::testing::TempDir("sluice-file-roll") {}
};

sdk::Context contextOf(KV kv) {
  sdk::Context ctx("a1.sinks.k1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, rollingFileSinkSchema(), ctx,
                                                   "file_roll");
}

struct Fixture {
  TempDir dir;
  TestChannel channel;
  RollingFileSink sink;

  explicit Fixture(KV extra = {}, bool start = true) {
    sdk::Context ctx = contextOf({{"sink.directory", (dir.path / "out").string()}});
    for (const auto& [k, v] : extra) ctx.put(k, v);
    sdk::HostAccess::setChannel(sink, &channel);
    sdk::Result r = configure(sink, ctx);
    REQUIRE_MESSAGE(r.ok(), r.error());
    if (start) {
      r = sdk::HostAccess::start(sink);
      REQUIRE_MESSAGE(r.ok(), r.error());
    }
  }
  fs::path out() const { return dir.path / "out"; }
  int64_t counter(const char* name) { return sluice::plugins::testing::counterOf(sink, name); }
  // Calls process() until the channel is empty and a call succeeded.
  void drain() { sluice::plugins::testing::drain(sink, channel); }
};

// Files of a directory in the order the sink wrote them (by the counter after the last '-').
std::vector<fs::path> filesOf(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  auto index = [](const fs::path& p) {
    std::string name = p.filename().string();
    std::string rest = name.substr(name.rfind('-') + 1);
    return std::stoll(rest.substr(0, rest.find('.')));
  };
  std::sort(files.begin(), files.end(),
            [&](const fs::path& a, const fs::path& b) { return index(a) < index(b); });
  return files;
}

// True when `name` is prefix, then `digits` decimal digits, then suffix.
bool matchesName(const std::string& name, const std::string& prefix, std::size_t digits,
                 const std::string& suffix) {
  if (name.size() != prefix.size() + digits + suffix.size()) return false;
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  if (name.compare(prefix.size() + digits, suffix.size(), suffix) != 0) return false;
  return std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()),
                     name.begin() + static_cast<std::ptrdiff_t>(prefix.size() + digits),
                     [](char c) { return c >= '0' && c <= '9'; });
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string expectedText(int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s += "event-" + std::to_string(i) + "\n";
  return s;
}

std::string allText(const fs::path& dir) {
  std::string s;
  for (const auto& f : filesOf(dir)) s += readFile(f);
  return s;
}

// Lowers the file size limit for this process and restores it on scope exit.
// Runs a command and returns its standard output; *status gets the exit status.
std::string run(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    *status = -1;
    return out;
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = ::pclose(p);
  return out;
}

// A Python 3 that has Apache Avro (Debian: python3-avro).
std::string avroPython() {
  for (const char* py : {"/usr/bin/python3", "python3"}) {
    int status = 0;
    run(std::string(py) + " -c 'import avro.datafile' 2>/dev/null", &status);
    if (status == 0) return py;
  }
  return {};
}

std::string hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// What avro_dump.py prints for one event.
std::string dumpLine(const sdk::Event& e) {
  std::vector<std::string> pairs;
  for (const auto& [k, v] : e.getHeaders()) pairs.push_back(hex(k) + "=" + hex(v));
  std::sort(pairs.begin(), pairs.end());
  std::string h;
  for (std::size_t i = 0; i < pairs.size(); ++i) h += (i ? "," : "") + pairs[i];
  return hex(e.getBody()) + "\t" + h;
}

const char* kMeta = "META null Event headers:map/string,body:bytes";

// Decodes files with the independent reader; returns its output lines (REQUIREs success).
std::vector<std::string> avroDump(const std::vector<fs::path>& files) {
  const std::string py = avroPython();
  REQUIRE_MESSAGE(!py.empty(), "no python3 with Apache Avro found: apt-get install python3-avro");
  std::string cmd = py + " " + SLUICE_AVRO_DUMP_PY;
  for (const auto& f : files) cmd += " '" + f.string() + "'";
  int status = 0;
  std::string out = run(cmd + " 2>&1", &status);
  REQUIRE_MESSAGE(status == 0, out);
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(rollingFileSinkSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config: every schema key is accepted") {
  RollingFileSink sink;
  sdk::Result r = configure(sink, contextOf({{"sink.directory", "/tmp/x"},
                                             {"sink.rollInterval", "0"},
                                             {"sink.batchSize", "1000"},
                                             {"sink.serializer", "avro_event"},
                                             {"sink.serializer.appendNewline", "false"},
                                             {"sink.serializer.syncIntervalBytes", "4096"},
                                             {"sink.serializer.compressionCodec", "null"},
                                             {"sink.pathManager", "rolltime"},
                                             {"sink.pathManager.prefix", "p-"},
                                             {"sink.pathManager.extension", "avro"}}));
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(sink.settings().rollInterval == 0s);
  CHECK(sink.settings().batchSize == 1000);
  CHECK(sink.settings().serializer == sluice::plugins::file_roll::SerializerType::AvroEvent);
  CHECK(sink.settings().syncIntervalBytes == 4096);
  CHECK(sink.settings().pathManager == sluice::plugins::file_roll::PathManagerType::RollTime);
  // Flume's builder class names are accepted too.
  r = configure(sink,
                contextOf({{"sink.directory", "/tmp/x"},
                           {"sink.serializer",
                            "org.apache.flume.serialization.BodyTextEventSerializer$Builder"}}));
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(sink.settings().serializer == sluice::plugins::file_roll::SerializerType::Text);
}

TEST_CASE("configure errors name the key") {
  auto errorOf = [](KV kv) {
    RollingFileSink sink;
    sdk::Result r = configure(sink, contextOf(kv));
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  RollingFileSink bare;  // configure() itself, without the host's check, still names the key
  sdk::Result r = sdk::HostAccess::configure(bare, contextOf({}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == "a1.sinks.k1.sink.directory: is required but missing");
  CHECK(errorOf({}).find("a1.sinks.k1: missing required key 'sink.directory'") == 0);
  CHECK(errorOf({{"sink.directory", "  "}}) ==
        "a1.sinks.k1.sink.directory: is required but missing");
  const std::string d = "/tmp/x";
  CHECK(errorOf({{"sink.directory", d}, {"sink.rollInterval", "-1"}})
            .find("a1.sinks.k1.sink.rollInterval:") == 0);
  CHECK(errorOf({{"sink.directory", d}, {"sink.batchSize", "0"}})
            .find("a1.sinks.k1.sink.batchSize:") == 0);
  // Enum keys are checked by the host against the schema, which names every accepted value.
  CHECK(errorOf({{"sink.directory", d}, {"sink.serializer", "json"}}) ==
        "a1.sinks.k1.sink.serializer: expected one of TEXT, HEADER_AND_TEXT, avro_event, "
        "org.apache.flume.serialization.BodyTextEventSerializer$Builder, "
        "org.apache.flume.serialization.HeaderAndBodyTextEventSerializer$Builder, "
        "org.apache.flume.serialization.FlumeEventAvroEventSerializer$Builder, got 'json'");
  CHECK(errorOf({{"sink.directory", d}, {"sink.serializer.compressionCodec", "deflate"}})
            .find("a1.sinks.k1.sink.serializer.compressionCodec: expected one of null, got "
                  "'deflate'") == 0);
  CHECK(errorOf({{"sink.directory", d}, {"sink.pathManager", "other"}})
            .find("a1.sinks.k1.sink.pathManager:") == 0);
  CHECK(errorOf({{"sink.directory", d}, {"sink.pathManager.prefix", "../x"}})
            .find("a1.sinks.k1.sink.pathManager.prefix:") == 0);
}

TEST_CASE("TEXT: exact output, Flume file naming, counters") {
  Fixture f({{"sink.pathManager.prefix", "events-"},
             {"sink.pathManager.extension", "log"},
             {"sink.batchSize", "100"}});
  f.channel.putBodies(0, 250);
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::READY);
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::READY);
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::BACKOFF);  // 50 < batchSize
  CHECK(sdk::HostAccess::process(f.sink).status == sdk::Status::BACKOFF);  // empty
  auto files = filesOf(f.out());
  REQUIRE(files.size() == 1);
  CHECK(matchesName(files[0].filename().string(), "events-", 13, "-1.log"));
  CHECK(f.sink.currentFile() == files[0].string());
  CHECK(readFile(files[0]) == expectedText(0, 250));
  CHECK(f.counter("ConnectionCreatedCount") == 1);
  CHECK(f.counter("BatchCompleteCount") == 2);
  CHECK(f.counter("BatchUnderflowCount") == 1);
  CHECK(f.counter("BatchEmptyCount") == 1);
  CHECK(f.counter("EventDrainAttemptCount") == 250);
  CHECK(f.counter("EventDrainSuccessCount") == 250);
  CHECK(f.counter("EventWriteFail") == 0);
  CHECK(sdk::HostAccess::stop(f.sink).ok());
  CHECK(f.counter("ConnectionClosedCount") == 1);
  CHECK(f.sink.currentFile().empty());
}

TEST_CASE("TEXT with appendNewline = false writes bodies back to back; bytes are kept") {
  Fixture f({{"sink.serializer.appendNewline", "false"}});
  sdk::EventBatch b;
  b.emplace_back(std::string("a\0b", 3));
  b.emplace_back("\xff\r\n");
  b.emplace_back("");
  f.channel.put(std::move(b));
  f.drain();
  CHECK(allText(f.out()) == std::string("a\0b\xff\r\n", 6));
}

TEST_CASE("HEADER_AND_TEXT: the headers as Java prints a map, a space, the body") {
  for (const char* name : {"header_and_text",
                           "org.apache.flume.serialization.HeaderAndBodyTextEventSerializer$Builder"}) {
    CAPTURE(name);
    Fixture f({{"sink.serializer", name}});
    CHECK(f.sink.settings().serializer ==
          sluice::plugins::file_roll::SerializerType::HeaderAndText);
    sdk::EventBatch b;
    b.emplace_back(sdk::Headers{{"host", "web-1"}, {"timestamp", "1704164645678"}}, "GET /a");
    b.emplace_back("no headers");
    b.emplace_back(sdk::Headers{{"k", "a=b, c"}}, std::string("x\0y", 3));
    f.channel.put(std::move(b));
    f.drain();
    CHECK(allText(f.out()) == std::string("{host=web-1, timestamp=1704164645678} GET /a\n"
                                          "{} no headers\n"
                                          "{k=a=b, c} x\0y\n",
                                          74));
    CHECK(f.counter("EventDrainSuccessCount") == 3);
  }
  Fixture f({{"sink.serializer", "HEADER_AND_TEXT"}, {"sink.serializer.appendNewline", "false"}});
  sdk::EventBatch b;
  b.emplace_back(sdk::Headers{{"a", "1"}}, "one");
  b.emplace_back(sdk::Headers{{"b", "2"}}, "two");
  f.channel.put(std::move(b));
  f.drain();
  CHECK(allText(f.out()) == "{a=1} one{b=2} two");
}

TEST_CASE("the directory is created when missing; one that cannot be names key, path, reason") {
  TempDir dir;
  const fs::path nested = dir.path / "a" / "b" / "c";
  {
    TestChannel ch;
    RollingFileSink sink;
    sdk::HostAccess::setChannel(sink, &ch);
    REQUIRE(configure(sink, contextOf({{"sink.directory", nested.string()}})).ok());
    sdk::Result r = sdk::HostAccess::start(sink);
    REQUIRE_MESSAGE(r.ok(), r.error());
    CHECK(fs::is_directory(nested));
  }
  // A path below a regular file cannot be created, not even by root.
  std::ofstream(dir.path / "plainfile") << "x";
  const std::string bad = (dir.path / "plainfile" / "sub").string();
  RollingFileSink sink;
  sdk::Context ctx("a1.sinks.k1");
  ctx.put("sink.directory", bad, sdk::Location{"conf/a.properties", 7});
  REQUIRE(configure(sink, ctx).ok());
  sdk::Result r = sdk::HostAccess::start(sink);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == "a1.sinks.k1.sink.directory (conf/a.properties:7): cannot create directory '" +
                         bad + "': Not a directory");
  CHECK(sink.getLifecycleState() == sdk::LifecycleState::ERROR);
}

TEST_CASE("rolls by interval between batches; no event split or lost across files") {
  Fixture f({{"sink.rollInterval", "1"}, {"sink.batchSize", "7"}});
  // A producer keeps the channel fed while the sink runs, until two files hold events.
  std::atomic<bool> stop{false};
  std::atomic<int> produced{0};
  std::thread producer([&] {
    while (!stop.load()) {
      if (f.channel.size() < 200) {
        const int from = produced.load();
        f.channel.putBodies(from, from + 13);
        produced.store(from + 13);
      } else {
        std::this_thread::yield();
      }
    }
  });
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  bool rolled = false;
  while (!rolled && std::chrono::steady_clock::now() < deadline) {
    sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
    REQUIRE_MESSAGE(!o.failed, o.error);
    auto files = filesOf(f.out());
    rolled = files.size() >= 2 && fs::file_size(files[1]) > 0;
  }
  stop = true;
  producer.join();
  REQUIRE(rolled);
  f.drain();
  CHECK(sdk::HostAccess::stop(f.sink).ok());
  auto files = filesOf(f.out());
  for (const auto& file : files) {
    std::string text = readFile(file);
    CHECK_MESSAGE((text.empty() || text.back() == '\n'), file);  // no event split
  }
  CHECK(allText(f.out()) == expectedText(0, produced.load()));  // none lost or duplicated
  CHECK(f.counter("ConnectionCreatedCount") == static_cast<int64_t>(files.size()));
  CHECK(f.counter("ConnectionClosedCount") == static_cast<int64_t>(files.size()));
  // Flume's DEFAULT naming: one series, counter 1, 2, 3...
  const std::string series = files[0].filename().string().substr(0, 13);
  for (std::size_t i = 0; i < files.size(); ++i)
    CHECK(files[i].filename().string() == series + "-" + std::to_string(i + 1));
}

TEST_CASE("a failed write rolls back, cuts the partial batch, and redelivers to a new file") {
  Fixture f({{"sink.batchSize", "100"}});
  f.channel.putBodies(0, 100);
  f.drain();  // one committed batch
  const auto first = filesOf(f.out()).at(0);
  const auto committedSize = fs::file_size(first);
  REQUIRE(committedSize == expectedText(0, 100).size());

  f.channel.putBodies(100, 300);
  {
    // Room for about half of the next batch: a short write, then EFBIG.
    FileSizeLimit limit(committedSize + 600);
    sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
    CHECK(o.failed);
    CHECK(o.status == sdk::Status::BACKOFF);
    CHECK(o.error.find("cannot write to '" + first.string() + "': File too large") == 0);
    CHECK(fs::file_size(first) == committedSize);  // the partial batch was cut off
    CHECK(f.channel.size() == 200);                // rolled back
    CHECK(f.counter("EventWriteFail") == 1);
    CHECK(f.counter("ConnectionClosedCount") == 1);
    CHECK(f.sink.currentFile().empty());
    // Delivered again to a new file, which still has room for one batch...
    o = sdk::HostAccess::process(f.sink);
    REQUIRE_MESSAGE(!o.failed, o.error);
    CHECK(f.channel.size() == 100);
    auto files = filesOf(f.out());
    REQUIRE(files.size() == 2);
    CHECK(readFile(files[1]) == expectedText(100, 200));
    // ...but not for two: the next batch fails half-way too, and is cut off again.
    o = sdk::HostAccess::process(f.sink);
    CHECK(o.failed);
    CHECK(fs::file_size(files[1]) == expectedText(100, 200).size());
    CHECK(f.channel.size() == 100);
  }
  f.drain();
  auto files = filesOf(f.out());
  CHECK(files.size() == 3);
  CHECK(readFile(first) == expectedText(0, 100));
  CHECK(allText(f.out()) == expectedText(0, 300));  // every event exactly once, in order
  CHECK(f.counter("EventWriteFail") == 2);
  CHECK(f.counter("EventDrainSuccessCount") == 300);
}

TEST_CASE("a file that cannot be created: counted, named, nothing taken; delivered once it can") {
  Fixture f({{"sink.batchSize", "100"}});
  f.channel.putBodies(0, 150);
  // The directory replaced by a regular file under the started sink: open() fails with
  // ENOTDIR, as it would for a directory gone read-only (which root would ignore).
  const fs::path moved = f.dir.path / "out.moved";
  fs::rename(f.out(), moved);
  std::ofstream(f.out()) << "not a directory";
  for (int i = 1; i <= 2; ++i) {
    sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
    CHECK(o.failed);
    CHECK(o.status == sdk::Status::BACKOFF);
    CHECK_MESSAGE(o.error.find(f.out().string()) != std::string::npos, o.error);
    CHECK_MESSAGE(o.error.find("Not a directory") != std::string::npos, o.error);
    CHECK(f.counter("ConnectionFailedCount") == i);
    CHECK(f.counter("ConnectionCreatedCount") == 0);
    CHECK(f.counter("EventDrainAttemptCount") == 0);
    CHECK(f.channel.size() == 150);  // nothing was taken
  }
  fs::remove(f.out());
  fs::rename(moved, f.out());
  f.drain();
  CHECK(allText(f.out()) == expectedText(0, 150));
  CHECK(f.counter("ConnectionFailedCount") == 2);
  CHECK(f.counter("ConnectionCreatedCount") == 1);
  CHECK(f.counter("EventDrainSuccessCount") == 150);
}

TEST_CASE("a failed commit cuts the batch from the file; it is written once afterwards") {
  Fixture f({{"sink.batchSize", "10"}});
  f.channel.putBodies(0, 10);
  f.drain();
  f.channel.putBodies(10, 20);
  f.channel.failCommit = true;
  sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
  CHECK(o.failed);
  CHECK(o.error.find("commit to channel") == 0);
  CHECK(allText(f.out()) == expectedText(0, 10));
  f.channel.failCommit = false;
  f.drain();
  CHECK(allText(f.out()) == expectedText(0, 20));
  CHECK(filesOf(f.out()).size() == 1);  // the file stayed usable
}

TEST_CASE("avro_event: an independent reader decodes headers and bodies") {
  Fixture f({{"sink.serializer", "avro_event"},
             {"sink.batchSize", "50"},
             {"sink.serializer.syncIntervalBytes", "300"},
             {"sink.pathManager.extension", "avro"}});
  std::vector<std::string> expected{kMeta};
  sdk::EventBatch events;
  for (int i = 0; i < 120; ++i) {
    sdk::Event e;
    e.body = "body " + std::to_string(i);
    if (i % 3 == 1) e.headers.set("host", "web-" + std::to_string(i));
    if (i % 3 == 2) {
      e.headers.set("timestamp", std::to_string(1700000000000LL + i));
      e.headers.set("ünïcode", "värde ✓");
      e.headers.set("empty", "");
    }
    if (i == 5) e.body = std::string("\0\xff\xfe\n binary", 11);
    if (i == 6) e.body.clear();
    if (i == 7) e.body = std::string(1000, 'L');  // larger than a block
    expected.push_back(dumpLine(e));
    events.push_back(std::move(e));
  }
  f.channel.put(std::move(events));
  f.drain();
  CHECK(sdk::HostAccess::stop(f.sink).ok());
  auto files = filesOf(f.out());
  REQUIRE(files.size() == 1);
  CHECK(files[0].extension() == ".avro");
  CHECK(avroDump(files) == expected);
}

TEST_CASE("avro_event: a failed write leaves a valid container and loses nothing") {
  Fixture f({{"sink.serializer", "avro_event"}, {"sink.batchSize", "40"}});
  f.channel.putBodies(0, 40);
  f.drain();
  const auto first = filesOf(f.out()).at(0);
  const auto committedSize = fs::file_size(first);
  f.channel.putBodies(40, 120);
  {
    FileSizeLimit limit(committedSize + 200);
    sdk::ProcessOutcome o = sdk::HostAccess::process(f.sink);
    CHECK(o.failed);
    CHECK(fs::file_size(first) == committedSize);
  }
  f.drain();
  CHECK(sdk::HostAccess::stop(f.sink).ok());
  std::vector<std::string> expected{kMeta};
  for (int i = 0; i < 40; ++i)
    expected.push_back(dumpLine(sdk::Event("event-" + std::to_string(i))));
  CHECK(avroDump({first}) == expected);  // still a valid container after the cut
  auto files = filesOf(f.out());
  std::vector<std::string> all;
  for (const auto& line : avroDump(files))
    if (line.rfind("META", 0) != 0) all.push_back(line);
  std::vector<std::string> want;
  want.reserve(120);
  for (int i = 0; i < 120; ++i) want.push_back(dumpLine(sdk::Event("event-" + std::to_string(i))));
  CHECK(all == want);
}

// Runs a sink in a child process that delivers `batches` batches of 10 events, then appends
// `torn` to its file as a write cut short would, and dies by SIGKILL. Returns that file.
fs::path crashMidBatch(const fs::path& out, KV extra, int batches, const std::string& torn) {
  const std::string fileRecord = (out.parent_path() / "crashed-file").string();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    TestChannel channel;
    RollingFileSink sink;
    sdk::Context ctx = contextOf({{"sink.directory", out.string()}, {"sink.batchSize", "10"}});
    for (const auto& [k, v] : extra) ctx.put(k, v);
    sdk::HostAccess::setChannel(sink, &channel);
    if (!configure(sink, ctx).ok() || !sdk::HostAccess::start(sink).ok()) ::_exit(2);
    channel.putBodies(0, batches * 10);
    for (int i = 0; i < batches; ++i)
      if (sdk::HostAccess::process(sink).failed) ::_exit(3);
    std::ofstream(fileRecord) << sink.currentFile();
    const int fd = ::open(sink.currentFile().c_str(), O_WRONLY | O_APPEND);
    if (fd < 0 || ::write(fd, torn.data(), torn.size()) != static_cast<ssize_t>(torn.size()))
      ::_exit(4);
    ::kill(::getpid(), SIGKILL);
    ::_exit(5);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE_MESSAGE(WIFSIGNALED(status), "child exit status " << WEXITSTATUS(status));
  return fs::path(readFile(fileRecord));
}

// The in-use mark a sink puts on the file it writes ("" when there is none).
std::string markOf(const fs::path& file) {
  char value[32];
  const ssize_t n = ::getxattr(file.c_str(), "user.sluice.open", value, sizeof value);
  return n < 0 ? std::string() : std::string(value, static_cast<std::size_t>(n));
}

TEST_CASE("kill -9 mid-batch (TEXT): the next start cuts the file back to its last whole event") {
  TempDir dir;
  const fs::path out = dir.path / "out";
  const fs::path crashed = crashMidBatch(out, {}, 3, "event-30\nevent-31\nevent-3");
  REQUIRE(markOf(crashed) == "lines");
  REQUIRE(readFile(crashed) == expectedText(0, 30) + "event-30\nevent-31\nevent-3");

  TestChannel channel;
  RollingFileSink sink;
  sdk::HostAccess::setChannel(sink, &channel);
  REQUIRE(configure(sink, contextOf({{"sink.directory", out.string()}})).ok());
  REQUIRE(sdk::HostAccess::start(sink).ok());
  // The torn event is gone; whole events of the uncommitted batch stay (they come again: at
  // least once), and the file is no longer marked.
  CHECK(readFile(crashed) == expectedText(0, 32));
  CHECK(markOf(crashed).empty());
  channel.putBodies(30, 40);
  sluice::plugins::testing::drain(sink, channel);
  CHECK(sdk::HostAccess::stop(sink).ok());
  CHECK(readFile(crashed) == expectedText(0, 32));
  std::string rest;
  for (const auto& file : filesOf(out))
    if (file != crashed) rest += readFile(file);
  CHECK(rest == expectedText(30, 40));
}

TEST_CASE("kill -9 mid-block (avro_event): the next start leaves a valid container") {
  TempDir dir;
  const fs::path out = dir.path / "out";
  // Part of a block: its count, size and a few bytes of its records.
  const fs::path crashed =
      crashMidBatch(out, {{"sink.serializer", "avro_event"}}, 2, std::string("\x14\x80\x01\x00\x0e", 5));
  REQUIRE(markOf(crashed) == "avro");
  TestChannel channel;
  RollingFileSink sink;
  sdk::HostAccess::setChannel(sink, &channel);
  REQUIRE(configure(sink, contextOf({{"sink.directory", out.string()},
                                     {"sink.serializer", "avro_event"}}))
              .ok());
  REQUIRE(sdk::HostAccess::start(sink).ok());
  CHECK(markOf(crashed).empty());
  std::vector<std::string> expected{kMeta};
  for (int i = 0; i < 20; ++i)
    expected.push_back(dumpLine(sdk::Event("event-" + std::to_string(i))));
  CHECK(avroDump({crashed}) == expected);
  CHECK(sdk::HostAccess::stop(sink).ok());
}

TEST_CASE("a file another live sink is writing is never cut; a clean close removes the mark") {
  Fixture writer({{"sink.batchSize", "10"}});
  writer.channel.putBodies(0, 10);
  writer.drain();
  const fs::path file = writer.sink.currentFile();
  REQUIRE(markOf(file) == "lines");
  REQUIRE(fs::directory_iterator(writer.out()) != fs::directory_iterator());
  CHECK(std::distance(fs::directory_iterator(writer.out()), fs::directory_iterator()) == 1);
  // As if the writer were in the middle of a write right now.
  std::ofstream(file, std::ios::app) << "event-1";

  TestChannel channel;
  RollingFileSink other;
  sdk::HostAccess::setChannel(other, &channel);
  REQUIRE(configure(other, contextOf({{"sink.directory", writer.out().string()}})).ok());
  REQUIRE(sdk::HostAccess::start(other).ok());
  CHECK(readFile(file) == expectedText(0, 10) + "event-1");
  CHECK(markOf(file) == "lines");
  CHECK(sdk::HostAccess::stop(other).ok());
  CHECK(sdk::HostAccess::stop(writer.sink).ok());
  CHECK(markOf(file).empty());
}

TEST_CASE("start and stop are repeatable; every start writes a new file") {
  Fixture f({{"sink.batchSize", "10"}});
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    f.channel.putBodies(round * 10, round * 10 + 10);
    f.drain();
    CHECK(sdk::HostAccess::stop(f.sink).ok());
    CHECK(sdk::HostAccess::stop(f.sink).ok());
    CHECK(sdk::HostAccess::start(f.sink).ok());
  }
  CHECK(sdk::HostAccess::stop(f.sink).ok());
  auto files = filesOf(f.out());
  REQUIRE(files.size() == 3);
  for (int i = 0; i < 3; ++i)
    CHECK(readFile(files[static_cast<std::size_t>(i)]) == expectedText(i * 10, i * 10 + 10));
  CHECK(f.counter("ConnectionCreatedCount") == 3);
  CHECK(f.counter("ConnectionClosedCount") == 3);
}

TEST_CASE("an existing file is never overwritten: the next name is used") {
  Fixture f;
  f.channel.putBodies(0, 1);
  f.drain();
  const auto first = filesOf(f.out()).at(0).filename().string();
  const std::string series = first.substr(0, first.rfind('-'));
  std::ofstream(f.out() / (series + "-2")) << "precious\n";
  CHECK(sdk::HostAccess::stop(f.sink).ok());
  CHECK(sdk::HostAccess::start(f.sink).ok());
  f.channel.putBodies(1, 2);
  f.drain();
  CHECK(readFile(f.out() / (series + "-2")) == "precious\n");
  CHECK(readFile(f.out() / (series + "-3")) == expectedText(1, 2));
}

TEST_CASE("ROLLTIME names files by local time to the second") {
  Fixture f({{"sink.pathManager", "ROLLTIME"}, {"sink.pathManager.prefix", "r_"}});
  f.channel.putBodies(0, 3);
  f.drain();
  auto files = filesOf(f.out());
  REQUIRE(files.size() == 1);
  CHECK(matchesName(files[0].filename().string(), "r_", 14, "-1"));
  CHECK(readFile(files[0]) == expectedText(0, 3));
}
