// A library that claims a future SDK ABI: the loader must refuse it and name both versions.
#include "sluice/sdk/plugin.hpp"

namespace {
const sluice::sdk::PluginManifest* noManifest() noexcept { return nullptr; }
const sluice::sdk::PluginHeader kHeader = {sluice::sdk::kPluginMagic, 99, 7, SLUICE_SDK_TOOLCHAIN,
                                           &noManifest};
}  // namespace
extern "C" __attribute__((visibility("default"))) const void* sluice_plugin_v1;
__attribute__((section(SLUICE_PLUGIN_SECTION), used)) const void* sluice_plugin_v1 = &kHeader;
