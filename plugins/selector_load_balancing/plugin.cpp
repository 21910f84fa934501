// Registration only, apart from load_balancing_selector.cpp so the unit test links the class
// without exporting a plugin descriptor.
#include "sluice/sdk/plugin.hpp"
#include "load_balancing_selector.hpp"

namespace sluice::plugins::loadbalancing {
namespace {

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "sluice-selector-load-balancing",
      "0.1.0",
      {sdk::makeComponent<LoadBalancingSelector>(
          sdk::ComponentKind::ChannelSelector, "load_balancing",
          {"org.apache.flume.channel.LoadBalancingChannelSelector"}, loadBalancingSelectorSchema(),
          "Sends each event to one of the source's channels, round robin or at random")}};
  return m;
}

}  // namespace
}  // namespace sluice::plugins::loadbalancing

SLUICE_PLUGIN(sluice::plugins::loadbalancing::manifest)
SLUICE_PLUGIN_TYPES("selector load_balancing org.apache.flume.channel.LoadBalancingChannelSelector")
