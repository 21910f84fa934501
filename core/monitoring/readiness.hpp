#pragma once
// /ready: whether the agent is running and delivering (every component started, no channel
// fuller than a threshold, no sink runner failing for longer than one), with the reasons.

#include <cstdint>
#include <string>

#include "core/monitoring/snapshot.hpp"

namespace sluice::core::monitoring {

struct ReadyOptions {
  double maxChannelFillPercent = 90.0;
  int64_t maxSinkFailingMs = 60000;
};
struct ReadyResult {
  bool ready = false;
  std::string json;
};
ReadyResult evaluateReady(const Snapshot& s, const ReadyOptions& o, int64_t nowMs);

}  // namespace sluice::core::monitoring
