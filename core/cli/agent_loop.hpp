#pragma once
// The running agent's loop (`sluice agent`): signals, config watching and hot reloads.
// The first SIGINT/SIGTERM asks for a graceful stop, a second one exits at once; SIGHUP, and a
// change the config source reports while watching is on (a file edit, a new answer from a
// --conf-uri server, a znode edit), reload the configuration from the session's source. SIGPIPE is
// ignored: a broken connection is that connection's error.
//
// Under systemd (`Type=notify`, scripts/dist/sluice@.service) the loop reports its state with
// sd_notify(3): READY=1 once every component started, RELOADING=1 ... READY=1 around each reload,
// STOPPING=1 when the stop begins, and WATCHDOG=1 every half WatchdogSec while the runners are
// live (see stalled()). Without NOTIFY_SOCKET in the environment none of this does anything.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "core/cli/session.hpp"
#include "core/runtime/agent.hpp"

namespace sluice::core::cli {

class AgentLoop {
 public:
  struct Options {
    bool watch = true;  // ask the session's config source to report changes
  };

  // Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and in every thread it starts
  // afterwards, so that only the loop's signal thread receives them, and ignores SIGPIPE. Call
  // first thing, before any thread exists.
  static void blockSignals();

  // `agent` is built; `agentMutex` is held around every start, reload and stop of it, so that
  // other threads (monitoring) can read it while it is held by no one.
  AgentLoop(Session& session, std::unique_ptr<Agent>& agent, std::mutex& agentMutex,
            Options options)
      : session_(session), agent_(agent), agentMutex_(agentMutex), options_(std::move(options)) {}

  // Starts the agent, reloads it when asked, and stops it on SIGINT/SIGTERM. Returns the exit
  // code: 0 after a graceful stop, 1 when the agent could not start.
  int run();

 private:
  void reload();
  std::string status() const;  // the STATUS= line systemctl shows
  // Why the agent is not live right now, or empty when it is: a runner that has spent longer than
  // `limit` in one process() call, or the agent lock held (by a start, reload or stop) for longer
  // than `limit` (lockBusySince remembers since when it was seen held). Runs on the watchdog
  // thread.
  std::string stalled(std::chrono::nanoseconds limit,
                      std::chrono::steady_clock::time_point& lockBusySince);

  Session& session_;
  std::unique_ptr<Agent>& agent_;
  std::mutex& agentMutex_;
  Options options_;
};

}  // namespace sluice::core::cli
