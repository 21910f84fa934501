#pragma once
// How a shared object declares its components. Each plugin .so has exactly one SLUICE_PLUGIN:
//
//   const sluice::sdk::PluginManifest& manifest() {
//     static const sluice::sdk::PluginManifest m{
//         "example", "1.0.0",
//         {sluice::sdk::makeComponent<MySource>(sluice::sdk::ComponentKind::Source,
//                                               "com.example.MySource", {}, mySchema(),
//                                               "Counts with a prefix")}};
//     return m;
//   }
//   SLUICE_PLUGIN(manifest)
//
// The macro exports one symbol, sluice_plugin_v2: a PluginHeader placed in the ELF section
// "sluice". Its leading fields are plain data (magic, ABI version, toolchain tag, no pointers),
// so the host reads them straight from the file, before it loads the library: a plugin built
// for another ABI is refused without any of its code (static constructors included) running.
// Only a library that passes is loaded, and only then does the host call its manifest function.
// The symbol's name carries the layout's version: sluice_plugin_v1 was the pointer-to-header
// layout of SDK ABI 1, which the host recognises and refuses with a "rebuild" message.
//
// Optionally (ABI 3.1), a plugin also lists the type names its manifest provides:
//
//   SLUICE_PLUGIN_TYPES("source com.example.MySource")
//
// one component per ';'-separated entry, each "<kind> <type> [<alias> ...]" with the kind as
// sdk::nameOf writes it (source, channel, sink, interceptor, selector, sink-selector, serializer,
// http-handler). The list is plain bytes the host reads from the file (the exported symbol
// sluice_plugin_types_v1, section "sluice_types"), so it maps such a library only once a
// configuration names one of its types: an agent pays memory and start-up time for the plugins
// it runs, not for every plugin installed. At load the host checks the list against the
// manifest and refuses a library where they differ. Without the list a library is loaded when
// its directory is scanned, as before.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <type_traits>
#include <vector>

#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/component.hpp"
#include "sluice/sdk/http_handler.hpp"
#include "sluice/sdk/interceptor.hpp"
#include "sluice/sdk/kind.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/selector.hpp"
#include "sluice/sdk/serializer.hpp"
#include "sluice/sdk/sink.hpp"
#include "sluice/sdk/sink_selector.hpp"
#include "sluice/sdk/source.hpp"
#include "sluice/sdk/version.hpp"
#include "sluice/sdk/visibility.hpp"

namespace sluice::sdk {

// Flume's InterfaceStability annotations.
enum class Stability { Stable, Evolving, Experimental };

inline const char* nameOf(Stability s) noexcept {
  switch (s) {
    case Stability::Stable: return "stable";
    case Stability::Evolving: return "evolving";
    case Stability::Experimental: return "experimental";
  }
  return "?";
}

// Creates one object. Never throws: on failure returns nullptr and sets *error.
using FactoryFn = PluginObject* (*)(std::string* error) noexcept;

struct SLUICE_SDK_API ComponentInfo {
  ComponentKind kind;
  std::string type;                  // the canonical name, e.g. "memory" or "com.example.MySource"
  std::vector<std::string> aliases;  // other names: Flume class names, short aliases
  Schema schema;
  std::string description;
  Stability stability = Stability::Stable;
  FactoryFn create = nullptr;
};

struct SLUICE_SDK_API PluginManifest {
  std::string name;
  std::string version;
  std::vector<ComponentInfo> components;
};

// Plain C layout, read from the file by the host (core/plugin/elf_header.cpp): the fields up to
// the toolchain tag must keep their offsets in every future ABI version.
inline constexpr std::size_t kToolchainTagSize = 48;
extern "C" {
struct PluginHeader {
  uint32_t magic;  // kPluginMagic
  uint32_t abiMajor;
  uint32_t abiMinor;
  uint32_t reserved;                  // 0
  char toolchain[kToolchainTagSize];  // SLUICE_SDK_TOOLCHAIN, NUL-terminated
  // Relocated at load time: read only after the checks above passed and the library is loaded.
  const PluginManifest* (*manifest)() noexcept;
};
}
inline constexpr uint32_t kPluginMagic = 0x534c4345;  // "SLCE"
static_assert(sizeof(SLUICE_SDK_TOOLCHAIN) <= kToolchainTagSize, "toolchain tag too long");

template <class T>
constexpr bool kindMatches(ComponentKind kind) {
  switch (kind) {
    case ComponentKind::Source: return std::is_base_of_v<Source, T>;
    case ComponentKind::Channel: return std::is_base_of_v<Channel, T>;
    case ComponentKind::Sink: return std::is_base_of_v<Sink, T>;
    case ComponentKind::Interceptor: return std::is_base_of_v<InterceptorBuilder, T>;
    case ComponentKind::ChannelSelector: return std::is_base_of_v<ChannelSelector, T>;
    case ComponentKind::SinkSelector: return std::is_base_of_v<SinkSelector, T>;
    case ComponentKind::EventSerializer:
      return std::is_base_of_v<EventSerializerBuilder, T>;
    case ComponentKind::HttpHandler:
      return std::is_base_of_v<HttpSourceHandler, T>;
  }
  return false;
}

// The factory returns a PluginObject* that the host static_casts back to the kind's base class
// (Source*, Channel*...), so T must derive from exactly that base, checked here and in
// makeComponent.
template <class T>
PluginObject* createObject(std::string* error) noexcept {
  try {
    return static_cast<PluginObject*>(new T());
  } catch (const std::exception& e) {
    if (error) *error = e.what();
  } catch (...) {
    if (error) *error = "unknown exception in constructor";
  }
  return nullptr;
}

template <class T>
ComponentInfo makeComponent(ComponentKind kind, std::string type, std::vector<std::string> aliases,
                            Schema schema, std::string description,
                            Stability stability = Stability::Stable) {
  static_assert(std::is_base_of_v<PluginObject, T>, "plugin types derive from a sdk base class");
  if (!kindMatches<T>(kind)) throw std::logic_error("component kind does not match its class: " + type);
  ComponentInfo info;
  info.kind = kind;
  info.type = std::move(type);
  info.aliases = std::move(aliases);
  info.schema = std::move(schema);
  info.description = std::move(description);
  info.stability = stability;
  info.create = &createObject<T>;
  return info;
}

}  // namespace sluice::sdk

#define SLUICE_PLUGIN_SYMBOL "sluice_plugin_v2"
#define SLUICE_PLUGIN_SECTION "sluice"

// ManifestFn: a function returning const sluice::sdk::PluginManifest&. Building the manifest may
// throw (bad_alloc); the wrapper turns that into nullptr, which the host reports.
#define SLUICE_PLUGIN(ManifestFn)                                                    \
  namespace {                                                                        \
  const ::sluice::sdk::PluginManifest* sluice_plugin_manifest_() noexcept {          \
    try {                                                                            \
      return &ManifestFn();                                                          \
    } catch (...) {                                                                  \
      return nullptr;                                                                \
    }                                                                                \
  }                                                                                  \
  }                                                                                  \
  extern "C" __attribute__((visibility("default")))                                  \
  const ::sluice::sdk::PluginHeader sluice_plugin_v2;                                \
  __attribute__((section(SLUICE_PLUGIN_SECTION), used))                              \
  const ::sluice::sdk::PluginHeader sluice_plugin_v2 = {                             \
      ::sluice::sdk::kPluginMagic, SLUICE_SDK_ABI_MAJOR,    SLUICE_SDK_ABI_MINOR, 0, \
      SLUICE_SDK_TOOLCHAIN,        &sluice_plugin_manifest_};

#define SLUICE_PLUGIN_TYPES_SYMBOL "sluice_plugin_types_v1"
#define SLUICE_PLUGIN_TYPES_SECTION "sluice_types"

// TypeList: a string literal, see the top of this file.
#define SLUICE_PLUGIN_TYPES(TypeList)                                                    \
  extern "C" __attribute__((visibility("default"))) const char sluice_plugin_types_v1[]; \
  __attribute__((section(SLUICE_PLUGIN_TYPES_SECTION), used))                            \
  const char sluice_plugin_types_v1[] = TypeList;
