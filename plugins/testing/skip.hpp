#pragma once
// Skipping a doctest test case that cannot run here (not root, a tool not installed), so that
// it is reported as skipped instead of passing without having checked anything:
//
//   TEST_CASE("..." * skipUnless(canMountTmpfs(), "needs to mount a tmpfs (root)")) { ... }
//
// The condition is evaluated once, when the test registers (before main). The summary line
// counts the test as skipped, and stderr names it with the reason.

#include <doctest/doctest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace sluice::plugins::testing {

inline doctest::skip skipUnless(bool canRun, const char* why) {
  if (!canRun) std::fprintf(stderr, "[test] skipped: %s\n", why);
  return doctest::skip(!canRun);
}

// Whether `program` is found on PATH.
inline bool onPath(const char* program) {
  return std::system(("command -v " + std::string(program) + " >/dev/null 2>&1").c_str()) == 0;
}

// Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN): tries one and removes it.
inline bool canMountTmpfs() {
  char dir[] = "/tmp/sluice-mount-probe-XXXXXX";
  if (::mkdtemp(dir) == nullptr) return false;
  const bool ok = ::mount("tmpfs", dir, "tmpfs", 0, "size=64k") == 0;
  if (ok) ::umount(dir);
  ::rmdir(dir);
  return ok;
}

}  // namespace sluice::plugins::testing
