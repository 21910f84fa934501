#pragma once
// The plugin ABI version. Bump the minor for backward-compatible additions (new virtuals at the
// end of a class are NOT backward compatible: bump the major), the major for any layout or
// vtable change. tests/check_sdk_abi_hash.py checks that a change to sdk/ headers is reviewed.
//
// 2.0: host entry points moved to sdk::HostAccess (not virtual, not overridable);
// Channel::backlog(); SinkBatch; ProcessOutcome::taken; the back-off keys are read by the host;
// the plugin descriptor (sluice_plugin_v2) is plain data the host reads before loading.
// 3.0: sub-component kinds EventSerializer and HttpHandler (serializer.hpp, http_handler.hpp),
// Key::component() and Context::component<T>(), which add members to Key and Context; a
// channel's source state committed with a put (Transaction::putSourceState,
// Channel::committedSourceState, ChannelProcessor's state calls).
// 3.1: Headers::reserve() and appendDistinct() (inline); the optional type list a plugin
// declares with SLUICE_PLUGIN_TYPES, which lets the host load it only when a config names it.

#include <cstddef>  // defines _GLIBCXX_RELEASE

#define SLUICE_SDK_ABI_MAJOR 3
#define SLUICE_SDK_ABI_MINOR 1

// Plugins and host must share the C++ standard library and its ABI (std::string layout): the
// tag names both. Compiler brand does not matter (g++ and clang++ on libstdc++ interoperate).
#if defined(_GLIBCXX_RELEASE) && defined(_GLIBCXX_USE_CXX11_ABI)
#define SLUICE_SDK_STR2(x) #x
#define SLUICE_SDK_STR(x) SLUICE_SDK_STR2(x)
#define SLUICE_SDK_TOOLCHAIN \
  "libstdc++" SLUICE_SDK_STR(_GLIBCXX_RELEASE) "-cxx11abi" SLUICE_SDK_STR(_GLIBCXX_USE_CXX11_ABI)
#elif defined(_LIBCPP_VERSION)
#define SLUICE_SDK_TOOLCHAIN "libc++"
#else
#define SLUICE_SDK_TOOLCHAIN "unknown"
#endif
