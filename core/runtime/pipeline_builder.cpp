#include "core/runtime/pipeline_builder.hpp"

#include <algorithm>
#include <set>

#include "core/plugin/schema_check.hpp"
#include "core/runtime/sink_processor.hpp"

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

std::string groupSignature(const SinkGroupConfig& g) {
  std::string sig = "group\n" + configSignature(g.processor);
  for (const auto& n : g.sinks) sig += "\nsink=" + n;
  return sig;
}

template <class Entry>
bool PipelineBuilder::shareKept(std::vector<std::shared_ptr<Entry>> Pipeline::*list,
                                std::vector<ReloadPlan::Item> ReloadPlan::*items,
                                std::string_view name) {
  if (!plan_ || !ReloadPlan::keeps(plan_->*items, name)) return false;
  for (const auto& e : running_->*list)
    if (e->name == name) (out_->*list).push_back(e);
  return true;
}

bool PipelineBuilder::settle(const std::string& what, Diagnostics& local,
                             Diagnostics& diags) const {
  if (!local.hasErrors()) {
    diags.append(local);
    return true;
  }
  if (!options_.lenient) {
    diags.append(local);
    return false;
  }
  for (const auto& d : local.items())
    diags.warn(
        (d.severity == Diagnostic::Severity::Error ? "dropped " + what + " (--lenient): " : "") +
        d.message);
  return false;
}

bool PipelineBuilder::build(const AgentConfig& cfg, Diagnostics& diags, Pipeline& out,
                            const Pipeline* running, const ReloadPlan* plan) {
  cfg_ = &cfg;
  out_ = &out;
  running_ = running;
  plan_ = running ? plan : nullptr;
  out.config = cfg;
  buildChannels(diags);
  buildSinks(diags);
  buildSources(diags);
  buildSinkRunners(diags);
  checkBatchSizes(diags);
  if (!diags.hasErrors() && out.sources.empty() && out.sinks.empty())
    diags.warn("agent '" + cfg.agent + "' has no sources and no sinks: nothing will flow");
  return !diags.hasErrors();
}

void PipelineBuilder::buildChannels(Diagnostics& diags) {
  for (const auto& c : cfg_->channels) {
    if (shareKept(&Pipeline::channels, &ReloadPlan::channels, c.name)) continue;
    step("channel " + c.name);
    Diagnostics local;
    auto e = std::make_shared<ChannelEntry>();
    e->name = c.name;
    e->signature = configSignature(c);
    e->channel = factory_.make<sdk::Channel>(specOf(c), {}, e->loggers, local, &e->type);
    if (settle("channel '" + c.name + "'", local, diags)) out_->channels.push_back(std::move(e));
  }
}

void PipelineBuilder::buildSinks(Diagnostics& diags) {
  for (const auto& s : cfg_->sinks) {
    if (shareKept(&Pipeline::sinks, &ReloadPlan::sinks, s.name)) continue;
    step("sink " + s.name);
    Diagnostics local;
    const ComponentSpec spec = specOf(s);
    ChannelEntry* ch = out_->channel(s.channel);
    if (!ch) {
      // buildAgentConfig reports dangling names; here the channel may have been dropped.
      if (cfg_->findChannel(s.channel))
        local.error(s.context.path() + ".channel: channel '" + s.channel + "' could not be built");
      (void)factory_.check<sdk::Sink>(spec, local);  // so that one run reports every problem
      settle("sink '" + s.name + "'", local, diags);
      continue;
    }
    auto e = std::make_shared<SinkEntry>();
    e->name = s.name;
    e->channel = s.channel;
    e->signature = configSignature(s);
    e->sink =
        factory_.make<sdk::Sink>(spec, {.channel = ch->channel.get()}, e->loggers, local, &e->type);
    if (settle("sink '" + s.name + "'", local, diags)) out_->sinks.push_back(std::move(e));
  }
}

void PipelineBuilder::buildSources(Diagnostics& diags) {
  for (const auto& s : cfg_->sources) {
    if (shareKept(&Pipeline::sources, &ReloadPlan::sources, s.name)) continue;
    step("source " + s.name);
    Diagnostics local;
    if (auto e = buildSource(s, local); settle("source '" + s.name + "'", local, diags))
      out_->sources.push_back(std::move(e));
  }
}

std::shared_ptr<SourceEntry> PipelineBuilder::buildSource(const SourceConfig& s,
                                                          Diagnostics& local) {
  const std::string path = s.context.path();
  const ComponentSpec spec = specOf(s);
  std::vector<ChannelProcessorImpl::Target> targets;
  std::vector<sdk::Channel*> channels;
  for (const auto& name : s.channels) {
    if (ChannelEntry* ch = out_->channel(name)) {
      targets.push_back({ch->channel.get(), &ch->waker});
      channels.push_back(ch->channel.get());
    } else if (cfg_->findChannel(name)) {
      local.error(path + ".channels: channel '" + name + "' could not be built");
    }
  }
  if (channels.empty() && !local.hasErrors()) local.error(path + ".channels: no usable channel");
  if (local.hasErrors()) {
    (void)factory_.check<sdk::Source>(spec, local);  // so that one run reports every problem
    return nullptr;
  }

  auto e = std::make_shared<SourceEntry>();
  e->name = s.name;
  e->signature = configSignature(s);
  e->channels = s.channels;
  std::optional<CheckedComponent> checked = factory_.check<sdk::Source>(spec, local);
  e->type = checked ? checked->component->info->type : s.type;
  // The runner's back-off keys apply to every pollable source; read and range-checked here only.
  try {
    e->backoff = PollableSourceRunner::backoffFrom(s.context);
  } catch (const sdk::ConfigError& err) {
    local.error(err.what());
  }

  // The selector is made only for a source without problems so far; its keys are checked anyway.
  PluginPtr<sdk::ChannelSelector> selector(nullptr, {});
  const ComponentSpec selectorSpec = specOf(s.selector);
  if (local.hasErrors())
    (void)factory_.check<sdk::ChannelSelector>(selectorSpec, local);
  else
    selector = factory_.make<sdk::ChannelSelector>(selectorSpec, {.channels = &channels},
                                                   e->loggers, local);

  // Interceptors, in chain order.
  std::vector<std::unique_ptr<sdk::Interceptor>> interceptors;
  for (const auto& ic : s.interceptors) {
    ComponentSpec icSpec = specOf(ic);
    icSpec.loggerInstance = s.name + "." + ic.name;
    if (auto interceptor = factory_.makeInterceptor(icSpec, e->loggers, local))
      interceptors.push_back(std::move(interceptor));
  }

  if (checked && !local.hasErrors()) {
    e->processor = std::make_unique<ChannelProcessorImpl>(
        path, std::move(selector), std::move(interceptors), targets,
        logs_.core("source:" + e->type + ":" + s.name));
    e->source = factory_.create<sdk::Source>(spec, std::move(*checked),
                                             {.processor = e->processor.get()}, e->loggers, local);
  }
  return e;
}

void PipelineBuilder::buildSinkRunners(Diagnostics& diags) {
  std::set<std::string> grouped;
  for (const auto& g : cfg_->sinkgroups) {
    grouped.insert(g.sinks.begin(), g.sinks.end());
    if (shareKept(&Pipeline::runners, &ReloadPlan::runners, groupRunnerName(g.name))) continue;
    step("sink group " + g.name);
    Diagnostics local;
    buildGroupRunner(g, local);
    settle("sink group '" + g.name + "'", local, diags);
  }
  for (const auto& s : out_->sinks) {
    if (grouped.count(s->name)) continue;
    const std::string name = loneRunnerName(s->name);
    if (shareKept(&Pipeline::runners, &ReloadPlan::runners, name)) continue;
    Diagnostics local;
    auto proc = makeSinkProcessor("default", sdk::Context(cfg_->agent + ".sinks." + s->name),
                                  {s->sink.get()}, logs_.core("sinkrunner:" + s->name), local);
    diags.append(local);
    if (!proc) continue;
    auto r = std::make_shared<RunnerEntry>();
    r->name = name;
    r->signature = std::string(kLoneRunner);
    r->sinks = {s->name};
    r->runner = std::make_unique<SinkRunner>(
        s->name, std::move(proc),
        std::vector<std::pair<sdk::Channel*, ChannelWaker*>>{
            {s->sink->getChannel(), &out_->channel(s->channel)->waker}},
        logs_.core("sinkrunner:" + s->name), options_.sinkRunner);
    out_->runners.push_back(std::move(r));
  }
}

bool PipelineBuilder::buildGroupRunner(const SinkGroupConfig& g, Diagnostics& local) {
  std::vector<sdk::Sink*> members;
  std::vector<std::pair<sdk::Channel*, ChannelWaker*>> channels;  // each once, in member order
  for (const auto& n : g.sinks) {
    const SinkEntry* s = out_->sink(n);
    if (!s) continue;
    members.push_back(s->sink.get());
    ChannelEntry* ch = out_->channel(s->channel);
    if (std::none_of(channels.begin(), channels.end(),
                     [&](const auto& c) { return c.first == ch->channel.get(); }))
      channels.emplace_back(ch->channel.get(), &ch->waker);
  }
  if (members.empty()) {
    local.error(g.processor.context.path() + ": no usable sink in group '" + g.name + "'");
    return false;
  }
  auto r = std::make_shared<RunnerEntry>();
  // A load_balance group's custom selector: a plugin of kind SinkSelector.
  const sdk::Location noWhere;
  const sdk::Location* where = &noWhere;
  for (const auto& [k, p] : g.processor.context.parameters())
    if (k == "selector") where = &p.where;
  auto makeSelector = [&](const std::string& type, const sdk::Context& ctx,
                          const std::vector<sdk::Sink*>& sinks, Diagnostics& d) {
    ComponentSpec spec{ctx, type, *where, g.name};
    spec.typeKey = g.processor.context.path() + ".selector";
    spec.typeHint = "; round_robin and random are built in";
    return factory_.make<sdk::SinkSelector>(spec, {.sinks = &sinks}, r->loggers, d);
  };
  auto proc = makeSinkProcessor(g.processor.type, g.processor.context, members,
                                logs_.core("sinkgroup:" + g.processor.type + ":" + g.name), local,
                                makeSelector);
  if (!proc) return false;
  r->name = groupRunnerName(g.name);
  r->signature = groupSignature(g);
  r->sinks = g.sinks;
  r->runner = std::make_unique<SinkRunner>(g.name, std::move(proc), std::move(channels),
                                           logs_.core("sinkrunner:" + g.name), options_.sinkRunner);
  out_->runners.push_back(std::move(r));
  return true;
}

void PipelineBuilder::checkBatchSizes(Diagnostics& diags) {
  const AgentConfig& cfg = *cfg_;
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
          std::string where =
              it == comp.context.parameters().end() ? " (default)" : loc(it->second.where);
          diags.error(comp.context.path() + "." + k.name + ": " + std::to_string(batch) +
                      " must be <= transactionCapacity (" + std::to_string(*cap) +
                      ") of channel '" + ch + "' (" + cfg.agent + ".channels." + ch + ")" + where +
                      "; lower it or raise the channel's transactionCapacity");
        }
      }
    }
  };
  for (const auto& s : cfg.sources) check(s, sdk::ComponentKind::Source, s.channels);
  for (const auto& s : cfg.sinks) check(s, sdk::ComponentKind::Sink, {s.channel});
}

}  // namespace sluice::core
