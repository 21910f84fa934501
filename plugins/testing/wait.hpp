#pragma once
// The one condition wait for C++ tests (plugin unit tests and tests/runtime): poll a condition
// until it holds or a deadline passes. Tests never sleep a fixed time to "let something happen";
// they wait for the state that shows it happened.

#include <chrono>
#include <thread>

namespace sluice::plugins::testing {

// Polls cond every few milliseconds until it holds or the timeout passes; returns whether it
// held (evaluated once more at the deadline, so a slow last step still counts).
template <class F>
bool waitFor(F&& cond, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return static_cast<bool>(cond());
}

}  // namespace sluice::plugins::testing
