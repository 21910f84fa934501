// Tests of file_util.hpp (the position file, checkpoint and marker writes share its atomic
// write) and of the text helpers in text_util.hpp. Failures are real: RLIMIT_FSIZE makes the
// write fail part-way (also as root), a directory in the way makes the rename fail.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "file_util.hpp"
#include "sink_test_support.hpp"
#include "text_util.hpp"

namespace fs = std::filesystem;
using sluice::plugins::files::makeDirs;
using sluice::plugins::files::parentOf;
using sluice::plugins::files::writeFileAtomically;
using sluice::plugins::testing::FileSizeLimit;
using sluice::plugins::testing::TempDir;
namespace text = sluice::plugins::text;

namespace {

std::string contentOf(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every name in dir, to see that nothing (no temporary) was left behind.
std::vector<std::string> namesIn(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("atomic file: replaces the content, leaves no temporary, overwrites a stale one") {
  TempDir d;
  const std::string p = (d.path / "state.json").string();
  CHECK(writeFileAtomically(p, "first") == 0);
  CHECK(contentOf(p) == "first");
  { std::ofstream(p + ".tmp") << "left by a crash, longer than the new content"; }
  std::string error = "untouched";
  CHECK(writeFileAtomically(p, "second", &error) == 0);
  CHECK(error == "untouched");
  CHECK(contentOf(p) == "second");
  CHECK(namesIn(d.path) == std::vector<std::string>{"state.json"});
  CHECK(writeFileAtomically(p, "") == 0);
  CHECK(contentOf(p).empty());
}

TEST_CASE("atomic file: a write that fails part-way removes the temporary, the old file stays") {
  TempDir d;
  const std::string p = (d.path / "positions.json").string();
  REQUIRE(writeFileAtomically(p, "old content") == 0);
  std::string error;
  int rc = 0;
  {
    FileSizeLimit limit(4);  // the first write is cut at 4 bytes, the next one gets EFBIG
    rc = writeFileAtomically(p, std::string(100, 'n'), &error);
  }
  CHECK(rc == EFBIG);
  CHECK(error == "cannot write '" + p + ".tmp': " + text::errnoText(EFBIG));
  CHECK(contentOf(p) == "old content");
  CHECK(namesIn(d.path) == std::vector<std::string>{"positions.json"});
}

TEST_CASE("atomic file: a rename that fails removes the temporary and keeps what was there") {
  TempDir d;
  const fs::path target = d.path / "busy";
  fs::create_directory(target);
  { std::ofstream(target / "inside") << "kept"; }
  std::string error;
  CHECK(writeFileAtomically(target.string(), "data", &error) != 0);
  CHECK(error.find("cannot rename '" + target.string() + ".tmp'") == 0);
  CHECK(namesIn(d.path) == std::vector<std::string>{"busy"});
  CHECK(contentOf(target / "inside") == "kept");
}

TEST_CASE("atomic file: a temporary that cannot be created is reported and nothing is removed") {
  TempDir d;
  std::string error;
  CHECK(writeFileAtomically((d.path / "missing" / "f").string(), "x", &error) == ENOENT);
  CHECK(error == "cannot create '" + (d.path / "missing" / "f.tmp").string() +
                     "': " + text::errnoText(ENOENT));
  // A directory in the temporary's place (not ours to delete) stays.
  fs::create_directory(d.path / "g.tmp");
  CHECK(writeFileAtomically((d.path / "g").string(), "x", &error) == EISDIR);
  CHECK(fs::is_directory(d.path / "g.tmp"));
  CHECK(!fs::exists(d.path / "g"));
}

TEST_CASE("atomic file: parent directory of a path") {
  CHECK(parentOf("/var/lib/x.json") == "/var/lib");
  CHECK(parentOf("/x.json") == "/");
  CHECK(parentOf("x.json") == ".");
  CHECK(parentOf("a/b") == "a");
}

TEST_CASE("makeDirs: creates every missing level, refuses a file in the way") {
  TempDir d;
  const fs::path deep = d.path / "a" / "b" / "c";
  CHECK(makeDirs(deep.string()) == 0);
  CHECK(fs::is_directory(deep));
  CHECK(makeDirs(deep.string()) == 0);  // exists already
  { std::ofstream(d.path / "file") << "x"; }
  std::string error;
  CHECK(makeDirs((d.path / "file" / "sub").string(), &error) == ENOTDIR);
  CHECK(error == "'" + (d.path / "file").string() + "' is not a directory");
  CHECK(makeDirs("") == 0);
  CHECK(makeDirs(".") == 0);
}

TEST_CASE("text helpers: case, trimming, splitting, JSON strings") {
  CHECK(text::lower("MiXeD-Case_1 \xC3\x89") == "mixed-case_1 \xC3\x89");
  CHECK(text::upper("utf-8") == "UTF-8");
  CHECK(text::trimmed(" \t a b \t") == "a b");
  CHECK(text::trimmed("\r x \r") == "\r x \r");
  CHECK(text::trimmedSpace("\r\n\t x y \x01") == "x y");
  CHECK(text::split("a, b ,,c", ", ") == std::vector<std::string>{"a", "b", "c"});
  CHECK(text::split("  ", " ").empty());
  CHECK(text::split("one", " ") == std::vector<std::string>{"one"});
  CHECK(text::errnoText(ENOENT) == "No such file or directory");
  std::string j;
  text::appendJsonString(j, "a\"b\\c\n\r\t\b\f\x01<\x7f\xC3\xA9");
  CHECK(j == "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001<\x7f\xC3\xA9\"");
}
