#pragma once
// /ready: whether the agent is running and delivering (every component started, no channel
// fuller than a threshold, no sink runner failing for longer than one), with the reasons.

#include <cstdint>
#include <string>
#include <vector>

#include "core/monitoring/snapshot.hpp"

namespace sluice::core::monitoring {

struct ReadyOptions {
  double maxChannelFillPercent = 90.0;
  int64_t maxSinkFailingMs = 60000;
};
// One check /ready made: what, on which component, whether it passed, and why.
struct ReadyCheck {
  std::string check;
  std::string component;
  bool ok = false;
  std::string detail;
};
// The verdict and its reasons; json.hpp's renderReady writes it as /ready's document.
struct ReadyResult {
  bool ready = false;
  std::string agent;
  ReadyOptions options;
  std::vector<std::string> reasons;  // the failed checks, "COMPONENT: detail"
  std::vector<ReadyCheck> checks;
};
ReadyResult evaluateReady(const Snapshot& s, const ReadyOptions& o, int64_t nowMs);

}  // namespace sluice::core::monitoring
