// sluice: the command line. Flume's spellings are accepted beside our own, so
//   flume-ng agent -n a1 -c conf -f conf/a.properties -Dflume.root.logger=INFO,console
// becomes
//   sluice agent -n a1 -c conf -f conf/a.properties -Dflume.root.logger=INFO,console

#include "core/cli/commands.hpp"
#include "core/runtime/allocator.hpp"

int main(int argc, char** argv) {
#ifndef SLUICE_ALLOCATOR_MIMALLOC
  // Only glibc's malloc needs this; mimalloc (the default build) has neither problem.
  sluice::core::ensureAllocatorTunables(argv);
  sluice::core::tuneAllocator();
#endif
  return sluice::core::cli::run(argc, argv);
}
