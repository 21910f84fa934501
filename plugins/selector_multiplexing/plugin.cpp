// Registration only, apart from multiplexing_selector.cpp so the unit test links the class
// without exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "multiplexing_selector.hpp"

namespace sluice::plugins::multiplexing {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-selector-multiplexing",
      "0.1.0",
      {sdk::makeComponent<MultiplexingSelector>(
          sdk::ComponentKind::ChannelSelector, "multiplexing",
          {"org.apache.flume.channel.MultiplexingChannelSelector"}, multiplexingSelectorSchema(),
          "Routes each event to channels chosen by the value of one header")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::multiplexing

SLUICE_PLUGIN(sluice::plugins::multiplexing::manifest)
SLUICE_PLUGIN_TYPES("selector multiplexing org.apache.flume.channel.MultiplexingChannelSelector")
