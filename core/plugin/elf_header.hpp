#pragma once
// Reads a plugin's descriptor (sdk::PluginHeader, the symbol SLUICE_PLUGIN_SYMBOL in the ELF
// section SLUICE_PLUGIN_SECTION) straight from the library file, without loading it: the loader
// checks the ABI version and toolchain tag before any of the library's code, its static
// constructors included, runs in the host. Only the plain-data fields at the head of the record
// are read; pointers in it are meaningful only after loading. The optional type list (a plain
// char array) is read the same way.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace sluice::core {

struct PluginDescriptor {
  enum class Kind {
    Current,    // SLUICE_PLUGIN_SYMBOL found: the fields below are filled in
    OldLayout,  // only sluice_plugin_v1: a plugin built for SDK ABI 1
    None,       // no descriptor: not a sluice plugin
  };
  Kind kind = Kind::None;
  uint32_t magic = 0;
  uint32_t abiMajor = 0;
  uint32_t abiMinor = 0;
  std::string toolchain;
  // The SLUICE_PLUGIN_TYPES list (sdk/plugin.hpp), when the library declares one.
  bool hasTypes = false;
  std::string types;
};

// The longest type list read from a file; a longer one makes the file malformed.
inline constexpr std::size_t kMaxPluginTypesBytes = 64 * 1024;

// Fills `out` from the file. Returns false, with `error` saying why, when the file cannot be
// read or is not an ELF shared object for this machine (a truncated or corrupt file included).
bool readPluginDescriptor(const std::filesystem::path& file, PluginDescriptor& out,
                          std::string& error);

}  // namespace sluice::core
