#pragma once
// Starting a plugin's own thread the way the sources that own one (exec, spooldir) did, each in
// its own copy: named for top -H and gdb, and an exception that escapes the thread's work is
// logged instead of terminating the agent. Header-only.

#include <pthread.h>

#include <exception>
#include <thread>
#include <utility>

#include "sluice/sdk/component.hpp"

namespace sluice::plugins::threads {

// Runs body() on a new thread named `name` (at most 15 characters; a longer one stays unnamed).
// An exception out of body() is logged with owner's logger as "<what> thread failed: <reason>";
// the thread then ends. owner must outlive the thread (join it in stop()).
template <class Body>
std::thread startWorker(const char* name, const sdk::PluginObject& owner, const char* what,
                        Body body) {
  return std::thread([name, &owner, what, body = std::move(body)]() mutable {
    ::pthread_setname_np(::pthread_self(), name);
    try {
      body();
    } catch (const std::exception& e) {
      owner.logger().error(what, " thread failed: ", e.what());
    } catch (...) {
      owner.logger().error(what, " thread failed: unknown exception");
    }
  });
}

}  // namespace sluice::plugins::threads
