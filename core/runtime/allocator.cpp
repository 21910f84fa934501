#include "core/runtime/allocator.hpp"

#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace sluice::core {

void tuneAllocator() noexcept {
  // Free memory above 64 MiB at the heap top is still given back, so an idle agent after a burst
  // shrinks again; below that, it is kept for the next batch. A fixed mmap threshold stops glibc
  // from raising it dynamically (which would also disable trimming of large blocks).
  mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
  mallopt(M_TOP_PAD, 16 * 1024 * 1024);
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
}

void ensureAllocatorTunables(char** argv) noexcept {
  constexpr const char* kTunable = "glibc.malloc.tcache_count";
  const char* current = std::getenv("GLIBC_TUNABLES");
  if (current && std::strstr(current, kTunable)) return;  // set (by us, or by the user)
  if (std::getenv("SLUICE_NO_REEXEC")) return;
  try {
    std::string value = current && *current ? std::string(current) + ":" : std::string();
    value += std::string(kTunable) + "=1000";
    if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  } catch (...) {
    return;
  }
  execv("/proc/self/exe", argv);
  // exec failed (no /proc?): run on with glibc's defaults; only throughput suffers.
  unsetenv("GLIBC_TUNABLES");
  if (current) setenv("GLIBC_TUNABLES", current, 1);
}

}  // namespace sluice::core
