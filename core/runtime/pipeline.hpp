#pragma once
// What an agent runs: the built components of one AgentConfig, each with what it needs to run
// (its loggers, its channel's waker, a source's channel processor and runner, a sink runner).
//
// Entries are held by shared_ptr so that a hot reload can build the next pipeline beside the
// running one with the unchanged entries in both: neither pipeline ever moves an entry, so a
// reload that fails at any point leaves the running pipeline whole, and one that succeeds swaps
// the two (see reload.hpp). Entries are not copied or moved once made.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/model.hpp"
#include "core/plugin/registry.hpp"
#include "core/runtime/channel_processor.hpp"
#include "core/runtime/channel_waker.hpp"
#include "core/runtime/runners.hpp"
#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/sink.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::core {

// The loggers the host made for an entry's plugin objects. Declared first in each entry, so
// that they are destroyed after the objects that log to them.
using Loggers = std::vector<std::unique_ptr<sdk::Logger>>;

struct ChannelEntry {
  Loggers loggers;
  std::string name, type, signature;
  PluginPtr<sdk::Channel> channel{nullptr, {}};
  ChannelWaker waker;  // woken by the sources' puts; the channel's sink runners wait on it
};

struct SinkEntry {
  Loggers loggers;
  std::string name, type, channel, signature;
  PluginPtr<sdk::Sink> sink{nullptr, {}};
};

// The runner of a sink group ("group:g1") or of a sink outside any group ("sink:k1").
struct RunnerEntry {
  Loggers loggers;  // first: they outlive the runner's sink selector
  std::string name, signature;
  std::vector<std::string> sinks;
  std::unique_ptr<SinkRunner> runner;
  bool started = false;
};

struct SourceEntry {
  Loggers loggers;
  std::string name, type, signature;
  std::vector<std::string> channels;
  PluginPtr<sdk::Source> source{nullptr, {}};
  std::unique_ptr<ChannelProcessorImpl> processor;
  std::unique_ptr<PollableSourceRunner> runner;  // a pollable source's, while it runs
  PollableSourceRunner::Backoff backoff;          // its back-off keys, checked at build time
};

struct Pipeline {
  AgentConfig config;
  // Destroyed bottom-up: sources, runners and sinks go before the channels they use.
  std::vector<std::shared_ptr<ChannelEntry>> channels;
  std::vector<std::shared_ptr<SinkEntry>> sinks;
  std::vector<std::shared_ptr<RunnerEntry>> runners;
  std::vector<std::shared_ptr<SourceEntry>> sources;

  ChannelEntry* channel(std::string_view name) const { return find(channels, name); }
  SinkEntry* sink(std::string_view name) const { return find(sinks, name); }
  RunnerEntry* runner(std::string_view name) const { return find(runners, name); }
  SourceEntry* source(std::string_view name) const { return find(sources, name); }

  template <class Entry>
  static Entry* find(const std::vector<std::shared_ptr<Entry>>& v, std::string_view name) {
    for (const auto& e : v)
      if (e->name == name) return e.get();
    return nullptr;
  }
};

// A stable text of a component's configuration (type and every key/value, without locations),
// used to tell which components a reload changes.
std::string configSignature(const ComponentConfig& c);
// The same for a sink runner: a group's processor and members, or kLoneRunner for the runner of
// a sink outside every group. Runner entries are named groupRunnerName() or loneRunnerName().
std::string groupSignature(const SinkGroupConfig& g);
inline constexpr std::string_view kLoneRunner = "lone";
inline std::string groupRunnerName(const std::string& group) { return "group:" + group; }
inline std::string loneRunnerName(const std::string& sink) { return "sink:" + sink; }

}  // namespace sluice::core
