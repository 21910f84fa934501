#include "core/cli/agent_loop.hpp"

#include <signal.h>

#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/config/model.hpp"
#include "core/runtime/config_watcher.hpp"

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

  sdk::Result r;
  {
    std::lock_guard lock(agentMutex_);
    r = agent_->start();
  }
  if (!r) {
    std::cerr << "error: " << session_.logs->secrets().mask(r.error()) << "\n";
    return 1;
  }
  std::unique_ptr<ConfigWatcher> watcher;
  if (options_.watch) {
    watcher = std::make_unique<ConfigWatcher>(options_.confFile, options_.pollInterval, [requests] {
      std::lock_guard lock(requests->mutex);
      requests->reload = true;
      requests->cv.notify_all();
    });
    watcher->start();
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
  if (watcher) watcher->stop();
  std::lock_guard lock(agentMutex_);
  agent_->stop();
  return 0;
}

// A config that does not parse, validate or start is reported and the old one keeps running.
void AgentLoop::reload() {
  auto log = session_.logs->core("reload");
  log->info("configuration file {} changed; reloading", options_.confFile);
  Diagnostics diags;
  try {
    // The filters run again: a rotated secret or a changed variable is picked up. The new
    // secrets are registered before anything quotes them (old ones stay: see SecretRegistry).
    RawConfig raw = loadSessionConfig(options_.confFile, session_, diags);
    AgentConfig cfg;
    if (!diags.hasErrors()) cfg = buildAgentConfig(raw, agent_->name(), diags);
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
  if (diags.hasErrors()) log->error("reload refused: the running configuration is unchanged");
}

}  // namespace sluice::core::cli
