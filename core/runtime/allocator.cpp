#include "core/runtime/allocator.hpp"

#include <malloc.h>

namespace sluice::core {

void tuneAllocator() noexcept {
  // Free memory above 64 MiB at the heap top is still given back, so an idle agent after a burst
  // shrinks again; below that, it is kept for the next batch. A fixed mmap threshold stops glibc
  // from raising it dynamically (which would also disable trimming of large blocks).
  mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
  mallopt(M_TOP_PAD, 16 * 1024 * 1024);
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
}

}  // namespace sluice::core
