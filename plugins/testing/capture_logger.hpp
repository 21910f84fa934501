#pragma once
// The one fake logger for plugin unit tests: keeps every message a plugin logs, so a test can
// check what a user would read in the agent's log. Safe to use from the plugin's threads.

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/sdk/logger.hpp"

namespace sluice::plugins::testing {

class CaptureLogger final : public sdk::Logger {
 public:
  // Levels below min are reported as disabled (shouldLog false), like a host logger set to min.
  std::atomic<sdk::LogLevel> min{sdk::LogLevel::trace};

  bool shouldLog(sdk::LogLevel level) const noexcept override { return level >= min.load(); }
  void log(sdk::LogLevel level, std::string_view m) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    text_.append(m).push_back('\n');
    entries_.emplace_back(level, std::string(m));
  }

  // Every message so far, one a line.
  std::string text() const {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }
  bool has(std::string_view s) const {
    std::lock_guard<std::mutex> lock(mu_);
    return text_.find(s) != std::string::npos;
  }
  // How often s occurs in the text so far.
  std::size_t occurrences(std::string_view s) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t n = 0;
    for (std::size_t at = text_.find(s); at != std::string::npos; at = text_.find(s, at + 1)) ++n;
    return n;
  }
  // The messages logged at exactly this level, in order.
  std::vector<std::string> messagesAt(sdk::LogLevel level) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [l, m] : entries_)
      if (l == level) out.push_back(m);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::string text_;
  std::vector<std::pair<sdk::LogLevel, std::string>> entries_;
};

}  // namespace sluice::plugins::testing
