// plugins/testing/host_context.hpp implemented by the host: plugin tests and benches configure a
// plugin through core's own schema check (prepareContext), so what they test is what the agent
// does. It lives in core because plugins may include nothing from core/; core/meson.build builds
// it into a library only when tests or benches are built.

#include "plugins/testing/host_context.hpp"

#include "core/plugin/schema_check.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sluice::plugins::testing {

namespace {

sdk::ComponentKind kindOf(sdk::PluginObject& object) {
  if (dynamic_cast<sdk::Source*>(&object)) return sdk::ComponentKind::Source;
  if (dynamic_cast<sdk::Sink*>(&object)) return sdk::ComponentKind::Sink;
  if (dynamic_cast<sdk::Channel*>(&object)) return sdk::ComponentKind::Channel;
  if (dynamic_cast<sdk::ChannelSelector*>(&object)) return sdk::ComponentKind::ChannelSelector;
  if (dynamic_cast<sdk::SinkSelector*>(&object)) return sdk::ComponentKind::SinkSelector;
  if (dynamic_cast<sdk::EventSerializerBuilder*>(&object))
    return sdk::ComponentKind::EventSerializer;
  if (dynamic_cast<sdk::HttpSourceHandler*>(&object)) return sdk::ComponentKind::HttpHandler;
  return sdk::ComponentKind::Interceptor;
}

}  // namespace

HostContext prepareAsHost(sdk::ComponentKind kind, const std::string& type,
                          const sdk::Schema& schema, const sdk::Context& given) {
  core::Diagnostics diags;
  HostContext out;
  out.context = core::prepareContext(kind, type, schema, given, diags);
  for (const auto& d : diags.items())
    (d.severity == core::Diagnostic::Severity::Error ? out.errors : out.warnings)
        .push_back(d.message);
  return out;
}

sdk::Result configureAsHost(sdk::PluginObject& object, const sdk::Schema& schema,
                            const sdk::Context& given, const std::string& type) {
  HostContext host = prepareAsHost(kindOf(object), type, schema, given);
  if (!host.errors.empty()) return sdk::Result::failure(host.errors.front());
  return sdk::HostAccess::configure(object, host.context);
}

}  // namespace sluice::plugins::testing
