#pragma once
// The kinds of plugin component. Its own header because both the manifest (plugin.hpp) and the
// schema (schema.hpp: a key that names a component of another kind) need it.

#include <cstdint>

namespace sluice::sdk {

enum class ComponentKind : uint32_t {
  Source = 1,
  Channel = 2,
  Sink = 3,
  Interceptor = 4,  // the component is the InterceptorBuilder
  ChannelSelector = 5,
  SinkSelector = 6,  // a load_balance sink group's selector (ABI 1.1)
  // Sub-components (ABI 3.0): made by the host for a key of another component that names them
  // (Key::component), and handed to that component through its Context.
  EventSerializer = 7,  // the component is the EventSerializerBuilder (serializer.hpp)
  HttpHandler = 8,      // an http source's handler (http_handler.hpp)
};

inline const char* nameOf(ComponentKind k) noexcept {
  switch (k) {
    case ComponentKind::Source:
      return "source";
    case ComponentKind::Channel:
      return "channel";
    case ComponentKind::Sink:
      return "sink";
    case ComponentKind::Interceptor:
      return "interceptor";
    case ComponentKind::ChannelSelector:
      return "selector";
    case ComponentKind::SinkSelector:
      return "sink-selector";
    case ComponentKind::EventSerializer:
      return "serializer";
    case ComponentKind::HttpHandler:
      return "http-handler";
  }
  return "?";
}

}  // namespace sluice::sdk
