#include "core/runtime/component_factory.hpp"

#include <type_traits>

#include "core/plugin/schema_check.hpp"
#include "plugins/common/text_util.hpp"
#include "sluice/sdk/host_access.hpp"
#include "sluice/sdk/selector.hpp"
#include "sluice/sdk/sink_selector.hpp"

namespace sluice::core {

namespace {

template <class T>
constexpr sdk::ComponentKind kindOf() {
  if constexpr (std::is_same_v<T, sdk::Source>) return sdk::ComponentKind::Source;
  if constexpr (std::is_same_v<T, sdk::Channel>) return sdk::ComponentKind::Channel;
  if constexpr (std::is_same_v<T, sdk::Sink>) return sdk::ComponentKind::Sink;
  if constexpr (std::is_same_v<T, sdk::InterceptorBuilder>) return sdk::ComponentKind::Interceptor;
  if constexpr (std::is_same_v<T, sdk::ChannelSelector>) return sdk::ComponentKind::ChannelSelector;
  if constexpr (std::is_same_v<T, sdk::SinkSelector>) return sdk::ComponentKind::SinkSelector;
  if constexpr (std::is_same_v<T, sdk::EventSerializerBuilder>)
    return sdk::ComponentKind::EventSerializer;
  if constexpr (std::is_same_v<T, sdk::HttpSourceHandler>) return sdk::ComponentKind::HttpHandler;
}

}  // namespace

template <class T>
std::optional<CheckedComponent> ComponentFactory::check(const ComponentSpec& spec,
                                                        Diagnostics& diags) const {
  constexpr sdk::ComponentKind kind = kindOf<T>();
  const RegisteredComponent* rc = registry_.resolve(kind, spec.type);
  if (!rc) {
    const std::string where = spec.typeWhere.str();
    diags.error((spec.typeKey.empty() ? spec.context.path() + ".type" : spec.typeKey) + ": " +
                registry_.unknownTypeMessage(kind, spec.type) + spec.typeHint +
                (where.empty() ? "" : " (" + where + ")"));
    return std::nullopt;
  }
  Diagnostics local;
  sdk::Context prepared =
      prepareContext(kind, rc->info->type, rc->info->schema, spec.context, local, unknownKeys_);
  diags.append(local);
  if (local.hasErrors()) return std::nullopt;
  if (!subcomponents(spec, rc->info->schema, nullptr, nullptr, diags)) return std::nullopt;
  return CheckedComponent{rc, std::move(prepared)};
}

template <class T>
PluginPtr<T> ComponentFactory::create(const ComponentSpec& spec, CheckedComponent checked,
                                      const Wiring& wiring, Loggers& loggers,
                                      Diagnostics& diags) const {
  const RegisteredComponent& rc = *checked.component;
  std::string err;
  PluginPtr<T> obj = registry_.create<T>(rc, err);
  if (!obj) {
    diags.error(spec.context.path() + ": " + err);
    return obj;
  }
  const std::string& instance = spec.loggerInstance.empty() ? spec.name : spec.loggerInstance;
  loggers.push_back(
      logs_.make(std::string(sdk::nameOf(kindOf<T>())) + ":" + rc.info->type + ":" + instance));
  sdk::Logger* logger = loggers.back().get();
  sdk::HostAccess::attach(*obj, spec.name, logger);
  if constexpr (std::is_same_v<T, sdk::Sink>) sdk::HostAccess::setChannel(*obj, wiring.channel);
  if constexpr (std::is_same_v<T, sdk::Source>) sdk::HostAccess::setChannelProcessor(*obj, wiring.processor);
  if constexpr (std::is_same_v<T, sdk::ChannelSelector>) sdk::HostAccess::setChannels(*obj, *wiring.channels);
  if constexpr (std::is_same_v<T, sdk::SinkSelector>) sdk::HostAccess::setSinks(*obj, *wiring.sinks);
  checked.context.setLogger(logger);
  if (!subcomponents(spec, rc.info->schema, &checked.context, &loggers, diags)) {
    obj.reset();
    return obj;
  }
  if (sdk::Result r = sdk::HostAccess::configure(*obj, checked.context); !r) {
    diags.error(r.error());
    obj.reset();
  }
  return obj;
}

template <class T>
PluginPtr<T> ComponentFactory::make(const ComponentSpec& spec, const Wiring& wiring,
                                    Loggers& loggers, Diagnostics& diags, std::string* type) const {
  std::optional<CheckedComponent> checked = check<T>(spec, diags);
  if (!checked) return PluginPtr<T>(nullptr, {});
  if (type) *type = checked->component->info->type;
  return create<T>(spec, std::move(*checked), wiring, loggers, diags);
}

std::unique_ptr<sdk::Interceptor> ComponentFactory::makeInterceptor(const ComponentSpec& spec,
                                                                    Loggers& loggers,
                                                                    Diagnostics& diags) const {
  auto builder = make<sdk::InterceptorBuilder>(spec, {}, loggers, diags);
  if (!builder) return nullptr;
  sdk::Result r;
  auto interceptor = sdk::HostAccess::build(*builder, r);
  if (!r) {
    diags.error(spec.context.path() + ": build() failed: " + r.error());
    return nullptr;
  }
  return interceptor;
}

bool ComponentFactory::subcomponents(const ComponentSpec& spec, const sdk::Schema& schema,
                                     sdk::Context* into, Loggers* loggers,
                                     Diagnostics& diags) const {
  bool ok = true;
  for (const sdk::Key& k : schema.keys) {
    auto it = spec.context.parameters().find(k.name);
    if (it == spec.context.parameters().end() || !namesPlugin(k, it->second.value)) continue;
    const sdk::Context sub = spec.context.getSubProperties(k.name);
    std::string type(plugins::text::trimmed(it->second.value));
    ComponentSpec subSpec{sub, type, it->second.where, spec.name + "." + k.name};
    subSpec.typeKey = spec.context.path() + "." + k.name;
    std::string builtins;
    for (const auto& a : k.allowed) builtins += (builtins.empty() ? "" : ", ") + a;
    subSpec.typeHint = "; or one of the built-in values " + builtins;
    auto makeOne = [&]<class Sub>() -> bool {
      if (!into) return check<Sub>(subSpec, diags).has_value();
      // The owner's check() reported this plugin's warnings already: keep only errors here.
      Diagnostics again;
      std::optional<CheckedComponent> checked = check<Sub>(subSpec, again);
      if (!checked) {
        for (const auto& d : again.items())
          if (d.severity == Diagnostic::Severity::Error) diags.error(d.message);
        return false;
      }
      PluginPtr<Sub> obj = create<Sub>(subSpec, std::move(*checked), {}, *loggers, diags);
      if (!obj) return false;
      sdk::HostAccess::setComponent(*into, k.name,
                                    std::shared_ptr<sdk::PluginObject>(std::move(obj)));
      return true;
    };
    switch (k.componentKind) {
      case sdk::ComponentKind::EventSerializer:
        ok = makeOne.template operator()<sdk::EventSerializerBuilder>() && ok;
        break;
      case sdk::ComponentKind::HttpHandler:
        ok = makeOne.template operator()<sdk::HttpSourceHandler>() && ok;
        break;
      default:
        diags.error(subSpec.typeKey + ": a " + sdk::nameOf(k.componentKind) +
                    " cannot be a sub-component (a bug in the plugin's schema)");
        ok = false;
    }
  }
  return ok;
}

#define SLUICE_FACTORY_KIND(T)                                                                    \
  template std::optional<CheckedComponent> ComponentFactory::check<T>(const ComponentSpec&,       \
                                                                      Diagnostics&) const;        \
  template PluginPtr<T> ComponentFactory::create<T>(const ComponentSpec&, CheckedComponent,       \
                                                    const Wiring&, Loggers&, Diagnostics&) const; \
  template PluginPtr<T> ComponentFactory::make<T>(const ComponentSpec&, const Wiring&, Loggers&,  \
                                                  Diagnostics&, std::string*) const;
SLUICE_FACTORY_KIND(sdk::Source)
SLUICE_FACTORY_KIND(sdk::Channel)
SLUICE_FACTORY_KIND(sdk::Sink)
SLUICE_FACTORY_KIND(sdk::ChannelSelector)
SLUICE_FACTORY_KIND(sdk::SinkSelector)
SLUICE_FACTORY_KIND(sdk::EventSerializerBuilder)
SLUICE_FACTORY_KIND(sdk::HttpSourceHandler)
#undef SLUICE_FACTORY_KIND

}  // namespace sluice::core
