#pragma once
// Runs a short-lived command and collects its output, bounded in time: what an external config
// filter (Flume's ExternalProcessConfigFilter) does for each key. Control thread only.

#include <chrono>
#include <string>
#include <vector>

namespace sluice::core {

struct CommandResult {
  bool started = false;   // false: the program could not be run (error says why)
  bool timedOut = false;  // killed (SIGKILL) after the timeout
  int exitCode = -1;      // the exit status, or 128 + signal
  std::string out;        // standard output
  std::string err;        // standard error (at most 4 KiB kept)
  std::string error;      // why it did not start
};

// Runs argv[0] (looked up in PATH, as Java's Runtime.exec does) with argv, without a shell,
// standard input from /dev/null. Waits at most `timeout`.
CommandResult runCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

}  // namespace sluice::core
