#include "core/runtime/reload_plan.hpp"

#include <algorithm>
#include <set>

namespace sluice::core {

namespace {

using Action = ReloadPlan::Action;

// Keep when the running entry has the same signature and every dependency is kept.
template <class Entry>
Action decide(const std::vector<std::shared_ptr<Entry>>& running, std::string_view name,
              const std::string& signature, bool dependenciesKept) {
  const Entry* old = Pipeline::find(running, name);
  if (!old) return Action::Add;
  return old->signature == signature && dependenciesKept ? Action::Keep : Action::Replace;
}

template <class Entry>
void addRemoved(const std::vector<std::shared_ptr<Entry>>& running,
                std::vector<ReloadPlan::Item>& items) {
  for (const auto& e : running)
    if (std::none_of(items.begin(), items.end(), [&](const auto& i) { return i.name == e->name; }))
      items.push_back({e->name, Action::Remove});
}

}  // namespace

bool ReloadPlan::keeps(const std::vector<Item>& items, std::string_view name) {
  for (const auto& i : items)
    if (i.name == name) return i.action == Action::Keep;
  return false;
}

std::vector<std::string> ReloadPlan::kept() const {
  std::vector<std::string> out;
  auto add = [&](const std::vector<Item>& items, const char* kind) {
    for (const auto& i : items)
      if (i.action == Action::Keep) out.push_back(kind + i.name);
  };
  add(channels, "channel:");
  add(sinks, "sink:");
  add(sources, "source:");
  add(runners, "runner:");
  return out;
}

std::string ReloadPlan::changes() const {
  std::string out;
  auto add = [&](const std::vector<Item>& items, const char* kind) {
    for (const auto& i : items) {
      if (i.action == Action::Keep) continue;
      out += out.empty() ? "" : ", ";
      out += i.action == Action::Replace ? "replace "
             : i.action == Action::Add   ? "add "
                                         : "remove ";
      out += kind + i.name;
    }
  };
  add(channels, "channel:");
  add(sinks, "sink:");
  add(sources, "source:");
  add(runners, "runner:");
  return out.empty() ? "none" : out;
}

ReloadPlan planReload(const Pipeline& running, const AgentConfig& next) {
  ReloadPlan plan;
  for (const auto& c : next.channels)
    plan.channels.push_back({c.name, decide(running.channels, c.name, configSignature(c), true)});
  for (const auto& s : next.sinks)
    plan.sinks.push_back(
        {s.name, decide(running.sinks, s.name, configSignature(s), plan.keepsChannel(s.channel))});
  for (const auto& s : next.sources) {
    const bool channelsKept = std::all_of(s.channels.begin(), s.channels.end(),
                                          [&](const auto& c) { return plan.keepsChannel(c); });
    plan.sources.push_back(
        {s.name, decide(running.sources, s.name, configSignature(s), channelsKept)});
  }
  std::set<std::string> grouped;
  for (const auto& g : next.sinkgroups) {
    grouped.insert(g.sinks.begin(), g.sinks.end());
    const bool sinksKept = std::all_of(g.sinks.begin(), g.sinks.end(),
                                       [&](const auto& k) { return plan.keepsSink(k); });
    const std::string name = groupRunnerName(g.name);
    plan.runners.push_back({name, decide(running.runners, name, groupSignature(g), sinksKept)});
  }
  for (const auto& s : next.sinks) {
    if (grouped.count(s.name)) continue;
    const std::string name = loneRunnerName(s.name);
    plan.runners.push_back(
        {name, decide(running.runners, name, std::string(kLoneRunner), plan.keepsSink(s.name))});
  }
  addRemoved(running.channels, plan.channels);
  addRemoved(running.sinks, plan.sinks);
  addRemoved(running.sources, plan.sources);
  addRemoved(running.runners, plan.runners);
  return plan;
}

}  // namespace sluice::core
