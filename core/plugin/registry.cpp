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
  if (::stat(file.c_str(), &st) != 0) return "cannot read file: " + plugins::text::errnoText(errno);
  if (st.st_mode & (S_IWGRP | S_IWOTH)) return "the file is writable by group or others";
  uid_t childOwner = st.st_uid;
  fs::path child = file;
  for (fs::path dir = file.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (::stat(dir.c_str(), &st) != 0)
      return "cannot read directory '" + dir.string() + "': " + plugins::text::errnoText(errno);
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

// The kind a type list names, by sdk::nameOf's text.
bool kindNamed(std::string_view text, sdk::ComponentKind& out) {
  for (uint32_t k = 1; k <= 16; ++k) {
    const auto kind = static_cast<sdk::ComponentKind>(k);
    if (text == sdk::nameOf(kind)) {
      out = kind;
      return true;
    }
  }
  return false;
}

// Splits a SLUICE_PLUGIN_TYPES list into components ("<kind> <type> [<alias> ...]" per
// ';'-separated entry). "" or why it is malformed.
std::string parseTypeList(
    std::string_view list,
    std::vector<std::pair<sdk::ComponentKind, std::vector<std::string>>>& out) {
  auto isBlank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t end = list.find(';', pos);
    if (end == std::string_view::npos) end = list.size();
    std::vector<std::string> words;
    for (std::size_t i = pos; i < end;) {
      while (i < end && isBlank(list[i])) ++i;
      std::size_t j = i;
      while (j < end && !isBlank(list[j])) ++j;
      if (j > i) words.emplace_back(list.substr(i, j - i));
      i = j;
    }
    pos = end + 1;
    if (words.empty()) continue;
    sdk::ComponentKind kind{};
    if (!kindNamed(words[0], kind)) return "unknown component kind '" + words[0] + "'";
    if (words.size() < 2) return "no type name after '" + words[0] + "'";
    out.emplace_back(kind, std::vector<std::string>(words.begin() + 1, words.end()));
  }
  if (out.empty()) return "it lists no component";
  return {};
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

std::string PluginRegistry::clashWith(const std::string& k) const {
  fs::path other;
  if (auto it = byName_.find(k); it != byName_.end()) other = components_[it->second].file;
  if (auto it = declared_.find(k); it != declared_.end()) other = waiting_[it->second].file;
  if (other.empty()) return {};
  return "is already provided by " + other.string() + "; library refused";
}

bool PluginRegistry::addLibrary(const fs::path& fileIn, Diagnostics& diags) {
  std::error_code ec;
  fs::path file = fs::weakly_canonical(fileIn, ec);
  if (ec) file = fileIn;
  std::lock_guard<std::mutex> lock(mu_);
  if (std::find(files_.begin(), files_.end(), file) != files_.end()) return true;

  auto refuse = [&](const std::string& why) {
    std::string msg = "plugin " + file.string() + ": " + why;
    refusals_.push_back(msg);
    diags.error(msg);
    return false;
  };

  struct stat st {};
  if (::stat(file.c_str(), &st) != 0)
    return refuse("cannot read file: " + plugins::text::errnoText(errno));
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

  if (!d.hasTypes) {
    std::string why;
    if (!load(file, d, nullptr, why)) return refuse(why);
    files_.push_back(file);
    return true;
  }

  // Listed types: the same all-or-nothing clash check as a loaded library, on the list.
  Waiting w;
  w.file = file;
  w.descriptor = d;
  if (std::string why = parseTypeList(d.types, w.components); !why.empty())
    return refuse("its type list (SLUICE_PLUGIN_TYPES) is malformed: " + why);
  for (const auto& [kind, names] : w.components) {
    const std::size_t before = w.keys.size();  // one component may spell a name twice (TAILDIR)
    for (const auto& n : names) {
      std::string k = key(kind, n);
      if (std::string why = clashWith(k); !why.empty())
        return refuse(std::string(sdk::nameOf(kind)) + " type '" + n + "' " + why);
      const auto seen = std::find(w.keys.begin(), w.keys.end(), k);
      if (seen == w.keys.end())
        w.keys.push_back(k);
      else if (seen < w.keys.begin() + static_cast<std::ptrdiff_t>(before))
        return refuse("declares " + std::string(sdk::nameOf(kind)) + " type '" + n + "' twice");
    }
  }
  std::sort(w.keys.begin(), w.keys.end());
  for (const auto& k : w.keys) declared_[k] = waiting_.size();
  waiting_.push_back(std::move(w));
  files_.push_back(file);
  return true;
}

bool PluginRegistry::load(const fs::path& file, const PluginDescriptor& checked,
                          const std::vector<std::string>* declared,
                          std::string& why) const {
  auto lib = std::make_shared<PluginLibrary>();
  lib->file = file;
  try {
    lib->lib.load(boost::dll::fs::path(file.native()),
                  boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    why = std::string("cannot load: ") + e.what();
    return false;
  }
  const sdk::PluginHeader* header = nullptr;
  try {
    header = &lib->lib.get<const sdk::PluginHeader>(SLUICE_PLUGIN_SYMBOL);
  } catch (const std::exception& e) {
    why = std::string("cannot read descriptor: ") + e.what();
    return false;
  }
  // The loaded record must be the one checked in the file; a mismatch means the file changed
  // in between.
  if (header->magic != checked.magic || header->abiMajor != checked.abiMajor ||
      header->abiMinor != checked.abiMinor) {
    why = "the descriptor changed while the library was being loaded";
    return false;
  }
  lib->manifest = header->manifest ? header->manifest() : nullptr;
  if (!lib->manifest) {
    why = "its manifest function failed";
    return false;
  }

  // All or nothing: a library with one clashing type is refused whole.
  std::vector<std::pair<std::string, const sdk::ComponentInfo*>> names;
  for (const auto& c : lib->manifest->components) {
    if (!c.create) {
      why = "component '" + c.type + "' has no factory";
      return false;
    }
    std::vector<std::string> all{c.type};
    all.insert(all.end(), c.aliases.begin(), c.aliases.end());
    for (const auto& n : all) {
      std::string k = key(c.kind, n);
      if (std::string clash = clashWith(k); !clash.empty()) {
        why = std::string(sdk::nameOf(c.kind)) + " type '" + n + "' " + clash;
        return false;
      }
      for (const auto& [prev, info] : names)
        if (prev == k && info != &c) {
          why = "declares " + std::string(sdk::nameOf(c.kind)) + " type '" + n + "' twice";
          return false;
        }
      names.emplace_back(k, &c);
    }
  }
  if (declared) {
    std::vector<std::string> provided;
    provided.reserve(names.size());
    for (const auto& [k, info] : names) provided.push_back(k);
    std::sort(provided.begin(), provided.end());
    provided.erase(std::unique(provided.begin(), provided.end()), provided.end());
    if (provided != *declared) {
      why =
          "its type list (SLUICE_PLUGIN_TYPES) and its manifest name different types; list "
          "every type and alias of the manifest";
      return false;
    }
  }
  const std::size_t base = components_.size();
  for (const auto& c : lib->manifest->components) {
    RegisteredComponent rc;
    rc.info = &c;
    rc.library = lib;
    rc.file = file;
    rc.pluginName = lib->manifest->name;
    rc.pluginVersion = lib->manifest->version;
    components_.push_back(std::move(rc));
  }
  for (std::size_t i = 0; i < lib->manifest->components.size(); ++i) {
    const auto& c = lib->manifest->components[i];
    byName_[key(c.kind, c.type)] = base + i;
    for (const auto& a : c.aliases) byName_[key(c.kind, a)] = base + i;
  }
  libraries_.push_back(lib);
  // An accepted library stays mapped until the process ends, even once the registry is gone.
  // A plugin's dependencies can keep threads or allocations past its last object (librdkafka
  // does): unmapping them at exit would pull code from under such a thread, or drop the globals
  // that own those allocations, so that LeakSanitizer reports them. Nothing is unloaded before
  // exit anyway (see PluginDeleter); refused libraries are still unloaded.
  (void)::dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  return true;
}

void PluginRegistry::loadWaiting(std::size_t index) const {
  Waiting& w = waiting_[index];
  if (w.done) return;
  w.done = true;
  // Its own names leave the declared map first, or the load would clash with them.
  for (const auto& k : w.keys) declared_.erase(k);
  std::string why;
  if (load(w.file, w.descriptor, &w.keys, why)) return;
  const std::string msg = "plugin " + w.file.string() + ": " + why;
  refusals_.push_back(msg);
  for (const auto& k : w.keys) loadRefusals_[k] = msg;
}

const RegisteredComponent* PluginRegistry::resolve(sdk::ComponentKind kind,
                                                   std::string_view type) const {
  const std::string k = key(kind, type);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = declared_.find(k); it != declared_.end()) loadWaiting(it->second);
  auto it = byName_.find(k);
  return it == byName_.end() ? nullptr : &components_[it->second];
}

void PluginRegistry::loadDeclaring(std::string_view type) const {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string name = lower(stripBuilder(type));
  for (std::size_t i = 0; i < waiting_.size(); ++i)
    for (const auto& k : waiting_[i].keys)
      if (std::string_view(k).substr(k.find(':') + 1) == name) {
        loadWaiting(i);
        break;
      }
}

const std::deque<RegisteredComponent>& PluginRegistry::components() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < waiting_.size(); ++i) loadWaiting(i);
  return components_;
}

std::vector<CatalogEntry> PluginRegistry::catalog() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<CatalogEntry> out;
  for (const auto& c : components_) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& e) { return e.file == c.file; });
    if (it == out.end()) {
      out.push_back({c.file, c.pluginName, c.pluginVersion, true, {}});
      it = out.end() - 1;
    }
    it->types.push_back(std::string(sdk::nameOf(c.info->kind)) + ":" + c.info->type);
  }
  for (const auto& w : waiting_) {
    if (w.done) continue;
    CatalogEntry e{w.file, w.file.stem().string(), {}, false, {}};
    for (const auto& [kind, names] : w.components)
      e.types.push_back(std::string(sdk::nameOf(kind)) + ":" + names.front());
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<std::string> PluginRegistry::refusals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refusals_;
}

std::vector<std::string> PluginRegistry::secretKeyNames() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& c : components_)
    for (const auto& k : c.info->schema.keys)
      if (k.secret && std::find(out.begin(), out.end(), k.name) == out.end()) out.push_back(k.name);
  return out;
}

std::string PluginRegistry::unknownTypeMessage(sdk::ComponentKind kind, std::string_view type) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = loadRefusals_.find(key(kind, type)); it != loadRefusals_.end())
    return std::string(sdk::nameOf(kind)) + " type '" + std::string(type) +
           "' cannot be used: " + it->second;
  std::vector<std::string> known;
  std::vector<std::string> candidates;
  for (const auto& c : components_) {
    if (c.info->kind != kind) continue;
    known.push_back(c.info->type);
    candidates.push_back(c.info->type);
    for (const auto& a : c.info->aliases) candidates.push_back(a);
  }
  for (const auto& w : waiting_) {
    if (w.done) continue;
    for (const auto& [k, names] : w.components) {
      if (k != kind) continue;
      known.push_back(names.front());
      candidates.insert(candidates.end(), names.begin(), names.end());
    }
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
