#pragma once
// What a hot reload will do to each component, computed once from the running pipeline and the
// new config before anything is built or touched:
//  - keep:    its configuration is unchanged and so is everything it depends on (a sink's
//             channel, a source's channels, a sink runner's sinks); it keeps running as it is;
//  - replace: it exists under that name but it, or something it depends on, changed;
//  - add:     it is new;
//  - remove:  it is not in the new config.

#include <string>
#include <string_view>
#include <vector>

#include "core/config/model.hpp"
#include "core/runtime/pipeline.hpp"

namespace sluice::core {

struct ReloadPlan {
  enum class Action { Keep, Replace, Add, Remove };
  struct Item {
    std::string name;
    Action action;
  };
  // The new config's components in config order, then the removed ones. Runners are named
  // as in RunnerEntry ("group:g1", "sink:k1").
  std::vector<Item> channels, sinks, sources, runners;

  static bool keeps(const std::vector<Item>& items, std::string_view name);
  bool keepsChannel(std::string_view name) const { return keeps(channels, name); }
  bool keepsSink(std::string_view name) const { return keeps(sinks, name); }
  bool keepsSource(std::string_view name) const { return keeps(sources, name); }
  bool keepsRunner(std::string_view name) const { return keeps(runners, name); }

  // "channel:c1", "sink:k1", "source:r1", "runner:sink:k1"...: what keeps running, in that order.
  std::vector<std::string> kept() const;
  // One line for the log: "replace channel:c1, add sink:k2, remove source:r3".
  std::string changes() const;
};

ReloadPlan planReload(const Pipeline& running, const AgentConfig& next);

}  // namespace sluice::core
