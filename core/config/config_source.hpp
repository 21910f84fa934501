#pragma once
// Where an agent's configuration comes from, as Flume 1.10+ reads it: one or several files
// (-f, merged in order), URIs (-u, http/https, core/cli/uri_config_source.hpp) and a ZooKeeper
// znode (-z/-p, core/cli/zk_config_source.hpp). A source yields documents (text plus the name
// that diagnostics quote as file:line) and says when they may have changed; the agent loop
// loads, validates and reloads through one path whatever the source is.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config/model.hpp"

namespace sluice::core {

class ConfigWatcher;

// One config text. `name` is what a key's location names: a file path, the URI, or
// zk://host:port/base/agent.
struct ConfigDocument {
  std::string name;
  std::string text;
  bool toml = false;  // sluice's TOML; otherwise Flume .properties
};

class ConfigSource {
 public:
  virtual ~ConfigSource() = default;

  // The documents in merge order (a later document's key wins). Throws ConfigParseError that
  // names the source when it cannot be read. Called from the agent loop's thread only.
  virtual std::vector<ConfigDocument> fetch() = 0;

  // For log lines: "conf/a.properties", "http://host/a1.properties", "zk://...".
  virtual std::string describe() const = 0;

  // Calls onChange, from a thread of the source's, whenever the content may have changed
  // (fetch() then says what it is). unwatch() joins that thread; call it before destruction.
  virtual void watch(std::function<void()> onChange) = 0;
  virtual void unwatch() = 0;

  // The documents the last fetch() returned were accepted (the agent started or reloaded with
  // them): a URI source keeps them as its backup copy (-b).
  virtual void accepted() {}
};

// -f FILE...: each read as a whole, .toml as TOML and anything else as .properties; watched by
// a ConfigWatcher each (inotify plus a poll every `pollInterval`).
class FileConfigSource : public ConfigSource {
 public:
  FileConfigSource(std::vector<std::string> paths, std::chrono::milliseconds pollInterval);
  ~FileConfigSource() override;

  std::vector<ConfigDocument> fetch() override;
  std::string describe() const override;
  void watch(std::function<void()> onChange) override;
  void unwatch() override;

 private:
  std::vector<std::string> paths_;
  std::chrono::milliseconds interval_;
  std::vector<std::unique_ptr<ConfigWatcher>> watchers_;
};

// Several sources read in order, as Flume merges -u URIs first and then -f files.
class CompositeConfigSource : public ConfigSource {
 public:
  explicit CompositeConfigSource(std::vector<std::unique_ptr<ConfigSource>> parts)
      : parts_(std::move(parts)) {}
  std::vector<ConfigDocument> fetch() override;
  std::string describe() const override;
  void watch(std::function<void()> onChange) override;
  void unwatch() override;
  void accepted() override;

 private:
  std::vector<std::unique_ptr<ConfigSource>> parts_;
};

// Parses each document and merges them in order: a key of a later document replaces the same
// key of an earlier one, and keeps its own file:line. The result's `file` names every document
// ("a.properties + b.properties"); it counts as a Flume .properties config unless a document
// is TOML (then unknown keys are errors, as in TOML). Parser warnings (a key repeated inside
// one document) go to diags when given. Throws ConfigParseError.
RawConfig parseDocuments(const std::vector<ConfigDocument>& docs, Diagnostics* diags = nullptr);

// Reads a whole file; throws ConfigParseError naming it and errno's text.
std::string readConfigText(const std::string& path);

}  // namespace sluice::core
