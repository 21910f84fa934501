#pragma once
// Context: one component's configuration keys, as Flume's org.apache.flume.Context, plus where
// each key came from so that every error can name agent, component, key and file:line.

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/visibility.hpp"

namespace sluice::sdk {

// Where a configuration value was written. line == 0 when the format gives no line (defaults,
// -D overrides).
struct SLUICE_SDK_API Location {
  std::string file;
  int line = 0;

  std::string str() const {
    if (file.empty()) return {};
    return line > 0 ? file + ":" + std::to_string(line) : file;
  }
};

struct SLUICE_SDK_API Parameter {
  std::string value;
  Location where;
};

// Thrown by Context getters and by plugin code inside configure(). The host catches it inside
// the plugin (see Component::hostConfigure), so it never crosses the .so boundary.
class SLUICE_SDK_API ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class PluginObject;
struct HostAccess;

class SLUICE_SDK_API Context {
 public:
  Context() = default;
  // path: the component's full config prefix without a trailing dot, e.g. "a1.sources.r1".
  explicit Context(std::string path, std::map<std::string, Parameter> params = {})
      : path_(std::move(path)), params_(std::move(params)) {}

  const std::string& path() const noexcept { return path_; }

  bool containsKey(std::string_view key) const { return params_.find(std::string(key)) != params_.end(); }
  const std::map<std::string, Parameter>& parameters() const noexcept { return params_; }
  // Flume's getParameters(): key to value.
  std::map<std::string, std::string> getParameters() const {
    std::map<std::string, std::string> out;
    for (const auto& [k, p] : params_) out.emplace(k, p.value);
    return out;
  }

  void put(std::string key, std::string value, Location where = {}) {
    params_[std::move(key)] = Parameter{std::move(value), std::move(where)};
  }

  std::optional<std::string> getString(std::string_view key) const {
    const Parameter* p = find(key);
    if (!p) return std::nullopt;
    return p->value;
  }
  std::string getString(std::string_view key, std::string_view defaultValue) const {
    const Parameter* p = find(key);
    return p ? p->value : std::string(defaultValue);
  }
  // Throws ConfigError naming the key when it is absent or empty.
  std::string requireString(std::string_view key) const {
    const Parameter* p = find(key);
    if (!p || trim(p->value).empty()) fail(key, "is required but missing");
    return p->value;
  }

  std::optional<int32_t> getInteger(std::string_view key) const {
    auto v = getLong(key);
    if (!v) return std::nullopt;
    if (*v < std::numeric_limits<int32_t>::min() || *v > std::numeric_limits<int32_t>::max())
      fail(key, "expected a 32-bit integer, got '" + find(key)->value + "'");
    return static_cast<int32_t>(*v);
  }
  int32_t getInteger(std::string_view key, int32_t defaultValue) const {
    return getInteger(key).value_or(defaultValue);
  }

  std::optional<int64_t> getLong(std::string_view key) const {
    const Parameter* p = find(key);
    if (!p) return std::nullopt;
    std::string_view s = trim(p->value);
    // Flume accepts a trailing L on longs (Long.parseLong does not, but its docs show them).
    if (!s.empty() && (s.back() == 'L' || s.back() == 'l')) s.remove_suffix(1);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    int64_t out = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size())
      fail(key, "expected an integer, got '" + p->value + "'");
    return out;
  }
  int64_t getLong(std::string_view key, int64_t defaultValue) const {
    return getLong(key).value_or(defaultValue);
  }

  std::optional<bool> getBoolean(std::string_view key) const {
    const Parameter* p = find(key);
    if (!p) return std::nullopt;
    std::string v = lower(trim(p->value));
    if (v == "true") return true;
    if (v == "false") return false;
    fail(key, "expected true or false, got '" + p->value + "'");
  }
  bool getBoolean(std::string_view key, bool defaultValue) const {
    return getBoolean(key).value_or(defaultValue);
  }

  std::optional<double> getDouble(std::string_view key) const {
    const Parameter* p = find(key);
    if (!p) return std::nullopt;
    std::string v(trim(p->value));
    try {
      std::size_t used = 0;
      double d = std::stod(v, &used);
      if (used == v.size() && std::isfinite(d)) return d;
    } catch (const std::exception&) {
    }
    fail(key, "expected a number, got '" + p->value + "'");
  }
  double getDouble(std::string_view key, double defaultValue) const {
    return getDouble(key).value_or(defaultValue);
  }

  // A list of names, Flume style: the space- or comma-separated value of `key` when present;
  // otherwise the distinct names X of keys "key.X...", in key order. The fallback lets TOML
  // configs, where a key cannot be both a value and a table, omit the list.
  std::vector<std::string> getNames(std::string_view key) const {
    std::vector<std::string> out;
    if (const Parameter* p = find(key)) {
      std::string cur;
      for (char c : p->value + " ") {
        if (c == ' ' || c == '\t' || c == ',') {
          if (!cur.empty()) out.push_back(cur);
          cur.clear();
        } else {
          cur += c;
        }
      }
      return out;
    }
    std::string withDot = std::string(key) + ".";
    for (auto it = params_.lower_bound(withDot); it != params_.end(); ++it) {
      if (it->first.compare(0, withDot.size(), withDot) != 0) break;
      std::string rest = it->first.substr(withDot.size());
      std::string name = rest.substr(0, rest.find('.'));
      if (!name.empty() && (out.empty() || out.back() != name)) out.push_back(name);
    }
    return out;
  }

  // Flume's getSubProperties: the keys that start with prefix (e.g. "serializers."), with the
  // prefix removed. The result keeps locations, and its path names the prefix, so errors from it
  // still point at the full key.
  Context getSubProperties(std::string_view prefix) const {
    std::string p(prefix);
    if (!p.empty() && p.back() == '.') p.pop_back();
    Context sub(path_.empty() ? p : path_ + "." + p);
    std::string withDot = p + ".";
    for (auto it = params_.lower_bound(withDot); it != params_.end(); ++it) {
      if (it->first.compare(0, withDot.size(), withDot) != 0) break;
      sub.params_.emplace(it->first.substr(withDot.size()), it->second);
    }
    sub.logger_ = logger_;
    return sub;
  }

  // "a1.sources.r1.port (conf/a.toml:12)": the way errors name a key.
  std::string describe(std::string_view key) const {
    std::string out = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
    if (const Parameter* p = find(key)) {
      std::string loc = p->where.str();
      if (!loc.empty()) out += " (" + loc + ")";
    }
    return out;
  }

  // Reports a bad value: throws ConfigError "a1.sources.r1.port: <message> (file:line)".
  [[noreturn]] void fail(std::string_view key, const std::string& message) const {
    std::string out = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
    out += ": " + message;
    if (const Parameter* p = find(key)) {
      std::string loc = p->where.str();
      if (!loc.empty()) out += " (" + loc + ")";
    }
    throw ConfigError(out);
  }

  // The sub-component the host made for a key declared with Key::component(), or nullptr when
  // the key holds one of the owner's built-in values (or is absent). The owner keeps the
  // shared_ptr for as long as it uses the object; T is the kind's base class
  // (EventSerializerBuilder, HttpSourceHandler), which the host checked against the key's kind.
  template <class T>
  std::shared_ptr<T> component(std::string_view key) const {
    auto it = components_.find(std::string(key));
    if (it == components_.end()) return nullptr;
    return std::static_pointer_cast<T>(it->second);
  }

  // The component's logger. The host sets it before configure(); NullLogger otherwise.
  Logger& logger() const noexcept { return logger_ ? *logger_ : NullLogger::instance(); }
  void setLogger(Logger* logger) noexcept { logger_ = logger; }

 private:
  const Parameter* find(std::string_view key) const {
    auto it = params_.find(std::string(key));
    return it == params_.end() ? nullptr : &it->second;
  }
  static std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
  }
  static std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
  }

  friend struct HostAccess;
  std::string path_;
  std::map<std::string, Parameter> params_;
  Logger* logger_ = nullptr;
  std::map<std::string, std::shared_ptr<PluginObject>> components_;  // see component()
};

}  // namespace sluice::sdk
