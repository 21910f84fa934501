#pragma once
// Finds plugin libraries, checks their ABI, and resolves type names to components, as Flume
// resolves `type = ...` (short aliases case-insensitively, class names, `$Builder` suffixes).
//
// A library that lists its types (SLUICE_PLUGIN_TYPES, sdk/plugin.hpp) is checked when its
// directory is scanned but loaded only when a type of it is first resolved: an agent maps the
// plugins its configuration names, not every plugin installed (with the built-ins, about 14 MB
// of resident memory and their libraries' start-up). A library without the list is loaded at
// the scan. Loading on first use is a cache fill behind the const lookups, under a mutex.
//
// A loaded library stays mapped until the process ends, and every object created from a library
// holds a reference to it (PluginDeleter), so a library is never unmapped while anything from it
// lives.

#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/diagnostics.hpp"
#include "core/plugin/elf_header.hpp"
#include "sluice/sdk/plugin.hpp"

namespace boost::dll {
class shared_library;
}

namespace sluice::core {

struct PluginLibrary;  // a loaded .so plus its manifest

// Deletes a plugin object while keeping its library mapped until after the delete.
struct PluginDeleter {
  std::shared_ptr<PluginLibrary> library;
  void operator()(sdk::PluginObject* p) const noexcept { delete p; }
};
template <class T>
struct TypedPluginDeleter {
  std::shared_ptr<PluginLibrary> library;
  void operator()(T* p) const noexcept { delete static_cast<sdk::PluginObject*>(p); }
};
template <class T>
using PluginPtr = std::unique_ptr<T, TypedPluginDeleter<T>>;

struct RegisteredComponent {
  const sdk::ComponentInfo* info = nullptr;
  std::shared_ptr<PluginLibrary> library;
  std::filesystem::path file;
  std::string pluginName;
  std::string pluginVersion;
};

// A library as the status page and the debug log list it, loaded or not.
struct CatalogEntry {
  std::filesystem::path file;
  std::string pluginName;     // the file's name until loaded
  std::string pluginVersion;  // empty until loaded
  bool loaded = false;
  std::vector<std::string> types;  // "kind:type"
};

struct LoaderOptions {
  // Loading a library runs its code as this process, so a library that someone else could have
  // replaced is refused, as sshd refuses such keys: the file and every directory above it must
  // not be writable by group or others. A sticky directory such as /tmp passes when the entry
  // below it belongs to root or to this user. --allow-insecure-plugins sets this.
  bool allowInsecurePermissions = false;
};

class PluginRegistry {
 public:
  explicit PluginRegistry(LoaderOptions options = {});
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  // Scans a plugins directory: <dir>/*.so, <dir>/<name>/*.so and Flume's
  // <dir>/<name>/lib/*.so. A missing directory is not an error. Refused libraries are
  // reported in diags as errors and skipped; the rest stay usable.
  void addDirectory(const std::filesystem::path& dir, Diagnostics& diags);
  // Adds one library. Returns false (and reports why in diags) when it is refused. The checks
  // come first and run none of the library's code: permissions (LoaderOptions), then the ABI
  // version and toolchain tag, read from the descriptor in the file (elf_header.hpp), then the
  // type list when it has one. A library with a list waits for its first use; one without is
  // loaded now (its static constructors run) and its manifest read.
  bool addLibrary(const std::filesystem::path& file, Diagnostics& diags);

  // Resolves a type name for a kind, loading the library that declares it on first use. Returns
  // nullptr when unknown, or when that library is refused at load (unknownTypeMessage says why).
  const RegisteredComponent* resolve(sdk::ComponentKind kind, std::string_view type) const;
  // Loads every waiting library that declares `type` under any kind (for a config value that
  // names a plugin before its kind is known: the secret keys of its schema).
  void loadDeclaring(std::string_view type) const;
  // "unknown source type 'netcta' (did you mean: netcat?); known source types: ..." plus the
  // libraries that were refused, since the type may live in one of them.
  std::string unknownTypeMessage(sdk::ComponentKind kind, std::string_view type) const;

  // Creates an object of a resolved component, as the kind's base class.
  template <class T>
  PluginPtr<T> create(const RegisteredComponent& c, std::string& error) const {
    sdk::PluginObject* obj = createRaw(c, error);
    if (!obj) return PluginPtr<T>(nullptr, TypedPluginDeleter<T>{c.library});
    return PluginPtr<T>(static_cast<T*>(obj), TypedPluginDeleter<T>{c.library});
  }

  // Every component, after loading every waiting library (for `sluice plugins` and describe;
  // an agent uses resolve() and catalog()). Control thread only: the reference is not guarded.
  const std::deque<RegisteredComponent>& components() const;
  // Every library and its types, without loading any.
  std::vector<CatalogEntry> catalog() const;
  // The key names that loaded schemas mark isSecret() (for isSchemaSecret()).
  std::vector<std::string> secretKeyNames() const;
  std::vector<std::string> refusals() const;

 private:
  // A library that listed its types and is not loaded yet.
  struct Waiting {
    std::filesystem::path file;
    PluginDescriptor descriptor;  // as checked in the file at the scan
    std::vector<std::pair<sdk::ComponentKind, std::vector<std::string>>> components;  // type first
    std::vector<std::string> keys;  // key() of every name
    bool done = false;              // loaded, or refused at load
  };

  sdk::PluginObject* createRaw(const RegisteredComponent& c, std::string& error) const;
  static std::string key(sdk::ComponentKind kind, std::string_view name);
  // The clash check shared by both kinds of library: "" or why `k` cannot be added.
  std::string clashWith(const std::string& k) const;
  // Loads a library whose descriptor `checked` passed the checks; `declared` (sorted keys) when
  // it listed its types. mu_ held.
  bool load(const std::filesystem::path& file, const PluginDescriptor& checked,
            const std::vector<std::string>* declared, std::string& why) const;
  void loadWaiting(std::size_t index) const;  // mu_ held

  LoaderOptions options_;
  mutable std::mutex mu_;
  // Filled as libraries load, hence mutable; a deque so that resolve()'s pointers stay valid.
  mutable std::vector<std::shared_ptr<PluginLibrary>> libraries_;
  mutable std::deque<RegisteredComponent> components_;
  mutable std::map<std::string, std::size_t> byName_;  // key(kind, lower-case name) -> index
  mutable std::vector<Waiting> waiting_;
  mutable std::map<std::string, std::size_t> declared_;      // key -> waiting_ index, until loaded
  mutable std::map<std::string, std::string> loadRefusals_;  // key -> why its library was refused
  mutable std::vector<std::string> refusals_;
  std::vector<std::filesystem::path> files_;  // every library seen, refused ones excluded
};

// The directory of built-in plugins: build/plugins when running from a build tree, otherwise
// the installed plugindir.
std::filesystem::path builtinPluginDir();

}  // namespace sluice::core
