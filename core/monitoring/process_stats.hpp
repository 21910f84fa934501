#pragma once
// The process_* metrics Prometheus' client libraries export (memory, CPU, descriptors, threads),
// read from /proc.

namespace sluice::core::monitoring {

struct ProcessStats {
  double residentBytes = 0, virtualBytes = 0, cpuSeconds = 0, startTimeSeconds = 0;
  double openFds = 0, maxFds = 0, threads = 0;
  bool ok = false;
};
// Reads /proc/self (Linux).
ProcessStats readProcessStats();

}  // namespace sluice::core::monitoring
