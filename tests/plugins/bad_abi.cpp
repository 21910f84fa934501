// A library that claims a future SDK ABI and whose static constructor aborts: the loader must
// refuse it from its file alone, naming both versions, without loading it (loading would run
// the constructor and kill the test).
#include <cstdlib>

#include "sluice/sdk/plugin.hpp"

namespace {
const sluice::sdk::PluginManifest* noManifest() noexcept { return nullptr; }

struct CrashOnLoad {
  CrashOnLoad() { std::abort(); }
};
const CrashOnLoad crash;
}  // namespace

extern "C" __attribute__((visibility("default"))) const sluice::sdk::PluginHeader sluice_plugin_v2;
__attribute__((section(SLUICE_PLUGIN_SECTION), used))
const sluice::sdk::PluginHeader sluice_plugin_v2 = {sluice::sdk::kPluginMagic, 99,         7, 0,
                                                    SLUICE_SDK_TOOLCHAIN,      &noManifest};
