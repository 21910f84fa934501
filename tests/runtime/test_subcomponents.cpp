// Sub-component plugins (SDK ABI 3.0): a serializer plugin named by file_roll's sink.serializer
// and hdfs's serializer, made by the host from the test plugin library with the keys below that
// key, and the errors a config gets for them. (The http source's handler plugin is tested end
// to end with curl in tests/e2e/test_http.py.)

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/runtime/agent_fixture.hpp"

using namespace sluice;
using namespace sluice::core;
using sluice::testing::counter;
using sluice::testing::Fixture;
using sluice::testing::readFile;
using sluice::testing::TempDir;
using sluice::testing::waitFor;

namespace {

std::string messages(const Diagnostics& d, Diagnostic::Severity severity) {
  std::string s;
  for (const auto& i : d.items())
    if (i.severity == severity) s += i.message + "\n";
  return s;
}

// seq's bodies 0..n-1 with every '1' made an 'a' (search_replace), so upper-casing shows.
std::string pipeline(const std::string& sink, int64_t events) {
  return R"(
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = )" +
         std::to_string(events) + R"(
a1.sources.r1.batchSize = 100
a1.sources.r1.channels = c1
a1.sources.r1.interceptors = i1
a1.sources.r1.interceptors.i1.type = search_replace
a1.sources.r1.interceptors.i1.searchPattern = 1
a1.sources.r1.interceptors.i1.replaceString = a
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.channel = c1
)" + sink;
}

// What test.UpperSerializer writes for seq's bodies 0..n-1 after the interceptor.
std::string upperLines(int64_t n) {
  std::string out;
  for (int64_t i = 0; i < n; ++i) {
    std::string b = std::to_string(i);
    for (char& c : b)
      if (c == '1') c = 'A';
    out += b + "\n";
  }
  return out;
}

// A file_roll sink writing one file into `dir` through test.UpperSerializer, with `keys` below
// sink.serializer (each "name = value" line).
std::string upperFileRoll(const std::filesystem::path& dir, const std::string& keys) {
  std::string out = "a1.sinks.k1.type = file_roll\n"
                    "a1.sinks.k1.sink.directory = " + dir.string() + "\n"
                    "a1.sinks.k1.sink.rollInterval = 0\n"
                    "a1.sinks.k1.sink.batchSize = 100\n"
                    "a1.sinks.k1.sink.serializer = test.UpperSerializer$Builder\n";
  return out + keys;
}

std::vector<std::filesystem::path> filesIn(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path());
  return out;
}

}  // namespace

TEST_CASE("file_roll writes through a serializer plugin, with its keys, header and footer") {
  Fixture f;
  TempDir tmp;
  auto agent = f.buildOk(pipeline(upperFileRoll(tmp / "out", R"(
a1.sinks.k1.sink.serializer.header = BEGIN
a1.sinks.k1.sink.serializer.footer = END
)"),
                                  1000));
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] { return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == 1000; }));
  agent->stop();  // closes the file: the footer is written
  const auto files = filesIn(tmp / "out");
  REQUIRE(files.size() == 1);
  CHECK(readFile(files[0]) == "BEGIN" + upperLines(1000) + "END");
}

TEST_CASE("hdfs writes through a serializer plugin named by its serializer key") {
  Fixture f;
  TempDir tmp;
  auto agent = f.buildOk(pipeline(R"(
a1.sinks.k1.type = hdfs
a1.sinks.k1.hdfs.path = )" + (tmp / "out").string() +
                                      R"(
a1.sinks.k1.hdfs.fileType = DataStream
a1.sinks.k1.hdfs.rollInterval = 0
a1.sinks.k1.hdfs.rollSize = 0
a1.sinks.k1.hdfs.rollCount = 0
a1.sinks.k1.hdfs.batchSize = 100
a1.sinks.k1.serializer = test.UpperSerializer$Builder
a1.sinks.k1.serializer.header = H
a1.sinks.k1.serializer.footer = F
)",
                                  500));
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] { return counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == 500; }));
  agent->stop();
  const auto files = filesIn(tmp / "out");
  REQUIRE(files.size() == 1);
  CHECK(files[0].extension() != ".tmp");  // closed and renamed
  CHECK(readFile(files[0]) == "H" + upperLines(500) + "F");
}

TEST_CASE("a serializer that fails rolls the batch back: nothing of it is in the file") {
  Fixture f;
  TempDir tmp;
  // Body "7" (batch 1 of seq's 0..99) makes write() throw: no batch can be written, every event
  // stays in the channel, and the file holds only the header.
  auto agent = f.buildOk(pipeline(upperFileRoll(tmp / "out", R"(
a1.sinks.k1.sink.serializer.header = BEGIN
a1.sinks.k1.sink.serializer.failOn = 7
)"),
                                  100));
  REQUIRE(agent->start().ok());
  CHECK(waitFor([&] { return counter(*agent, "SINK", "k1", "EventWriteFail") >= 2; }));
  CHECK(counter(*agent, "SINK", "k1", "EventDrainSuccessCount") == 0);
  CHECK(counter(*agent, "CHANNEL", "c1", "ChannelSize") == 100);
  agent->stop();
  for (const auto& p : filesIn(tmp / "out")) CHECK(readFile(p).rfind("BEGIN", 0) == 0);
  for (const auto& p : filesIn(tmp / "out")) CHECK(readFile(p).find('0') == std::string::npos);
}

TEST_CASE("serializer plugin config errors name the key, the type and the line") {
  Fixture f;
  TempDir tmp;
  const std::string base = pipeline(R"(
a1.sinks.k1.type = file_roll
a1.sinks.k1.sink.directory = )" + (tmp / "out").string() +
                                        "\n",
                                    10);
  {
    Diagnostics d;
    f.build(base + "a1.sinks.k1.sink.serializer = com.example.Nope$Builder\n", d);
    const std::string e = messages(d, Diagnostic::Severity::Error);
    CHECK(
        e.find("a1.sinks.k1.sink.serializer: unknown serializer type 'com.example.Nope$Builder'") !=
        std::string::npos);
    CHECK(e.find("test.UpperSerializer") != std::string::npos);  // the known plugins are listed
    CHECK(e.find("HEADER_AND_TEXT") != std::string::npos);       // and the built-in values
    CHECK(e.find("test.properties:") != std::string::npos);
  }
  {
    // A key below a plugin-valued key belongs to the plugin: checked against its schema, a
    // warning in .properties (Flume ignores unknown keys), an error under --strict.
    const std::string text = base +
                             "a1.sinks.k1.sink.serializer = test.UpperSerializer$Builder\n"
                             "a1.sinks.k1.sink.serializer.headr = X\n";
    Diagnostics lenient;
    auto agent = f.build(text, lenient);
    CHECK(agent != nullptr);
    CHECK_FALSE(lenient.hasErrors());
    const std::string w = messages(lenient, Diagnostic::Severity::Warning);
    CHECK(
        w.find("a1.sinks.k1.sink.serializer.headr: unknown key for type 'test.UpperSerializer'") !=
        std::string::npos);
    CHECK(w.find("did you mean 'header'") != std::string::npos);
    Diagnostics strict;
    AgentOptions opts;
    opts.strict = true;
    f.build(text, strict, opts);
    CHECK(messages(strict, Diagnostic::Severity::Error)
              .find("a1.sinks.k1.sink.serializer.headr: unknown key") != std::string::npos);
  }
  {
    // A built-in serializer keeps its own keys: appendNewline is file_roll's, not a plugin's.
    Diagnostics d;
    auto agent = f.build(base +
                             "a1.sinks.k1.sink.serializer = TEXT\n"
                             "a1.sinks.k1.sink.serializer.appendNewline = maybe\n",
                         d);
    CHECK(messages(d, Diagnostic::Severity::Error).find("sink.serializer.appendNewline") !=
          std::string::npos);
  }
  {
    // A bad value for the plugin's own key is the plugin's error, under the full key.
    Diagnostics d;
    f.build(base +
                "a1.sinks.k1.sink.serializer = test.UpperSerializer$Builder\n"
                "a1.sinks.k1.sink.serializer.appendNewline = maybe\n",
            d);
    CHECK(messages(d, Diagnostic::Severity::Error)
              .find("a1.sinks.k1.sink.serializer.appendNewline: expected") != std::string::npos);
  }
}
