#pragma once
// Reading keys in configure(). The host hands configure() a Context it has already checked
// against the plugin's schema (types, ranges, enum values, required keys) and in which it has
// filled in every schema default (core/plugin/schema_check.hpp). So a plugin reads a key that
// has a default, or is required, with these, and restates neither the default nor the range:
// the schema is the one place of both. A key still absent here means configure() ran without
// the host's preparation (a test should configure through plugins/testing/host_context.hpp); it
// is reported by name, as a missing required key.
//
// Keys without a default (optional ones, or those whose absence means something) are read with
// the Context's own getters, which return std::optional.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins {

namespace detail {
template <class T>
T presentOr(const sdk::Context& context, std::string_view key, std::optional<T> value) {
  if (!value) context.fail(key, "is required but missing");
  return *std::move(value);
}
}  // namespace detail

inline int64_t requireLong(const sdk::Context& context, std::string_view key) {
  return detail::presentOr(context, key, context.getLong(key));
}
inline int32_t requireInteger(const sdk::Context& context, std::string_view key) {
  return detail::presentOr(context, key, context.getInteger(key));
}
inline bool requireBoolean(const sdk::Context& context, std::string_view key) {
  return detail::presentOr(context, key, context.getBoolean(key));
}
inline double requireDouble(const sdk::Context& context, std::string_view key) {
  return detail::presentOr(context, key, context.getDouble(key));
}
// The value as written, which may be empty (Context::requireString refuses an empty one).
inline std::string requireValue(const sdk::Context& context, std::string_view key) {
  return detail::presentOr(context, key, context.getString(key));
}

// The default `schema` declares for `key` ("" when none). For the rare rule that needs the
// default itself, such as Flume reading an empty value as the default, so that the schema stays
// the one place of it.
inline std::string schemaDefault(const sdk::Schema& schema, std::string_view key) {
  for (const sdk::Key& k : schema.keys)
    if (k.name == key) return k.defaultValue;
  return {};
}

}  // namespace sluice::plugins
