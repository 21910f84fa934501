#include "core/config/config_source.hpp"

#include "core/runtime/config_watcher.hpp"

namespace sluice::core {

FileConfigSource::FileConfigSource(std::vector<std::string> paths,
                                   std::chrono::milliseconds pollInterval)
    : paths_(std::move(paths)), interval_(pollInterval) {}

FileConfigSource::~FileConfigSource() { unwatch(); }

std::vector<ConfigDocument> FileConfigSource::fetch() {
  std::vector<ConfigDocument> out;
  out.reserve(paths_.size());
  for (const auto& p : paths_) out.push_back({p, readConfigText(p), isTomlPath(p)});
  return out;
}

std::string FileConfigSource::describe() const {
  std::string out;
  for (const auto& p : paths_) out += (out.empty() ? "" : " + ") + p;
  return out;
}

void FileConfigSource::watch(std::function<void()> onChange) {
  for (const auto& p : paths_) {
    watchers_.push_back(std::make_unique<ConfigWatcher>(p, interval_, onChange));
    watchers_.back()->start();
  }
}

void FileConfigSource::unwatch() {
  for (auto& w : watchers_) w->stop();
  watchers_.clear();
}

std::vector<ConfigDocument> CompositeConfigSource::fetch() {
  std::vector<ConfigDocument> out;
  for (auto& p : parts_) {
    auto docs = p->fetch();
    for (auto& d : docs) out.push_back(std::move(d));
  }
  return out;
}

std::string CompositeConfigSource::describe() const {
  std::string out;
  for (const auto& p : parts_) out += (out.empty() ? "" : " + ") + p->describe();
  return out;
}

void CompositeConfigSource::watch(std::function<void()> onChange) {
  for (auto& p : parts_) p->watch(onChange);
}

void CompositeConfigSource::unwatch() {
  for (auto& p : parts_) p->unwatch();
}

void CompositeConfigSource::accepted() {
  for (auto& p : parts_) p->accepted();
}

RawConfig parseDocuments(const std::vector<ConfigDocument>& docs, Diagnostics* diags) {
  RawConfig out;
  out.flumeProperties = true;
  for (const auto& d : docs) {
    RawConfig one = d.toml ? parseToml(d.text, d.name) : parseProperties(d.text, d.name, diags);
    out.file += (out.file.empty() ? "" : " + ") + d.name;
    if (d.toml) out.flumeProperties = false;
    // Flume loads every source into one java.util.Properties: a later key replaces the value.
    for (auto& [k, v] : one.entries) out.entries[k] = std::move(v);
  }
  return out;
}

}  // namespace sluice::core
