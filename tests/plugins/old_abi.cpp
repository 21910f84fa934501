// A library with the SDK ABI 1 descriptor layout (sluice_plugin_v1: a pointer to a header, in
// the "sluice" section) and a static constructor that aborts: the loader must refuse it from its
// file alone, asking for a rebuild, without loading it.
#include <cstdint>
#include <cstdlib>

namespace {
struct V1Header {
  uint32_t magic;
  uint32_t abiMajor;
  uint32_t abiMinor;
  const char* toolchain;
  const void* (*manifest)() noexcept;
};
const void* noManifest() noexcept { return nullptr; }
const V1Header kHeader = {0x534c4345, 1, 1, "libstdc++12-cxx11abi1", &noManifest};

struct CrashOnLoad {
  CrashOnLoad() { std::abort(); }
};
const CrashOnLoad crash;
}  // namespace

extern "C" __attribute__((visibility("default"))) const void* sluice_plugin_v1;
__attribute__((section("sluice"), used)) const void* sluice_plugin_v1 = &kHeader;
