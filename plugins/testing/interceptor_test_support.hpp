#pragma once
// For interceptor unit tests only: configure a builder from key/value pairs the way the host does
// (the host's schema check and defaults, then the host entry points, so exceptions are caught as
// in production), and small helpers the interceptor tests share.

#include <doctest/doctest.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "host_context.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/host_access.hpp"
#include "sluice/sdk/interceptor.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::testing {

inline constexpr const char* kInterceptorPath = "a1.sources.r1.interceptors.i1";

using KeyValues = std::initializer_list<std::pair<const char*, const char*>>;

inline sdk::Context contextOf(KeyValues kv) {
  sdk::Context ctx(kInterceptorPath);
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// The schema of Builder's interceptor: each test specializes it, e.g.
//   template <> const sdk::Schema& schemaOf<StaticInterceptorBuilder>() { return staticSchema(); }
// so that the helpers below configure as the host does (schema check, defaults filled in).
template <class Builder>
const sdk::Schema& schemaOf();

// The error the host's schema check or configure() reports for these keys, or "" when both pass.
template <class Builder>
std::string configureError(KeyValues kv) {
  Builder b;
  sdk::Result r = configureAsHost(b, schemaOf<Builder>(), contextOf(kv));
  return r ? std::string() : r.error();
}

// The error configure() itself reports, handed these keys without the host's check (for the
// plugin's own message about a missing required key), or "" when it succeeds.
template <class Builder>
std::string pluginConfigureError(KeyValues kv) {
  Builder b;
  sdk::Result r = sdk::HostAccess::configure(b, contextOf(kv));
  return r ? std::string() : r.error();
}

// Configures a builder as the host does (which must succeed) and builds one initialized
// interceptor.
template <class Builder>
std::unique_ptr<sdk::Interceptor> built(KeyValues kv) {
  Builder b;
  sdk::Result r = configureAsHost(b, schemaOf<Builder>(), contextOf(kv));
  REQUIRE_MESSAGE(r.ok(), r.error());
  std::unique_ptr<sdk::Interceptor> out = sdk::HostAccess::build(b, r);
  REQUIRE_MESSAGE(r.ok(), r.error());
  REQUIRE(out);
  REQUIRE(sdk::HostAccess::initialize(*out).ok());
  return out;
}

inline bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Whether the host's schema check lets `key` through: the schema names it exactly or as a
// "prefix.*" family.
inline bool schemaDeclares(const sdk::Schema& schema, const std::string& key) {
  for (const sdk::Key& k : schema.keys) {
    const std::string& n = k.name;
    if (n.size() >= 2 && n.compare(n.size() - 2, 2, ".*") == 0) {
      if (key.size() > n.size() - 1 && key.compare(0, n.size() - 1, n, 0, n.size() - 1) == 0)
        return true;
    } else if (n == key) {
      return true;
    }
  }
  return false;
}

inline std::vector<std::string> bodiesOf(const sdk::EventBatch& batch) {
  std::vector<std::string> out;
  for (const auto& e : batch) out.push_back(e.body);
  return out;
}

}  // namespace sluice::plugins::testing
