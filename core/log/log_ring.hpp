#pragma once
// The last WARN/ERROR/CRITICAL log records of the process, kept in memory for the monitoring
// status page. LogHub feeds it from an spdlog sink whose level is warn, so log calls below WARN
// never reach it. Bounded: the oldest record makes room for the newest and is counted as dropped.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::core {

struct LogRecord {
  int64_t timeMs = 0;  // wall clock, ms since the epoch
  std::string level;   // "warning", "error", "critical" (spdlog's names)
  std::string logger;  // e.g. "sink:file_roll:k1"
  std::string message;
};

class LogRing {
 public:
  static constexpr std::size_t kDefaultCapacity = 100;
  // A record's message is cut to this many bytes (plus "…"), so that one huge message cannot
  // hold megabytes in the ring.
  static constexpr std::size_t kMaxMessageBytes = 2048;

  explicit LogRing(std::size_t capacity = kDefaultCapacity);

  // Thread-safe; called by any thread that logs at WARN or above.
  void push(int64_t timeMs, std::string_view level, std::string_view logger,
            std::string_view message);

  struct Copy {
    std::vector<LogRecord> records;  // oldest first
    int64_t dropped = 0;             // records pushed out of the ring since start
    int64_t total = 0;               // records ever pushed
  };
  // A consistent copy; thread-safe.
  Copy copy() const;
  std::size_t capacity() const { return capacity_; }

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::vector<LogRecord> slots_;  // circular once full
  std::size_t next_ = 0;          // where the next record goes once full
  int64_t total_ = 0;
};

}  // namespace sluice::core
