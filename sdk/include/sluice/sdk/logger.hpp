#pragma once
// The host's logger, handed to each plugin object. Plugins never create their own spdlog
// loggers: the host names each one <kind>:<type>:<instance> and routes it to the configured sinks.

#include <sstream>
#include <type_traits>
#include <string>
#include <string_view>
#include <utility>

#include "sluice/sdk/visibility.hpp"

namespace sluice::sdk {

enum class LogLevel { trace = 0, debug = 1, info = 2, warn = 3, error = 4, critical = 5, off = 6 };

class SLUICE_SDK_API Logger {
 public:
  virtual ~Logger() = default;
  virtual bool shouldLog(LogLevel level) const noexcept = 0;
  // Implementations must not throw and must be safe to call from any thread.
  virtual void log(LogLevel level, std::string_view message) noexcept = 0;

  // Convenience: logger.info("bound to ", host, ':', port). Arguments are only formatted when
  // the level is enabled.
  template <class... A>
  void trace(A&&... a) noexcept { emit(LogLevel::trace, std::forward<A>(a)...); }
  template <class... A>
  void debug(A&&... a) noexcept { emit(LogLevel::debug, std::forward<A>(a)...); }
  template <class... A>
  void info(A&&... a) noexcept { emit(LogLevel::info, std::forward<A>(a)...); }
  template <class... A>
  void warn(A&&... a) noexcept { emit(LogLevel::warn, std::forward<A>(a)...); }
  template <class... A>
  void error(A&&... a) noexcept { emit(LogLevel::error, std::forward<A>(a)...); }

 private:
  template <class... A>
  void emit(LogLevel level, A&&... a) noexcept {
    if (!shouldLog(level)) return;
    try {
      if constexpr (sizeof...(A) == 1 && (std::is_convertible_v<A, std::string_view> && ...)) {
        log(level, std::string_view(a...));
      } else {
        std::ostringstream os;
        (os << ... << a);
        log(level, os.str());
      }
    } catch (...) {
      // Formatting failed (out of memory): dropping one log line beats failing the caller.
    }
  }
};

// Discards everything. Used until the host attaches its logger, e.g. in plugin unit tests.
class SLUICE_SDK_API NullLogger final : public Logger {
 public:
  bool shouldLog(LogLevel) const noexcept override { return false; }
  void log(LogLevel, std::string_view) noexcept override {}
  static Logger& instance() noexcept {
    static NullLogger logger;  // stateless, so sharing it is safe
    return logger;
  }
};

}  // namespace sluice::sdk
