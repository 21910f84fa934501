#pragma once
// Tuning for glibc's malloc, used when sluice is built with -Dallocator=system (and in sanitizer
// builds). The default build links mimalloc instead, which frees across threads without a lock
// and keeps freed pages for reuse, and needs neither call (meson_options.txt, README
// "Performance").

namespace sluice::core {

// Keeps glibc from returning freed heap to the kernel after every batch. Events are created and
// destroyed in batches of thousands; with glibc's defaults each freed batch trims the heap and the
// next one page-faults it back, which cut stress -> memory -> null from 7.5 to 1.8 million
// events/s when measured. Call once at process start, before other threads exist.
void tuneAllocator() noexcept;

// Events are allocated on a source's thread and freed on a sink's thread. glibc sends each such
// free that does not fit the freeing thread's small per-thread cache (7 chunks per size) back to
// the allocating thread's arena under its lock, and the two threads then fight over that lock:
// measured here, netcat -> static interceptor -> memory -> file_roll ran at 0.65 M lines/s with
// the default cache and 2.5 M lines/s with a cache of 1000 chunks. The cache size can only be
// set through GLIBC_TUNABLES before the process starts, so the binary re-executes itself once
// with it set, unless the user already chose a value. Returns only if no re-exec happened.
void ensureAllocatorTunables(char** argv) noexcept;

}  // namespace sluice::core
