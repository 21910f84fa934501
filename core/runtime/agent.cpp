#include "core/runtime/agent.hpp"

#include <algorithm>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/plugin/schema_check.hpp"

namespace sluice::core {

namespace {

std::string loc(const sdk::Location& l) {
  std::string s = l.str();
  return s.empty() ? "" : " (" + s + ")";
}

// Keys that hold a batch size: batchSize, sink.batchSize, hdfs.batchSize...
bool isBatchSizeKey(const std::string& k) {
  static const std::string kName = "batchSize";
  return k == kName || (k.size() > kName.size() + 1 &&
                        k.compare(k.size() - kName.size() - 1, kName.size() + 1, "." + kName) == 0);
}

template <class Entry>
Entry* findEntry(std::vector<Entry>& v, const std::string& name) {
  for (auto& e : v)
    if (e.name == name) return &e;
  return nullptr;
}

template <class Entry>
std::optional<Entry> takeEntry(std::vector<Entry>& v, const std::string& name) {
  for (auto it = v.begin(); it != v.end(); ++it)
    if (it->name == name) {
      std::optional<Entry> out(std::move(*it));
      v.erase(it);
      return out;
    }
  return std::nullopt;
}

}  // namespace

std::string configSignature(const ComponentConfig& c) {
  std::string sig = c.type;
  for (const auto& [k, p] : c.context.parameters()) {
    sig += '\n';
    sig += k;
    sig += '=';
    sig += p.value;
  }
  return sig;
}

Agent::Agent(PluginRegistry& registry, LogHub& logs, AgentOptions options)
    : registry_(registry), logs_(logs), options_(options), log_(logs.core("agent")) {}

Agent::~Agent() { stop(); }

std::unique_ptr<sdk::Logger> Agent::makeLogger(const std::string& kind, const std::string& type,
                                               const std::string& name) {
  return logs_.make(kind + ":" + type + ":" + name);
}

Agent::ChannelEntry* Agent::channel(const std::string& name) { return findEntry(channels_, name); }

bool Agent::isAdopted(const std::string& kind, const std::string& name) const {
  return std::find(adopted_.begin(), adopted_.end(), kind + ":" + name) != adopted_.end();
}

bool Agent::settle(const std::string& what, Diagnostics& local, Diagnostics& diags) {
  if (!local.hasErrors()) {
    diags.append(local);
    return true;
  }
  if (!options_.lenient) {
    diags.append(local);
    return false;
  }
  for (const auto& d : local.items())
    diags.warn((d.severity == Diagnostic::Severity::Error ? "dropped " + what + " (--lenient): " : "") +
               d.message);
  return false;
}

bool Agent::build(const AgentConfig& cfg, Diagnostics& diags, Agent* prev) {
  config_ = cfg;
  adopted_.clear();
  buildChannels(cfg, diags, prev);
  buildSinks(cfg, diags, prev);
  buildSources(cfg, diags, prev);
  buildSinkRunners(cfg, diags, prev);
  checkBatchSizes(cfg, diags);
  if (!diags.hasErrors() && sources_.empty() && sinks_.empty())
    diags.warn("agent '" + cfg.agent + "' has no sources and no sinks: nothing will flow");
  return !diags.hasErrors();
}

void Agent::buildChannels(const AgentConfig& cfg, Diagnostics& diags, Agent* prev) {
  for (const auto& c : cfg.channels) {
    std::string sig = configSignature(c);
    if (prev) {
      ChannelEntry* old = findEntry(prev->channels_, c.name);
      if (old && old->signature == sig) {
        channels_.push_back(std::move(*takeEntry(prev->channels_, c.name)));
        adopted_.push_back("channel:" + c.name);
        continue;
      }
    }
    Diagnostics local;
    const std::string path = c.context.path();
    const RegisteredComponent* rc = registry_.resolve(sdk::ComponentKind::Channel, c.type);
    if (!rc) {
      local.error(path + ".type: " + registry_.unknownTypeMessage(sdk::ComponentKind::Channel, c.type) +
                  loc(c.typeWhere));
      settle("channel '" + c.name + "'", local, diags);
      continue;
    }
    sdk::Context prepared = prepareContext(*rc->info, c.context, local);
    ChannelEntry e;
    e.name = c.name;
    e.type = rc->info->type;
    e.signature = sig;
    e.waker = std::make_unique<ChannelWaker>();
    if (!local.hasErrors()) {
      std::string err;
      e.channel = registry_.create<sdk::Channel>(*rc, err);
      if (!e.channel) local.error(path + ": " + err);
    }
    if (e.channel) {
      e.loggers.push_back(makeLogger("channel", rc->info->type, c.name));
      e.channel->hostAttach(c.name, e.loggers.back().get());
      sdk::Context ctx = prepared;
      ctx.setLogger(e.loggers.back().get());
      sdk::Result r = e.channel->hostConfigure(ctx);
      if (!r) local.error(r.error());
    }
    if (settle("channel '" + c.name + "'", local, diags)) channels_.push_back(std::move(e));
  }
}

void Agent::buildSinks(const AgentConfig& cfg, Diagnostics& diags, Agent* prev) {
  for (const auto& s : cfg.sinks) {
    std::string sig = configSignature(s);
    if (prev && isAdopted("channel", s.channel)) {
      SinkEntry* old = findEntry(prev->sinks_, s.name);
      if (old && old->signature == sig) {
        sinks_.push_back(std::move(*takeEntry(prev->sinks_, s.name)));
        adopted_.push_back("sink:" + s.name);
        continue;
      }
    }
    Diagnostics local;
    const std::string path = s.context.path();
    ChannelEntry* ch = channel(s.channel);
    if (!ch) {
      // buildAgentConfig reports dangling names; here the channel may have been dropped.
      if (cfg.findChannel(s.channel))
        local.error(path + ".channel: channel '" + s.channel + "' could not be built");
      if (const RegisteredComponent* rc = registry_.resolve(sdk::ComponentKind::Sink, s.type))
        (void)prepareContext(*rc->info, s.context, local);
      settle("sink '" + s.name + "'", local, diags);
      continue;
    }
    const RegisteredComponent* rc = registry_.resolve(sdk::ComponentKind::Sink, s.type);
    if (!rc) {
      local.error(path + ".type: " + registry_.unknownTypeMessage(sdk::ComponentKind::Sink, s.type) +
                  loc(s.typeWhere));
      settle("sink '" + s.name + "'", local, diags);
      continue;
    }
    sdk::Context prepared = prepareContext(*rc->info, s.context, local);
    SinkEntry e;
    e.name = s.name;
    e.type = rc->info->type;
    e.channel = s.channel;
    e.signature = sig;
    if (!local.hasErrors()) {
      std::string err;
      e.sink = registry_.create<sdk::Sink>(*rc, err);
      if (!e.sink) local.error(path + ": " + err);
    }
    if (e.sink) {
      e.loggers.push_back(makeLogger("sink", rc->info->type, s.name));
      e.sink->hostAttach(s.name, e.loggers.back().get());
      e.sink->setChannel(ch->channel.get());
      sdk::Context ctx = prepared;
      ctx.setLogger(e.loggers.back().get());
      sdk::Result r = e.sink->hostConfigure(ctx);
      if (!r) local.error(r.error());
    }
    if (settle("sink '" + s.name + "'", local, diags)) sinks_.push_back(std::move(e));
  }
}

void Agent::buildSources(const AgentConfig& cfg, Diagnostics& diags, Agent* prev) {
  for (const auto& s : cfg.sources) {
    std::string sig = configSignature(s);
    if (prev && std::all_of(s.channels.begin(), s.channels.end(),
                            [&](const std::string& c) { return isAdopted("channel", c); })) {
      SourceEntry* old = findEntry(prev->sources_, s.name);
      if (old && old->signature == sig) {
        sources_.push_back(std::move(*takeEntry(prev->sources_, s.name)));
        adopted_.push_back("source:" + s.name);
        continue;
      }
    }
    Diagnostics local;
    const std::string path = s.context.path();
    std::vector<ChannelProcessorImpl::Target> targets;
    std::vector<sdk::Channel*> channels;
    for (const auto& name : s.channels) {
      if (ChannelEntry* ch = channel(name)) {
        targets.push_back({ch->channel.get(), ch->waker.get()});
        channels.push_back(ch->channel.get());
      } else if (cfg.findChannel(name)) {
        local.error(path + ".channels: channel '" + name + "' could not be built");
      }
    }
    if (channels.empty() && !local.hasErrors()) local.error(path + ".channels: no usable channel");
    if (local.hasErrors()) {
      // Still check the source's own keys, so one run reports every problem.
      if (const RegisteredComponent* rc = registry_.resolve(sdk::ComponentKind::Source, s.type))
        (void)prepareContext(*rc->info, s.context, local);
      settle("source '" + s.name + "'", local, diags);
      continue;
    }

    SourceEntry e;
    e.name = s.name;
    e.signature = sig;
    e.channels = s.channels;

    const RegisteredComponent* rc = registry_.resolve(sdk::ComponentKind::Source, s.type);
    sdk::Context prepared;
    if (!rc)
      local.error(path + ".type: " + registry_.unknownTypeMessage(sdk::ComponentKind::Source, s.type) +
                  loc(s.typeWhere));
    else
      prepared = prepareContext(*rc->info, s.context, local);
    e.type = rc ? rc->info->type : s.type;
    // The runner's back-off keys apply to every pollable source; 0 would make it spin.
    for (const char* key : {"backoffSleepIncrement", "maxBackoffSleep"}) {
      try {
        if (auto v = s.context.getLong(key); v && (*v < 1 || *v > 3600000))
          s.context.fail(key, "expected milliseconds between 1 and 3600000, got " + std::to_string(*v));
      } catch (const sdk::ConfigError& err) {
        local.error(err.what());
      }
    }

    // Selector.
    PluginPtr<sdk::ChannelSelector> selector(nullptr, {});
    const RegisteredComponent* selRc =
        registry_.resolve(sdk::ComponentKind::ChannelSelector, s.selector.type);
    if (!selRc) {
      local.error(s.selector.context.path() + ".type: " +
                  registry_.unknownTypeMessage(sdk::ComponentKind::ChannelSelector, s.selector.type) +
                  loc(s.selector.typeWhere));
    } else {
      sdk::Context selPrepared = prepareContext(*selRc->info, s.selector.context, local);
      if (!local.hasErrors()) {
        std::string err;
        selector = registry_.create<sdk::ChannelSelector>(*selRc, err);
        if (!selector) {
          local.error(s.selector.context.path() + ": " + err);
        } else {
          e.loggers.push_back(makeLogger("selector", selRc->info->type, s.name));
          selector->hostAttach(s.name, e.loggers.back().get());
          selector->setChannels(channels);
          sdk::Context ctx = selPrepared;
          ctx.setLogger(e.loggers.back().get());
          sdk::Result r = selector->hostConfigure(ctx);
          if (!r) local.error(r.error());
        }
      }
    }

    // Interceptors, in chain order. Builders are only needed to build.
    std::vector<std::unique_ptr<sdk::Interceptor>> interceptors;
    for (const auto& ic : s.interceptors) {
      const RegisteredComponent* irc = registry_.resolve(sdk::ComponentKind::Interceptor, ic.type);
      if (!irc) {
        local.error(ic.context.path() + ".type: " +
                    registry_.unknownTypeMessage(sdk::ComponentKind::Interceptor, ic.type) +
                    loc(ic.typeWhere));
        continue;
      }
      Diagnostics ilocal;
      sdk::Context icPrepared = prepareContext(*irc->info, ic.context, ilocal);
      local.append(ilocal);
      if (ilocal.hasErrors()) continue;
      std::string err;
      auto builder = registry_.create<sdk::InterceptorBuilder>(*irc, err);
      if (!builder) {
        local.error(ic.context.path() + ": " + err);
        continue;
      }
      e.loggers.push_back(makeLogger("interceptor", irc->info->type, s.name + "." + ic.name));
      builder->hostAttach(ic.name, e.loggers.back().get());
      sdk::Context ctx = icPrepared;
      ctx.setLogger(e.loggers.back().get());
      sdk::Result r = builder->hostConfigure(ctx);
      if (!r) {
        local.error(r.error());
        continue;
      }
      auto interceptor = builder->hostBuild(r);
      if (!r) {
        local.error(ic.context.path() + ": build() failed: " + r.error());
        continue;
      }
      // The interceptor's code lives in the builder's library: the registry keeps every library
      // loaded until exit, so it outlives the interceptor.
      interceptors.push_back(std::move(interceptor));
    }

    if (rc && !local.hasErrors()) {
      std::string err;
      e.source = registry_.create<sdk::Source>(*rc, err);
      if (!e.source) local.error(path + ": " + err);
    }
    if (e.source) {
      e.processor = std::make_unique<ChannelProcessorImpl>(path, std::move(selector),
                                                           std::move(interceptors), targets,
                                                           logs_.core("source:" + e.type + ":" + s.name));
      e.loggers.push_back(makeLogger("source", e.type, s.name));
      e.source->hostAttach(s.name, e.loggers.back().get());
      e.source->setChannelProcessor(e.processor.get());
      sdk::Context ctx = prepared;
      ctx.setLogger(e.loggers.back().get());
      sdk::Result r = e.source->hostConfigure(ctx);
      if (!r) local.error(r.error());
    }
    if (settle("source '" + s.name + "'", local, diags)) sources_.push_back(std::move(e));
  }
}

void Agent::buildSinkRunners(const AgentConfig& cfg, Diagnostics& diags, Agent* prev) {
  std::set<std::string> grouped;
  auto channelsOf = [&](const std::vector<sdk::Sink*>& sinks) {
    std::vector<std::pair<sdk::Channel*, ChannelWaker*>> out;
    for (sdk::Sink* s : sinks)
      for (auto& c : channels_)
        if (c.channel.get() == s->getChannel() &&
            std::none_of(out.begin(), out.end(), [&](auto& p) { return p.first == s->getChannel(); }))
          out.emplace_back(c.channel.get(), c.waker.get());
    return out;
  };
  // A runner is kept when its definition is unchanged and all its sinks were kept.
  auto adopt = [&](const std::string& name, const std::string& sig,
                   const std::vector<std::string>& members) {
    if (!prev) return false;
    RunnerEntry* old = findEntry(prev->runners_, name);
    if (!old || old->signature != sig) return false;
    for (const auto& m : members)
      if (!isAdopted("sink", m)) return false;
    runners_.push_back(std::move(*takeEntry(prev->runners_, name)));
    adopted_.push_back("runner:" + name);
    return true;
  };
  for (const auto& g : cfg.sinkgroups) {
    for (const auto& n : g.sinks) grouped.insert(n);
    std::string sig = "group\n" + configSignature(g.processor);
    for (const auto& n : g.sinks) sig += "\nsink=" + n;
    if (adopt("group:" + g.name, sig, g.sinks)) continue;
    Diagnostics local;
    std::vector<sdk::Sink*> members;
    for (const auto& n : g.sinks)
      if (SinkEntry* s = findEntry(sinks_, n)) members.push_back(s->sink.get());
    if (members.empty()) {
      local.error(g.processor.context.path() + ": no usable sink in group '" + g.name + "'");
    } else {
      RunnerEntry r;
      // A load_balance group's custom selector: a plugin of kind SinkSelector.
      auto makeSelector = [&](const std::string& type, const sdk::Context& ctx,
                              const std::vector<sdk::Sink*>& sinks,
                              Diagnostics& d) -> PluginPtr<sdk::SinkSelector> {
        PluginPtr<sdk::SinkSelector> none(nullptr, {});
        const RegisteredComponent* rc = registry_.resolve(sdk::ComponentKind::SinkSelector, type);
        if (!rc) {
          const sdk::Parameter* where = nullptr;
          for (const auto& [k, p] : g.processor.context.parameters())
            if (k == "selector") where = &p;
          d.error(g.processor.context.path() + ".selector: " +
                  registry_.unknownTypeMessage(sdk::ComponentKind::SinkSelector, type) +
                  "; round_robin and random are built in" +
                  (where && !where->where.str().empty() ? " (" + where->where.str() + ")" : ""));
          return none;
        }
        sdk::Context prepared = prepareContext(*rc->info, ctx, d);
        if (d.hasErrors()) return none;
        std::string err;
        auto selector = registry_.create<sdk::SinkSelector>(*rc, err);
        if (!selector) {
          d.error(ctx.path() + ": " + err);
          return none;
        }
        r.loggers.push_back(makeLogger("sink-selector", rc->info->type, g.name));
        selector->hostAttach(g.name, r.loggers.back().get());
        selector->setSinks(sinks);
        sdk::Context configured = prepared;
        configured.setLogger(r.loggers.back().get());
        if (sdk::Result res = selector->hostConfigure(configured); !res) {
          d.error(res.error());
          return none;
        }
        return selector;
      };
      auto proc = makeSinkProcessor(g.processor.type, g.processor.context, members,
                                    logs_.core("sinkgroup:" + g.processor.type + ":" + g.name), local,
                                    makeSelector);
      if (proc) {
        r.name = "group:" + g.name;
        r.signature = sig;
        r.sinks = g.sinks;
        r.runner = std::make_unique<SinkRunner>(g.name, std::move(proc), channelsOf(members),
                                                logs_.core("sinkrunner:" + g.name), options_.sinkRunner);
        runners_.push_back(std::move(r));
      }
    }
    settle("sink group '" + g.name + "'", local, diags);
  }
  for (auto& s : sinks_) {
    if (grouped.count(s.name)) continue;
    if (adopt("sink:" + s.name, "lone", {s.name})) continue;
    Diagnostics local;
    auto proc = makeSinkProcessor("default", sdk::Context(config_.agent + ".sinks." + s.name),
                                  {s.sink.get()}, logs_.core("sinkrunner:" + s.name), local);
    diags.append(local);
    if (proc) {
      RunnerEntry r;
      r.name = "sink:" + s.name;
      r.signature = "lone";
      r.sinks = {s.name};
      r.runner = std::make_unique<SinkRunner>(s.name, std::move(proc), channelsOf({s.sink.get()}),
                                              logs_.core("sinkrunner:" + s.name), options_.sinkRunner);
      runners_.push_back(std::move(r));
    }
  }
}

void Agent::checkBatchSizes(const AgentConfig& cfg, Diagnostics& diags) {
  // batchSize <= transactionCapacity of every channel the component uses (the channel itself
  // checks transactionCapacity <= capacity).
  auto txCap = [&](const std::string& chName) -> std::optional<int64_t> {
    const ComponentConfig* c = cfg.findChannel(chName);
    if (!c) return std::nullopt;
    const RegisteredComponent* rc = registry_.resolve(sdk::ComponentKind::Channel, c->type);
    if (!rc) return std::nullopt;
    auto v = effectiveValue(rc->info->schema, c->context, "transactionCapacity");
    if (!v) return std::nullopt;
    try {
      return std::stoll(*v);
    } catch (...) {
      return std::nullopt;
    }
  };
  auto check = [&](const ComponentConfig& comp, sdk::ComponentKind kind,
                   const std::vector<std::string>& chans) {
    const RegisteredComponent* rc = registry_.resolve(kind, comp.type);
    if (!rc) return;
    for (const auto& k : rc->info->schema.keys) {
      if (!isBatchSizeKey(k.name)) continue;
      auto v = effectiveValue(rc->info->schema, comp.context, k.name);
      if (!v) continue;
      int64_t batch = 0;
      try {
        batch = std::stoll(*v);
      } catch (...) {
        continue;  // the schema check reported it
      }
      for (const auto& ch : chans) {
        auto cap = txCap(ch);
        if (cap && batch > *cap) {
          auto it = comp.context.parameters().find(k.name);
          std::string where = it == comp.context.parameters().end() ? " (default)" : loc(it->second.where);
          diags.error(comp.context.path() + "." + k.name + ": " + std::to_string(batch) +
                      " must be <= transactionCapacity (" + std::to_string(*cap) + ") of channel '" +
                      ch + "' (" + cfg.agent + ".channels." + ch + ")" + where +
                      "; lower it or raise the channel's transactionCapacity");
        }
      }
    }
  };
  for (const auto& s : cfg.sources) check(s, sdk::ComponentKind::Source, s.channels);
  for (const auto& s : cfg.sinks) check(s, sdk::ComponentKind::Sink, {s.channel});
}

sdk::Result Agent::startChannelsAndSinks() {
  for (auto& c : channels_) {
    if (c.channel->getLifecycleState() == sdk::LifecycleState::START) continue;
    sdk::Result r = c.channel->hostStart();
    if (!r) return sdk::Result::failure(config_.agent + ".channels." + c.name + " failed to start: " + r.error());
  }
  for (auto& s : sinks_) {
    if (s.sink->getLifecycleState() == sdk::LifecycleState::START) continue;
    sdk::Result r = s.sink->hostStart();
    if (!r) return sdk::Result::failure(config_.agent + ".sinks." + s.name + " failed to start: " + r.error());
  }
  for (auto& r : runners_)
    if (!r.started) {
      r.runner->start();
      r.started = true;
    }
  return sdk::Result::success();
}

sdk::Result Agent::startSources() {
  for (auto& s : sources_) {
    if (s.source->getLifecycleState() == sdk::LifecycleState::START) continue;
    sdk::Result r = s.processor->initialize();
    if (r) r = s.source->hostStart();
    if (!r) return sdk::Result::failure(config_.agent + ".sources." + s.name + " failed to start: " + r.error());
    if (sdk::PollableSource* p = s.source->asPollable()) {
      s.runner = std::make_unique<PollableSourceRunner>(p, logs_.core("runner:" + s.name));
      s.runner->start();
    }
  }
  return sdk::Result::success();
}

sdk::Result Agent::start() {
  if (running_) return sdk::Result::success();
  running_ = true;
  sdk::Result r = startChannelsAndSinks();
  if (r) r = startSources();
  if (!r) {
    log_->error("{}", r.error());
    stop();
    return r;
  }
  log_->info("agent '{}' started: {} source(s), {} channel(s), {} sink(s)", config_.agent,
             sources_.size(), channels_.size(), sinks_.size());
  return sdk::Result::success();
}

void Agent::stopSources() {
  for (auto& s : sources_) {
    if (s.runner) s.runner->stop();
    s.runner.reset();
    if (s.source->getLifecycleState() == sdk::LifecycleState::START) {
      sdk::Result r = s.source->hostStop();
      if (!r) log_->error("{}.sources.{}: stop failed: {}", config_.agent, s.name, r.error());
      s.processor->close();
    }
  }
}

void Agent::stopSinks(std::chrono::milliseconds drain) {
  for (auto& r : runners_) {
    if (!r.started) continue;
    int64_t left = r.runner->stop(drain);
    r.started = false;
    if (left > 0 && drain.count() > 0)
      log_->warn("sink runner '{}': {} event(s) still in its channel after the {} ms drain timeout",
                 r.runner->name(), left, drain.count());
  }
  for (auto& s : sinks_)
    if (s.sink->getLifecycleState() == sdk::LifecycleState::START) {
      sdk::Result r = s.sink->hostStop();
      if (!r) log_->error("{}.sinks.{}: stop failed: {}", config_.agent, s.name, r.error());
    }
}

void Agent::stopChannels() {
  for (auto& c : channels_)
    if (c.channel->getLifecycleState() == sdk::LifecycleState::START) {
      sdk::Result r = c.channel->hostStop();
      if (!r) log_->error("{}.channels.{}: stop failed: {}", config_.agent, c.name, r.error());
    }
}

void Agent::stop() {
  if (!running_) return;
  running_ = false;
  log_->info("stopping agent '{}' (sinks drain for up to {} ms)", config_.agent,
             options_.drainTimeout.count());
  stopSources();
  stopSinks(options_.drainTimeout);
  stopChannels();
  log_->info("agent '{}' stopped", config_.agent);
}

namespace {

// Moves the events of `from` into `to`, 100 per take/put transaction pair, until `from` is empty
// or the deadline passes. Events are cloned, not moved, so a put that fails leaves the take to
// roll back with the events intact; a full `to` is waited out (its sinks make room). Returns how
// many moved.
int64_t moveEvents(sdk::Channel& from, sdk::Channel& to, ChannelWaker* toWaker,
                   std::chrono::steady_clock::time_point deadline) {
  int64_t moved = 0, failedRounds = 0;
  sdk::EventBatch batch;
  while (std::chrono::steady_clock::now() < deadline) {
    sdk::TransactionGuard take(from);
    std::span<sdk::Event> taken;
    if (!take->takeBatch(100, taken) || taken.empty()) break;
    batch.clear();
    for (auto& e : taken) batch.push_back(e.clone());
    const std::size_t n = batch.size();
    sdk::TransactionGuard put(to);
    if (put->putBatch(batch) && put.commit()) {
      (void)take.commit();
      if (toWaker) toWaker->notify();
      moved += static_cast<int64_t>(n);
      failedRounds = 0;
    } else {
      ++failedRounds;
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min<int64_t>(100, 5 * failedRounds)));
    }
  }
  return moved;
}

}  // namespace

std::unique_ptr<Agent> Agent::reload(std::unique_ptr<Agent> current, const AgentConfig& cfg,
                                     Diagnostics& diags) {
  auto log = current->log_;
  // 1. The new config must build on its own. Nothing of the running agent is touched until then.
  {
    Agent dry(current->registry_, current->logs_, current->options_);
    if (!dry.build(cfg, diags)) {
      log->error("configuration reload refused ({} error(s)); the running pipeline is unchanged",
                 diags.errorCount());
      return current;
    }
  }
  // 2. Take over everything unchanged, still running.
  auto next = std::make_unique<Agent>(current->registry_, current->logs_, current->options_);
  Diagnostics buildDiags;
  if (!next->build(cfg, buildDiags, current.get())) {
    // Should not happen after a clean dry build (configure() of a plugin that is not
    // deterministic, say): nothing was stopped yet, so hand back what was taken over.
    diags.append(buildDiags);
    return rollBack(std::move(current), std::move(next), "building the new components failed",
                    diags);
  }
  // 3. Stop what is replaced or removed. Sinks stop without draining: their events stay in the
  // channel (a kept one, or one whose events move below).
  current->stopSources();
  current->stopSinks(std::chrono::milliseconds(0));
  // 4. Start the new channels and sinks, move events out of replaced channels, then sources.
  // A durable channel (file, spillable overflow) locks its directories, so its replacement on
  // the same directories cannot start beside it: then the old one stops first and the
  // replacement finds the stored events in those directories when it starts.
  next->running_ = true;
  for (auto& c : next->channels_) {
    if (c.channel->getLifecycleState() == sdk::LifecycleState::START) continue;
    if (c.channel->hostStart()) continue;
    for (auto& old : current->channels_) {
      if (old.name != c.name || old.channel->getLifecycleState() != sdk::LifecycleState::START)
        continue;
      log->warn("reload: the new channel '{}' cannot start while the old one runs; stopping the "
                "old one first so the new one takes over its stored events",
                c.name);
      (void)old.channel->hostStop();
    }
  }
  // A component of the new config that cannot start (a directory that cannot be created, a
  // port in use) makes the edit as invalid as a bad key: the old pipeline comes back.
  if (sdk::Result r = next->startChannelsAndSinks(); !r)
    return rollBack(std::move(current), std::move(next), r.error(), diags);
  for (auto& old : current->channels_) {
    Agent::ChannelEntry* successor = next->channel(old.name);
    if (!successor || old.channel->getLifecycleState() != sdk::LifecycleState::START) continue;
    const int64_t moved =
        moveEvents(*old.channel, *successor->channel, successor->waker.get(),
                   std::chrono::steady_clock::now() + std::chrono::seconds(30));
    log->info("reload: moved {} event(s) from the old channel '{}' into its replacement", moved,
              old.name);
    if (int64_t left = old.channel->channelCounter().getChannelSize(); left > 0)
      log->error("reload: {} event(s) could not be moved out of the old channel '{}' within 30 s",
                 left, old.name);
  }
  if (sdk::Result r = next->startSources(); !r)
    return rollBack(std::move(current), std::move(next), r.error(), diags);
  current->stopChannels();
  current->running_ = false;
  std::string kept;
  for (const auto& a : next->adopted_) kept += (kept.empty() ? "" : ", ") + a;
  log->info("configuration reloaded; kept running: {}", kept.empty() ? "nothing" : kept);
  return next;
}

std::unique_ptr<Agent> Agent::rollBack(std::unique_ptr<Agent> current, std::unique_ptr<Agent> next,
                                       const std::string& why, Diagnostics& diags) {
  auto log = current->log_;
  diags.error("configuration reload failed: " + why);
  log->error("configuration reload failed: {}; going back to the previous configuration", why);
  // What `next` took over goes back, still running.
  auto giveBack = [&](auto& from, auto& to, const char* kind) {
    for (auto it = from.begin(); it != from.end();) {
      if (next->isAdopted(kind, it->name)) {
        to.push_back(std::move(*it));
        it = from.erase(it);
      } else {
        ++it;
      }
    }
  };
  giveBack(next->sources_, current->sources_, "source");
  giveBack(next->runners_, current->runners_, "runner");
  giveBack(next->sinks_, current->sinks_, "sink");
  giveBack(next->channels_, current->channels_, "channel");
  next->adopted_.clear();
  // What is left in `next` is new. Its sinks drain what its sources (or the event move) put
  // into its channels; what they could not deliver goes back into the old channel of that name.
  next->stopSources();
  for (auto& r : next->runners_) {
    if (!r.started) continue;
    // Drain only runners whose channels are all new: one on a channel that goes back would
    // keep taking what the old sources put there.
    bool newChannels = true;
    for (const auto& name : r.sinks) {
      SinkEntry* s = findEntry(next->sinks_, name);
      if (!s) s = findEntry(current->sinks_, name);
      if (!s || !next->channel(s->channel)) newChannels = false;
    }
    (void)r.runner->stop(newChannels ? next->options_.drainTimeout : std::chrono::milliseconds(0));
    r.started = false;
  }
  next->stopSinks(std::chrono::milliseconds(0));
  for (auto& c : next->channels_) {
    if (c.channel->getLifecycleState() != sdk::LifecycleState::START) continue;
    ChannelEntry* old = current->channel(c.name);
    if (old && old->channel->getLifecycleState() == sdk::LifecycleState::START) {
      const int64_t moved = moveEvents(*c.channel, *old->channel, old->waker.get(),
                                       std::chrono::steady_clock::now() + std::chrono::seconds(30));
      if (moved > 0) log->info("reload: moved {} event(s) back into channel '{}'", moved, c.name);
    }
    if (int64_t left = c.channel->channelCounter().getChannelSize(); left > 0 && !old)
      log->error("reload: {} event(s) are left in the new channel '{}', which is given up",
                 left, c.name);
  }
  next->stopChannels();
  next->running_ = false;
  // A durable channel stopped for its replacement replays its directories here.
  sdk::Result r = current->startChannelsAndSinks();
  if (r) r = current->startSources();
  if (!r) {
    diags.error("the previous configuration could not be restarted either: " + r.error());
    log->error("reload: the previous configuration could not be restarted either: {}", r.error());
  } else {
    log->warn("reload: the previous configuration runs again");
  }
  return current;
}

std::vector<CounterView> Agent::counters() const {
  std::vector<CounterView> out;
  for (const auto& s : sources_)
    if (auto* g = s.source->counters()) out.push_back({"SOURCE", s.name, s.type, g});
  for (const auto& c : channels_)
    if (auto* g = c.channel->counters()) out.push_back({"CHANNEL", c.name, c.type, g});
  for (const auto& s : sinks_)
    if (auto* g = s.sink->counters()) out.push_back({"SINK", s.name, s.type, g});
  return out;
}

std::vector<ComponentView> Agent::components() const {
  std::vector<ComponentView> out;
  for (const auto& s : sources_)
    out.push_back({"SOURCE", s.name, s.type, s.channels, s.source.get(), s.source->counters(),
                   s.processor.get()});
  for (const auto& c : channels_)
    out.push_back({"CHANNEL", c.name, c.type, {}, c.channel.get(), c.channel->counters(), nullptr});
  for (const auto& s : sinks_)
    out.push_back(
        {"SINK", s.name, s.type, {s.channel}, s.sink.get(), s.sink->counters(), nullptr});
  return out;
}

std::vector<SinkRunnerView> Agent::sinkRunners() const {
  std::vector<SinkRunnerView> out;
  for (const auto& r : runners_) {
    bool group = r.name.rfind("group:", 0) == 0;
    std::string name = r.runner->name();
    std::string processor = "default";
    if (group)
      for (const auto& g : config_.sinkgroups)
        if (g.name == name) processor = g.processor.type;
    out.push_back({name, group, processor, r.sinks, r.runner.get(), r.started});
  }
  return out;
}

sdk::CounterGroup* Agent::counters(const std::string& kind, const std::string& name) const {
  for (const auto& v : counters())
    if (v.kind == kind && v.name == name) return v.group;
  return nullptr;
}

}  // namespace sluice::core
