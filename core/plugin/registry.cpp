#include "core/plugin/registry.hpp"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include "core/config/suggest.hpp"
#include "core/plugin/elf_header.hpp"
#include "core/install_dirs.hpp"
#include "plugins/common/text_util.hpp"


namespace sluice::core {

namespace fs = std::filesystem;

struct PluginLibrary {
  boost::dll::shared_library lib;
  const sdk::PluginManifest* manifest = nullptr;
  fs::path file;
};

namespace {

using plugins::text::lower;

// Flume writes custom interceptors as com.example.X$Builder; the builder is the component.
std::string_view stripBuilder(std::string_view s) {
  constexpr std::string_view kSuffix = "$builder";
  if (s.size() > kSuffix.size() && lower(s.substr(s.size() - kSuffix.size())) == kSuffix)
    s.remove_suffix(kSuffix.size());
  return s;
}

std::string abiText(uint32_t major, uint32_t minor, const char* toolchain) {
  return std::to_string(major) + "." + std::to_string(minor) + " (" +
         (toolchain ? toolchain : "?") + ")";
}

// Why `file` (canonical) could be replaced by someone other than its owner, or "" when it
// cannot: the file and every directory above it must not be writable by group or others. A
// directory with the sticky bit (like /tmp) is accepted, as others cannot rename or delete what
// they do not own in it, provided the entry below it belongs to root or to this user.
std::string insecurePath(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0)
    return "cannot read file: " + std::string(std::strerror(errno));
  if (st.st_mode & (S_IWGRP | S_IWOTH)) return "the file is writable by group or others";
  uid_t childOwner = st.st_uid;
  fs::path child = file;
  for (fs::path dir = file.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (::stat(dir.c_str(), &st) != 0)
      return "cannot read directory '" + dir.string() + "': " + std::strerror(errno);
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
      if (!(st.st_mode & S_ISVTX))
        return "its directory '" + dir.string() + "' is writable by group or others";
      if (childOwner != 0 && childOwner != ::geteuid())
        return "'" + child.string() + "' is in the shared directory '" + dir.string() +
               "' and belongs to another user (uid " + std::to_string(childOwner) + ")";
    }
    if (dir == dir.parent_path()) break;  // the root
    childOwner = st.st_uid;
    child = dir;
  }
  return {};
}

bool isSharedObject(const fs::path& p) {
  std::string name = p.filename().string();
  return p.extension() == ".so" || name.find(".so.") != std::string::npos;
}

}  // namespace

PluginRegistry::PluginRegistry(LoaderOptions options) : options_(options) {}

PluginRegistry::~PluginRegistry() {
  // Components first (they reference the libraries), then the libraries.
  components_.clear();
  byName_.clear();
  libraries_.clear();
}

std::string PluginRegistry::key(sdk::ComponentKind kind, std::string_view name) {
  return std::to_string(static_cast<uint32_t>(kind)) + ":" + lower(stripBuilder(name));
}

void PluginRegistry::addDirectory(const fs::path& dir, Diagnostics& diags) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  std::vector<fs::path> files;
  auto collect = [&](const fs::path& d) {
    std::error_code e;
    for (const auto& entry : fs::directory_iterator(d, e))
      if (entry.is_regular_file(e) && isSharedObject(entry.path())) files.push_back(entry.path());
  };
  collect(dir);
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_directory(ec)) continue;
    collect(entry.path());
    if (fs::is_directory(entry.path() / "lib", ec)) collect(entry.path() / "lib");
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) addLibrary(f, diags);
}

bool PluginRegistry::addLibrary(const fs::path& fileIn, Diagnostics& diags) {
  std::error_code ec;
  fs::path file = fs::weakly_canonical(fileIn, ec);
  if (ec) file = fileIn;
  if (std::find(loadedFiles_.begin(), loadedFiles_.end(), file) != loadedFiles_.end()) return true;

  auto refuse = [&](const std::string& why) {
    std::string msg = "plugin " + file.string() + ": " + why;
    refusals_.push_back(msg);
    diags.error(msg);
    return false;
  };

  struct stat st {};
  if (::stat(file.c_str(), &st) != 0)
    return refuse("cannot read file: " + std::string(std::strerror(errno)));
  if (!options_.allowInsecurePermissions)
    if (std::string why = insecurePath(file); !why.empty())
      return refuse("refused: " + why + " (chmod go-w it, or pass --allow-insecure-plugins)");

  // Check the descriptor in the file before loading: a library built for another ABI is refused
  // without any of its code, static constructors included, running in this process.
  PluginDescriptor d;
  if (std::string err; !readPluginDescriptor(file, d, err)) return refuse(err);
  const std::string hostTool = SLUICE_SDK_TOOLCHAIN;
  const std::string rebuild = "; rebuild the plugin against this sluice's SDK";
  if (d.kind == PluginDescriptor::Kind::OldLayout)
    return refuse(
        "built for SDK ABI 1.x (its descriptor is sluice_plugin_v1), but this sluice has SDK ABI " +
        abiText(SLUICE_SDK_ABI_MAJOR, SLUICE_SDK_ABI_MINOR, hostTool.c_str()) + rebuild);
  if (d.kind == PluginDescriptor::Kind::None)
    return refuse("not a sluice plugin (no " SLUICE_PLUGIN_SYMBOL " descriptor)");
  if (d.magic != sdk::kPluginMagic) return refuse("descriptor has a bad magic number");
  if (d.abiMajor != SLUICE_SDK_ABI_MAJOR || d.abiMinor > SLUICE_SDK_ABI_MINOR ||
      d.toolchain != hostTool)
    return refuse("built for SDK ABI " + abiText(d.abiMajor, d.abiMinor, d.toolchain.c_str()) +
                  ", but this sluice has SDK ABI " +
                  abiText(SLUICE_SDK_ABI_MAJOR, SLUICE_SDK_ABI_MINOR, hostTool.c_str()) + rebuild);

  auto lib = std::make_shared<PluginLibrary>();
  lib->file = file;
  try {
    lib->lib.load(boost::dll::fs::path(file.native()),
                  boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return refuse(std::string("cannot load: ") + e.what());
  }
  const sdk::PluginHeader* header = nullptr;
  try {
    header = &lib->lib.get<const sdk::PluginHeader>(SLUICE_PLUGIN_SYMBOL);
  } catch (const std::exception& e) {
    return refuse(std::string("cannot read descriptor: ") + e.what());
  }
  // The loaded record is the one just checked in the file; a mismatch means the file changed
  // in between.
  if (header->magic != d.magic || header->abiMajor != d.abiMajor || header->abiMinor != d.abiMinor)
    return refuse("the descriptor changed while the library was being loaded");
  lib->manifest = header->manifest ? header->manifest() : nullptr;
  if (!lib->manifest) return refuse("its manifest function failed");

  // All or nothing: a library with one clashing type is refused whole.
  std::vector<std::pair<std::string, const sdk::ComponentInfo*>> names;
  for (const auto& c : lib->manifest->components) {
    if (!c.create) return refuse("component '" + c.type + "' has no factory");
    std::vector<std::string> all{c.type};
    all.insert(all.end(), c.aliases.begin(), c.aliases.end());
    for (const auto& n : all) {
      std::string k = key(c.kind, n);
      auto it = byName_.find(k);
      if (it != byName_.end())
        return refuse(std::string(sdk::nameOf(c.kind)) + " type '" + n +
                      "' is already provided by " + components_[it->second].file.string() +
                      "; library refused");
      for (const auto& [prev, info] : names)
        if (prev == k && info != &c)
          return refuse("declares " + std::string(sdk::nameOf(c.kind)) + " type '" + n + "' twice");
      names.emplace_back(k, &c);
    }
  }
  for (const auto& c : lib->manifest->components) {
    RegisteredComponent rc;
    rc.info = &c;
    rc.library = lib;
    rc.file = file;
    rc.pluginName = lib->manifest->name;
    rc.pluginVersion = lib->manifest->version;
    components_.push_back(std::move(rc));
  }
  // Indices are stable only after all pushes; map names now.
  std::size_t base = components_.size() - lib->manifest->components.size();
  for (std::size_t i = 0; i < lib->manifest->components.size(); ++i) {
    const auto& c = lib->manifest->components[i];
    byName_[key(c.kind, c.type)] = base + i;
    for (const auto& a : c.aliases) byName_[key(c.kind, a)] = base + i;
  }
  libraries_.push_back(lib);
  loadedFiles_.push_back(file);
  // An accepted library stays mapped until the process ends, even once the registry is gone.
  // A plugin's dependencies can keep threads or allocations past its last object (librdkafka
  // does): unmapping them at exit would pull code from under such a thread, or drop the globals
  // that own those allocations, so that LeakSanitizer reports them. Nothing is unloaded before
  // exit anyway (see PluginDeleter); refused libraries are still unloaded.
  (void)::dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  return true;
}

std::vector<std::string> PluginRegistry::secretKeyNames() const {
  std::vector<std::string> out;
  for (const auto& c : components_)
    for (const auto& k : c.info->schema.keys)
      if (k.secret && std::find(out.begin(), out.end(), k.name) == out.end()) out.push_back(k.name);
  return out;
}

const RegisteredComponent* PluginRegistry::resolve(sdk::ComponentKind kind,
                                                   std::string_view type) const {
  auto it = byName_.find(key(kind, type));
  return it == byName_.end() ? nullptr : &components_[it->second];
}

std::string PluginRegistry::unknownTypeMessage(sdk::ComponentKind kind, std::string_view type) const {
  std::vector<std::string> known;
  std::vector<std::string> candidates;
  for (const auto& c : components_) {
    if (c.info->kind != kind) continue;
    known.push_back(c.info->type);
    candidates.push_back(c.info->type);
    for (const auto& a : c.info->aliases) candidates.push_back(a);
  }
  std::sort(known.begin(), known.end());
  std::string msg = "unknown " + std::string(sdk::nameOf(kind)) + " type '" + std::string(type) + "'";
  auto close = closestMatches(type, candidates, 3);
  if (!close.empty()) {
    msg += " (did you mean ";
    for (std::size_t i = 0; i < close.size(); ++i) msg += (i ? ", " : "") + ("'" + close[i] + "'");
    msg += "?)";
  }
  msg += "; known " + std::string(sdk::nameOf(kind)) + " types: ";
  if (known.empty()) msg += "none (no plugin directory provides any; check --plugins-path)";
  for (std::size_t i = 0; i < known.size(); ++i) msg += (i ? ", " : "") + known[i];
  if (!refusals_.empty())
    msg += "; " + std::to_string(refusals_.size()) + " plugin librar" +
           (refusals_.size() == 1 ? "y was" : "ies were") + " refused (see above)";
  return msg;
}

sdk::PluginObject* PluginRegistry::createRaw(const RegisteredComponent& c, std::string& error) const {
  std::string err;
  sdk::PluginObject* obj = c.info->create(&err);
  if (!obj) error = "cannot create " + std::string(sdk::nameOf(c.info->kind)) + " '" + c.info->type +
                    "' from " + c.file.string() + ": " + (err.empty() ? "factory failed" : err);
  return obj;
}

fs::path builtinPluginDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // Build tree: build/core/cli/sluice -> build/plugins (marked by meson's private dirs).
    for (fs::path d = exe.parent_path(); !d.empty() && d != d.root_path(); d = d.parent_path()) {
      if (fs::exists(d / "meson-private", ec) && fs::is_directory(d / "plugins", ec))
        return d / "plugins";
    }
  }
  // Installed: the plugindir meson was configured with (the one sluice-sdk.pc names), then a
  // relocated install next to the binary.
  if (fs::is_directory(SLUICE_INSTALLED_PLUGIN_DIR, ec)) return fs::path(SLUICE_INSTALLED_PLUGIN_DIR);
  if (!exe.empty()) {
    fs::path relocated = exe.parent_path().parent_path() / "lib" / "sluice" / "plugins";
    if (fs::is_directory(relocated, ec)) return relocated;
  }
  return fs::path(SLUICE_INSTALLED_PLUGIN_DIR);
}

}  // namespace sluice::core
