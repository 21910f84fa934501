#pragma once
// Shared helpers for runtime tests: paths from the meson test environment, condition waits,
// temporary directories and whole-file reads and writes.

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "plugins/testing/wait.hpp"

namespace sluice::testing {

inline std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The one condition wait of all C++ tests (plugins/testing/wait.hpp). waitUntil is its old
// name here, kept only so runtime tests written against it still compile; use waitFor.
using sluice::plugins::testing::waitFor;
template <class F>
bool waitUntil(F&& cond, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  return waitFor(std::forward<F>(cond), timeout);
}

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& s) const { return path_ / s; }

 private:
  std::filesystem::path path_;
};

inline std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void writeFile(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

}  // namespace sluice::testing
