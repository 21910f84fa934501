#pragma once
// Finds plugin libraries, checks their ABI, and resolves type names to components, as Flume
// resolves `type = ...` (short aliases case-insensitively, class names, `$Builder` suffixes).
//
// Every library stays loaded until the registry is destroyed, and every object created from a
// library holds a reference to it (PluginDeleter), so a library is never unmapped while anything
// from it lives.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/diagnostics.hpp"
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
  // Loads one library. Returns false (and reports why in diags) when it is refused. The checks
  // come first and run none of the library's code: permissions (LoaderOptions), then the ABI
  // version and toolchain tag, read from the descriptor in the file (elf_header.hpp). Only then
  // is it loaded (its static constructors run) and its manifest read.
  bool addLibrary(const std::filesystem::path& file, Diagnostics& diags);

  // Resolves a type name for a kind. Returns nullptr when unknown.
  const RegisteredComponent* resolve(sdk::ComponentKind kind, std::string_view type) const;
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

  const std::vector<RegisteredComponent>& components() const { return components_; }
  // The key names that loaded schemas mark isSecret() (for isSchemaSecret()).
  std::vector<std::string> secretKeyNames() const;
  const std::vector<std::string>& refusals() const { return refusals_; }

 private:
  sdk::PluginObject* createRaw(const RegisteredComponent& c, std::string& error) const;
  static std::string key(sdk::ComponentKind kind, std::string_view name);

  LoaderOptions options_;
  std::vector<std::shared_ptr<PluginLibrary>> libraries_;
  std::vector<RegisteredComponent> components_;
  std::map<std::string, std::size_t> byName_;  // key(kind, lower-case name) -> components_ index
  std::vector<std::string> refusals_;
  std::vector<std::filesystem::path> loadedFiles_;
};

// The directory of built-in plugins: build/plugins when running from a build tree, otherwise
// the installed plugindir.
std::filesystem::path builtinPluginDir();

}  // namespace sluice::core
