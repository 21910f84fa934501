#pragma once
// For unit tests only, and included by exactly one .cpp of a test binary: replaces the global
// operator new to count allocations, so a test can assert that a hot path allocates nothing
// beyond the change it makes. Read the count only around calls on the test's own thread.

#include <atomic>
#include <cstdlib>
#include <new>

namespace sluice::plugins::testing {
inline std::atomic<long> gAllocations{0};

// Allocations made while f() runs.
template <class F>
long allocationsDuring(F&& f) {
  const long before = gAllocations.load(std::memory_order_relaxed);
  f();
  return gAllocations.load(std::memory_order_relaxed) - before;
}
}  // namespace sluice::plugins::testing

// noinline: GCC 12 otherwise pairs the inlined free() with its built-in operator new and warns.
[[gnu::noinline]] void* operator new(std::size_t n) {
  sluice::plugins::testing::gAllocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
