#pragma once
// Problems found while loading and validating a configuration. Everything that checks config
// appends here instead of stopping at the first problem, so `sluice validate` prints them all.

#include <string>
#include <vector>

namespace sluice::core {

struct Diagnostic {
  enum class Severity { Error, Warning };
  Severity severity;
  std::string message;  // already names agent, component, key and file:line where known
};

class Diagnostics {
 public:
  void error(std::string message) { items_.push_back({Diagnostic::Severity::Error, std::move(message)}); }
  void warn(std::string message) { items_.push_back({Diagnostic::Severity::Warning, std::move(message)}); }
  bool hasErrors() const {
    for (const auto& d : items_)
      if (d.severity == Diagnostic::Severity::Error) return true;
    return false;
  }
  std::size_t errorCount() const {
    std::size_t n = 0;
    for (const auto& d : items_) n += d.severity == Diagnostic::Severity::Error;
    return n;
  }
  const std::vector<Diagnostic>& items() const { return items_; }
  void append(const Diagnostics& other) {
    items_.insert(items_.end(), other.items_.begin(), other.items_.end());
  }

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace sluice::core
