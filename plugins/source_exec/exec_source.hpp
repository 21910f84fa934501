#pragma once
// Flume's ExecSource (type exec): runs a command and turns each line it writes to stdout into an
// event.
//
// Design (README.md describes what users see):
//  - One thread per source ("sluice-exec") spawns the child with posix_spawn in its own process
//    group (so stop() can kill a whole pipeline such as `tail -F x | grep y`), with stdin on
//    /dev/null and stdout/stderr on two pipes. It polls both pipes and an eventfd that stop()
//    writes to, so stop never waits on a blocked read.
//  - Lines are split with memchr in one reused read buffer and built straight into a reused
//    EventBatch. A batch goes to the channels when it has batchSize lines or when its first line
//    is batchTimeout old.
//  - The raw bytes of the lines of the pending batch are also appended to one reused string, so
//    that a batch the channels refuse (processEventBatch consumes the vector either way) can be
//    rebuilt and retried. While it retries, the thread does not read the pipe: the pipe fills and
//    the child blocks in write(), which is the only backpressure a child process can get. After
//    putRetryTimeout the batch is dropped and counted (LinesDroppedCount).
//  - On stop the group gets SIGTERM, then SIGKILL after kKillGrace.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::plugins::exec {

// The keys this source accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& execSourceSchema();

// Splits on spaces and tabs, without quoting rules (as Flume does without `shell`).
std::vector<std::string> splitCommand(std::string_view command);

// Whether iconv knows the charset and it encodes '\n', '\r' and ASCII letters as single ASCII
// bytes, so lines can be split on raw bytes. UTF-8 always passes.
bool charsetIsAsciiCompatible(const std::string& charset);

// Set by configure() from every key; the defaults live in execSourceSchema() only.
struct ExecSettings {
  std::string command;            // as configured, for log lines
  std::vector<std::string> argv;  // what is spawned
  bool restart = false;
  std::chrono::milliseconds restartThrottle{};
  bool logStdErr = false;
  std::size_t batchSize = 0;
  std::chrono::milliseconds batchTimeout{};
  std::string charset;
  std::size_t maxLineLength = 0;
  std::chrono::milliseconds putRetryTimeout{};  // 0: retry until stopped
};

class ExecSource final : public sdk::EventDrivenSource {
 public:
  static constexpr const char* kThreadName = "sluice-exec";
  static constexpr std::size_t kReadBytes = 64 * 1024;
  static constexpr std::size_t kMaxStderrLine = 8 * 1024;
  static constexpr std::chrono::milliseconds kKillGrace{3000};
  static constexpr std::chrono::milliseconds kRetryMin{10};
  static constexpr std::chrono::milliseconds kRetryMax{1000};

  // Counters added after Flume's SourceCounter (the constructor checks the indices).
  enum : std::size_t {
    kLinesDropped = sdk::SourceCounter::GenericProcessingFail + 1,
    kChildRestarts,
    kLinesSplit,
    kChildStarts,
    kSpawnFailures,
  };

  ExecSource();
  ~ExecSource() override;

  // Control thread.
  void configure(const sdk::Context& context) override;
  // Starts the thread, which spawns the child. A second start() while running does nothing.
  void start() override;
  // Kills the child's process group (SIGTERM, then SIGKILL after kKillGrace), joins the thread.
  // Lines read but not accepted by the channels by then are dropped and counted.
  void stop() override;

  const ExecSettings& settings() const noexcept { return settings_; }
  // pid of the running child (0 when none); for tests.
  pid_t childPid() const noexcept { return childPid_.load(); }

 private:
  enum class PumpEnd { Eof, Stopping };

  void run();
  bool spawn(int& outFd, int& errFd);
  PumpEnd pump(int outFd, int errFd);
  void onStdout(const char* data, std::size_t n);
  void onStderr(const char* data, std::size_t n, bool eof);
  void addLine(const char* p, std::size_t n);
  // Hands the pending batch to the channels, retrying while refused (see above).
  void flush();
  // Waits until the child exits (killing its group when stopping) and logs its exit status.
  void reap(bool stopping);
  // Sleeps up to d; returns early (false) when stop() was called.
  bool sleepFor(std::chrono::milliseconds d);
  bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

  ExecSettings settings_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  int wakeFd_ = -1;
  std::atomic<pid_t> childPid_{0};

  // Runner-thread state.
  std::vector<char> readBuf_;  // unfinished stdout line at the front, then fresh bytes
  std::size_t carry_ = 0;      // bytes of the unfinished line at the front of readBuf_
  std::string errLine_;        // unfinished stderr line
  sdk::EventBatch batch_;
  std::string pendingRaw_;  // the batch's lines, each followed by '\n'
  std::chrono::steady_clock::time_point batchStart_{};
  int64_t stderrLines_ = 0;
};

}  // namespace sluice::plugins::exec
