#pragma once
// The keys a component accepts. The host checks a component's config against its schema before
// configure(): an unknown key gets a "did you mean" hint and is an error in TOML and under
// --strict, a warning in a Flume .properties config (Flume ignores it too); keys Flume knows but
// sluice ignores are warnings, and bad types or out-of-range values are errors. `sluice describe <type>`
// prints the schema, so it is also the documentation.

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "sluice/sdk/kind.hpp"
#include "sluice/sdk/visibility.hpp"

namespace sluice::sdk {

enum class ValueType { String, Integer, Long, Boolean, Double, Enum, List };

inline const char* nameOf(ValueType t) noexcept {
  switch (t) {
    case ValueType::String: return "string";
    case ValueType::Integer: return "integer";
    case ValueType::Long: return "long";
    case ValueType::Boolean: return "boolean";
    case ValueType::Double: return "double";
    case ValueType::Enum: return "enum";
    case ValueType::List: return "list";
  }
  return "?";
}

// One key. Declared fluently:
//   Key("capacity").integer().def("100").range(1, 2147483647).doc("Events the channel holds")
// A name ending in ".*" declares a family of keys (e.g. "mapping.*").
struct SLUICE_SDK_API Key {
  std::string name;
  ValueType type = ValueType::String;
  std::string defaultValue;  // as text; empty means no default
  bool required = false;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> allowed;  // Enum values, matched case-insensitively
  std::string description;
  bool ignored = false;  // a Flume key that sluice accepts but does not act on: warn
  bool secret = false;   // never printed in logs, errors or /config
  // Set by component(): the key's value may also name a plugin of this kind (0: it may not).
  ComponentKind componentKind{};

  explicit Key(std::string n) : name(std::move(n)) {}
  Key& string() { type = ValueType::String; return *this; }
  Key& integer() { type = ValueType::Integer; return *this; }
  Key& longValue() { type = ValueType::Long; return *this; }
  Key& boolean() { type = ValueType::Boolean; return *this; }
  Key& number() { type = ValueType::Double; return *this; }
  Key& list() { type = ValueType::List; return *this; }
  Key& oneOf(std::vector<std::string> values) {
    type = ValueType::Enum;
    allowed = std::move(values);
    return *this;
  }
  Key& def(std::string v) { defaultValue = std::move(v); return *this; }
  Key& req() { required = true; return *this; }
  Key& range(double lo, double hi) { min = lo; max = hi; return *this; }
  Key& atLeast(double lo) { min = lo; return *this; }
  Key& doc(std::string d) { description = std::move(d); return *this; }
  Key& flumeIgnored(std::string why) {
    ignored = true;
    description = std::move(why);
    return *this;
  }
  Key& isSecret() { secret = true; return *this; }
  // The value names a sub-component: one of the owner's built-in values (oneOf, matched as an
  // Enum) or else the type of a plugin of `kind` (Flume's `sink.serializer =
  // com.example.MySerializer$Builder`, `handler = com.example.MyHandler`). For a plugin value the
  // host makes the object, configures it with the keys below this one ("<key>.x" as "x", checked
  // against the plugin's own schema, not the owner's), and hands it to the owner through
  // Context::component<T>(key) before the owner's configure().
  Key& component(ComponentKind kind) {
    componentKind = kind;
    return *this;
  }
};

struct SLUICE_SDK_API Schema {
  std::vector<Key> keys;
  // For plugins whose keys are open-ended (e.g. pass-through client properties under a prefix
  // should use a "prefix.*" key instead). Leave false unless there is no other way.
  bool allowUnknownKeys = false;

  Schema() = default;
  Schema(std::initializer_list<Key> k) : keys(k) {}
};

}  // namespace sluice::sdk
