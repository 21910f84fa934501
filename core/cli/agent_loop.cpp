#include "core/cli/agent_loop.hpp"

#include <signal.h>
#include <systemd/sd-daemon.h>

#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/config/model.hpp"

namespace sluice::core::cli {

namespace {

sigset_t loopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

// What the signal thread, the config watcher and the loop share. Held by shared_ptr: the signal
// thread is detached (sigwait cannot be interrupted) and may outlive the loop.
struct Requests {
  std::mutex mutex;
  std::condition_variable cv;
  int stops = 0;
  bool reload = false;
};

// The service manager's side (sd_notify(3)): a datagram to $NOTIFY_SOCKET when systemd started
// us with Type=notify, nothing otherwise.
void notifyService(const std::string& state) { (void)sd_notify(0, state.c_str()); }

// Sends WATCHDOG=1 every half interval while live() returns an empty string, from a thread of its
// own. When live() names a problem the pings stop (logged once), and systemd, after WatchdogSec
// without one, kills and restarts the agent (Restart=on-failure); they resume if it recovers.
class Watchdog {
 public:
  Watchdog(std::chrono::microseconds interval, std::function<std::string()> live,
           std::shared_ptr<spdlog::logger> log)
      : interval_(interval), live_(std::move(live)), log_(std::move(log)) {}
  ~Watchdog() { stop(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::string problem;  // the one logged last; empty while live
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      std::string now = live_();
      if (now.empty()) {
        notifyService("WATCHDOG=1");
        if (!problem.empty()) log_->info("watchdog: live again; pinging the service manager");
      } else if (now != problem) {
        log_->error(
            "watchdog: {}; not pinging the service manager, which restarts the agent when "
            "WatchdogSec passes without a ping",
            now);
      }
      problem = std::move(now);
      lock.lock();
      cv_.wait_for(lock, interval_ / 2, [this] { return stopping_; });
    }
  }

  const std::chrono::microseconds interval_;
  std::function<std::string()> live_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

std::string seconds(std::chrono::nanoseconds d) {
  return fmt::format("{:.1f} s", std::chrono::duration<double>(d).count());
}

}  // namespace

void AgentLoop::blockSignals() {
  const sigset_t set = loopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int AgentLoop::run() {
  auto requests = std::make_shared<Requests>();
  std::thread([requests] {
    const sigset_t set = loopSignals();
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      std::lock_guard lock(requests->mutex);
      if (sig == SIGHUP) {
        requests->reload = true;
      } else if (++requests->stops >= 2) {
        std::cerr << "second signal: exiting without draining\n";
        std::_Exit(130);
      }
      requests->cv.notify_all();
    }
  }).detach();

  // The watchdog runs from before the start (systemd times it from the service's start), and
  // counts a start, like a reload, as live for one interval.
  std::unique_ptr<Watchdog> watchdog;
  uint64_t watchdogUsec = 0;
  if (sd_watchdog_enabled(0, &watchdogUsec) > 0 && watchdogUsec > 0) {
    const std::chrono::microseconds interval(watchdogUsec);
    watchdog = std::make_unique<Watchdog>(
        interval,
        [this, interval, lockBusySince = std::chrono::steady_clock::time_point{}]() mutable {
          return stalled(interval, lockBusySince);
        },
        session_.logs->core("watchdog"));
    watchdog->start();
  }

  sdk::Result r;
  {
    std::lock_guard lock(agentMutex_);
    r = agent_->start();
  }
  if (!r) {
    const std::string error = session_.logs->secrets().mask(r.error());
    std::cerr << "error: " << error << "\n";
    notifyService("STATUS=could not start: " + error);
    return 1;
  }
  notifyService("READY=1\nSTATUS=" + status());
  ConfigSource& source = *session_.source;
  source.accepted();
  if (options_.watch) {
    source.watch([requests] {
      std::lock_guard lock(requests->mutex);
      requests->reload = true;
      requests->cv.notify_all();
    });
  }
  for (;;) {
    {
      std::unique_lock lock(requests->mutex);
      requests->cv.wait(lock, [&] { return requests->stops > 0 || requests->reload; });
      if (requests->stops > 0) break;
      requests->reload = false;
    }
    reload();
  }
  notifyService("STOPPING=1\nSTATUS=stopping: sinks drain what their channels hold");
  if (watchdog) watchdog->stop();
  if (options_.watch) source.unwatch();
  std::lock_guard lock(agentMutex_);
  agent_->stop();
  return 0;
}

std::string AgentLoop::status() const {
  const AgentConfig& c = agent_->config();
  return "agent '" + c.agent + "' running: " + std::to_string(c.sources.size()) + " source(s), " +
         std::to_string(c.channels.size()) + " channel(s), " + std::to_string(c.sinks.size()) +
         " sink(s)";
}

std::string AgentLoop::stalled(std::chrono::nanoseconds limit,
                               std::chrono::steady_clock::time_point& lockBusySince) {
  const auto now = std::chrono::steady_clock::now();
  // The monitoring thread holds the lock for moments (a snapshot); a few tries see past that.
  std::unique_lock lock(agentMutex_, std::try_to_lock);
  for (int i = 0; i < 10 && !lock.owns_lock(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    lock.try_lock();
  }
  if (!lock.owns_lock()) {
    if (lockBusySince == std::chrono::steady_clock::time_point{}) lockBusySince = now;
    if (now - lockBusySince <= limit) return {};
    return "the agent has been starting, reloading or stopping for more than " + seconds(limit);
  }
  lockBusySince = {};
  std::string runner = agent_->stalledRunner(limit);
  if (runner.empty()) return {};
  return runner + " has been in one process() call for more than " + seconds(limit);
}

// A config that does not parse, validate or start is reported and the old one keeps running.
void AgentLoop::reload() {
  ConfigSource& source = *session_.source;
  const std::string where = source.describe();
  notifyService("RELOADING=1\nSTATUS=reloading " + where);
  auto log = session_.logs->core("reload");
  log->info("configuration {} changed; reloading", where);
  Diagnostics diags;
  try {
    // The filters run again: a rotated secret or a changed variable is picked up. The new
    // secrets are registered before anything quotes them (old ones stay: see SecretRegistry).
    RawConfig raw = loadSessionConfig(source.fetch(), session_, diags);
    AgentConfig cfg;
    if (!diags.hasErrors())
      cfg = buildAgentConfig(raw, agent_->name(), diags, session_.substitution.strict);
    if (!diags.hasErrors()) {
      std::lock_guard lock(agentMutex_);
      agent_->reload(cfg, diags);
    }
  } catch (const std::exception& e) {
    diags.error(e.what());
  }
  for (const auto& d : diags.items()) {
    if (d.severity == Diagnostic::Severity::Error)
      log->error("{}", d.message);
    else
      log->warn("{}", d.message);
  }
  if (diags.hasErrors())
    log->error("reload refused: the running configuration is unchanged");
  else
    source.accepted();
  notifyService("READY=1\nSTATUS=" + status());
}

}  // namespace sluice::core::cli
