#pragma once
// The one way the host makes a plugin object from its configuration: resolve the type, check
// the keys against the plugin's schema, create the object, give it its logger and name, wire it
// (a sink's channel, a source's channel processor, a selector's channels or sinks), make the
// sub-components its keys name (Key::component: a sink's serializer, an http source's handler)
// and hand them over in its Context, configure it. Every source, channel, sink, channel
// selector, interceptor, sink selector, serializer and handler is made here, so a change to any
// of those steps is made once.
//
// Used on the host's control thread (agent build and reload). Objects come back configured, not
// started.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/diagnostics.hpp"
#include "core/config/model.hpp"
#include "core/log/logging.hpp"
#include "core/plugin/registry.hpp"
#include "core/plugin/schema_check.hpp"
#include "core/runtime/pipeline.hpp"
#include "sluice/sdk/http_handler.hpp"
#include "sluice/sdk/interceptor.hpp"
#include "sluice/sdk/serializer.hpp"

namespace sluice::core {

// One component to make. References must outlive the call.
struct ComponentSpec {
  const sdk::Context& context;  // its keys; context.path() names it in messages
  std::string_view type;        // as written
  const sdk::Location& typeWhere;
  std::string
      name;  // the object's name (hostAttach) and, unless loggerInstance is set, its logger's
  std::string loggerInstance = {};  // logger <kind>:<type>:<this>, when not `name` ("r1.i1")
  std::string typeKey = {};   // the key that names the type, for errors; context.path() + ".type"
  std::string typeHint = {};  // appended to the unknown-type message
};

// A component as it is written in the config.
inline ComponentSpec specOf(const ComponentConfig& c) {
  return ComponentSpec{c.context, c.type, c.typeWhere, c.name};
}

// What the host hands an object before configure(); only the member for its kind is used.
struct Wiring {
  sdk::Channel* channel = nullptr;                       // a sink's channel
  sdk::ChannelProcessor* processor = nullptr;            // a source's channel processor
  const std::vector<sdk::Channel*>* channels = nullptr;  // a channel selector's channels
  const std::vector<sdk::Sink*>* sinks = nullptr;        // a sink selector's sinks
};

// A component whose type resolved and whose keys passed the schema check.
struct CheckedComponent {
  const RegisteredComponent* component;
  // What configure() receives: the keys as written plus the schema defaults the host filled in
  // (prepareContext); the logger is set on it when made.
  sdk::Context context;
};

class ComponentFactory {
 public:
  ComponentFactory(const PluginRegistry& registry, LogHub& logs)
      : registry_(registry), logs_(logs) {}

  // Resolves the type for T's kind, checks the keys against its schema (the kind's framework
  // keys, frameworkKeys(kind), pass) and fills in the schema defaults. Problems go to diags;
  // nullopt if any.
  template <class T>
  std::optional<CheckedComponent> check(const ComponentSpec& spec, Diagnostics& diags) const;
  // Creates a checked component, attaches a logger (added to `loggers`, which must outlive the
  // object) and its name, wires it and configures it. nullptr after reporting to diags.
  template <class T>
  PluginPtr<T> create(const ComponentSpec& spec, CheckedComponent checked, const Wiring& wiring,
                      Loggers& loggers, Diagnostics& diags) const;
  // check() then create(). `type`, when given, receives the canonical type name.
  template <class T>
  PluginPtr<T> make(const ComponentSpec& spec, const Wiring& wiring, Loggers& loggers,
                    Diagnostics& diags, std::string* type = nullptr) const;
  // make() of the InterceptorBuilder, then build(). The builder is only needed to build; the
  // registry keeps its library loaded, so the interceptor outlives it safely.
  std::unique_ptr<sdk::Interceptor> makeInterceptor(const ComponentSpec& spec, Loggers& loggers,
                                                    Diagnostics& diags) const;

  // What check() makes of a key no schema knows: an error (the default: TOML, --strict) or a
  // warning (a Flume .properties config). Set by the builder for the config it builds.
  void setUnknownKeys(UnknownKeys policy) { unknownKeys_ = policy; }
  UnknownKeys unknownKeys() const { return unknownKeys_; }

 private:
  // For each key of `schema` declared with Key::component() whose value in spec.context names a
  // plugin: checks that plugin (type, keys below the key) and, when `into` is given, makes it and
  // hands it to `into` (HostAccess::setComponent). False after reporting a problem to diags.
  bool subcomponents(const ComponentSpec& spec, const sdk::Schema& schema, sdk::Context* into,
                     Loggers* loggers, Diagnostics& diags) const;

  const PluginRegistry& registry_;
  LogHub& logs_;
  UnknownKeys unknownKeys_ = UnknownKeys::Error;
};

}  // namespace sluice::core
