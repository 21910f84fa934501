// Turns one agent's flattened keys into an AgentConfig, checking the structure the way Flume's
// FlumeConfiguration does, but reporting every problem (with file:line) instead of silently
// dropping the offending component as Flume does.

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config/model.hpp"
#include "core/config/suggest.hpp"
#include "plugins/common/text_util.hpp"

namespace sluice::core {

namespace {

const std::vector<std::string> kSections = {"sources", "channels", "sinks", "sinkgroups"};

using plugins::text::lower;
using plugins::text::trimmedSpace;

std::string joined(const std::vector<std::string>& names, std::string_view sep = ", ") {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += sep;
    out += n;
  }
  return out;
}

bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// A hint is noise when the message lists every candidate anyway; it helps in a long list.
std::string hintAmong(std::string_view word, const std::vector<std::string>& listed) {
  return listed.size() > 5 ? didYouMean(word, listed) : std::string();
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// Where a component "is" when the problem is not one particular key: its earliest key, as that is
// where a reader of the file finds it.
sdk::Location firstWhere(const sdk::Context& ctx) {
  const sdk::Location* best = nullptr;
  for (const auto& [_, p] : ctx.parameters()) {
    if (!best || (p.where.line > 0 && (best->line == 0 || p.where.line < best->line)))
      best = &p.where;
  }
  return best ? *best : sdk::Location{};
}

sdk::Location whereOf(const sdk::Context& ctx, std::string_view key) {
  const auto it = ctx.parameters().find(std::string(key));
  return it == ctx.parameters().end() ? sdk::Location{} : it->second.where;
}

// The first-level keys of a context ("type", "port", "selector"), for spelling hints.
std::vector<std::string> topLevelKeys(const sdk::Context& ctx) {
  std::vector<std::string> out;
  for (const auto& [k, _] : ctx.parameters()) {
    std::string first = k.substr(0, k.find('.'));
    if (out.empty() || out.back() != first) out.push_back(first);
  }
  return out;
}

// Splits a list value the way Context::getNames does, dropping repeats (Flume keeps lists in sets).
std::vector<std::string> uniqueNames(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names)
    if (!contains(out, n)) out.push_back(n);
  return out;
}

class Builder {
 public:
  Builder(const RawConfig& raw, const std::string& agent, Diagnostics& diags, bool strict)
      : raw_(raw), agent_(agent), diags_(diags), strict_(strict) {}

  AgentConfig build() {
    AgentConfig out;
    out.agent = agent_;
    out.file = raw_.file;
    out.flumeProperties = raw_.flumeProperties;

    std::map<std::string, sdk::Parameter> keys;
    const std::string prefix = agent_ + ".";
    for (auto it = raw_.entries.lower_bound(prefix);
         it != raw_.entries.end() && startsWith(it->first, prefix); ++it)
      keys.emplace(it->first.substr(prefix.size()), it->second);
    if (agent_.empty() || keys.empty()) {
      reportMissingAgent();
      return out;
    }
    agentCtx_ = sdk::Context(agent_, std::move(keys));
    reportUnknownSections();

    channelNames_ = resolveList(agentCtx_, "channels", "channel");
    sinkNames_ = resolveList(agentCtx_, "sinks", "sink");
    const std::vector<std::string> sourceNames = resolveList(agentCtx_, "sources", "source");
    const std::vector<std::string> groupNames = resolveList(agentCtx_, "sinkgroups", "sink group");

    if (channelNames_.empty())
      diags_.error(agent_ + ".channels: agent " + agent_ +
                   " defines no channels; it needs at least one" +
                   atLocation(listWhere(agentCtx_, "channels")));

    for (const auto& name : channelNames_)
      if (auto c = buildComponent(agentCtx_, "channels", name))
        out.channels.push_back(std::move(*c));
    for (const auto& name : sourceNames)
      if (auto s = buildSource(name)) out.sources.push_back(std::move(*s));
    for (const auto& name : sinkNames_)
      if (auto s = buildSink(name)) out.sinks.push_back(std::move(*s));
    for (const auto& name : groupNames)
      if (auto g = buildSinkGroup(name)) out.sinkgroups.push_back(std::move(*g));

    for (const auto& c : out.channels)
      if (!usedChannels_.count(c.name))
        diags_.warn(c.context.path() + ": channel is not used by any source or sink" +
                    atLocation(firstWhere(c.context)));
    return out;
  }

 private:
  void reportMissingAgent() {
    const std::vector<std::string> agents = agentNames(raw_);
    std::string msg = "agent '" + agent_ + "' not found in " + raw_.file;
    if (agents.empty()) {
      msg += " (it defines no agents; keys look like <agent>.sources.<name>.type)";
    } else {
      msg += " (agents found: " + joined(agents) + ")" + hintAmong(agent_, agents);
    }
    diags_.error(std::move(msg));
  }

  // "a1.sourcse.r1.type": Flume rejects these one by one as invalid properties and carries on,
  // so in a .properties config they are warnings; one per section, not one per key. In TOML
  // (sluice's own, strict format) and under --strict they are errors, like unknown component
  // keys. "a1.configfilters" was applied when the file was loaded (substitution.hpp).
  void reportUnknownSections() {
    std::map<std::string, std::vector<const std::pair<const std::string, sdk::Parameter>*>>
        bySection;
    for (const auto& kv : agentCtx_.parameters()) {
      std::string section = kv.first.substr(0, kv.first.find('.'));
      if (!isComponentSection(section) && section != "configfilters")
        bySection[section].push_back(&kv);
    }
    for (const auto& [section, entries] : bySection) {
      const auto* first = entries.front();
      for (const auto* e : entries)
        if (e->second.where.line > 0 && e->second.where.line < first->second.where.line) first = e;
      const bool error = strict_ || !raw_.flumeProperties;
      std::string msg = agent_ + "." + first->first + ": ";
      const std::string hint = didYouMean(section, kSections);
      if (!hint.empty())
        msg += "unknown section '" + section + "' under agent " + agent_ +
               (error ? "" : " is ignored") + hint;
      else
        msg += std::string(error ? "" : "ignored: ") + "agent " + agent_ +
               " has only the sections " + joined(kSections);
      if (entries.size() > 1)
        msg += " (" + std::to_string(entries.size() - 1) + " more key" +
               (entries.size() > 2 ? "s" : "") + " under " + agent_ + "." + section + ")";
      if (error)
        diags_.error(msg + atLocation(first->second.where));
      else
        diags_.warn(msg + "; Flume ignores it too (--strict makes this an error)" +
                    atLocation(first->second.where));
    }
  }

  static sdk::Location listWhere(const sdk::Context& scope, std::string_view listKey) {
    sdk::Location w = whereOf(scope, listKey);
    if (w.file.empty())
      w.file = scope.parameters().empty() ? std::string() : firstWhere(scope).file;
    return w;
  }

  // The names listed under `listKey` of `scope` ("sources" of the agent, "interceptors" of a
  // source), from the explicit list when present, else from the keys. Reports listed names with
  // no settings (error) and configured names that are not listed (warning). The result still
  // holds names with no settings, so that references to them are not reported a second time.
  std::vector<std::string> resolveList(const sdk::Context& scope, const std::string& listKey,
                                       std::string_view what) {
    const std::string listPath = scope.path() + "." + listKey;
    const std::string withDot = listKey + ".";
    std::vector<std::string> configured;  // names with at least one "listKey.name.key"
    for (auto it = scope.parameters().lower_bound(withDot);
         it != scope.parameters().end() && startsWith(it->first, withDot); ++it) {
      const std::string rest = it->first.substr(withDot.size());
      const std::size_t dot = rest.find('.');
      if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size()) {
        diags_.warn(listPath + "." + rest + ": ignored: settings of a " + std::string(what) +
                    " are written " + listPath + ".<name>.<key>" + atLocation(it->second.where));
        continue;
      }
      std::string name = rest.substr(0, dot);
      if (configured.empty() || configured.back() != name) configured.push_back(std::move(name));
    }

    if (!scope.containsKey(listKey)) return configured;

    const sdk::Location listAt = whereOf(scope, listKey);
    std::vector<std::string> listed;
    for (const auto& n : scope.getNames(listKey)) {
      if (contains(listed, n)) {
        diags_.warn(listPath + ": '" + n + "' is listed twice" + atLocation(listAt));
        continue;
      }
      listed.push_back(n);
    }
    // A listed name without settings is often a typo of a configured name nobody listed.
    std::vector<std::string> unlisted;
    for (const auto& n : configured)
      if (!contains(listed, n)) unlisted.push_back(n);
    for (const auto& n : listed) {
      if (contains(configured, n)) continue;
      diags_.error(listPath + "." + n + ": listed in " + listPath + " but has no configuration" +
                   didYouMean(n, unlisted) + atLocation(listAt));
    }
    for (const auto& n : unlisted) {
      const sdk::Context ctx = scope.getSubProperties(withDot + n);
      diags_.warn(ctx.path() + ": has settings but is not listed in " + listPath + " (" +
                  (listed.empty() ? std::string("which is empty") : "= " + joined(listed, " ")) +
                  "), so it is ignored" + atLocation(firstWhere(ctx)));
    }
    return listed;
  }

  // Common part of every component: its context and its required `type`. `section` is the key
  // prefix under `scope` ("channels", "interceptors"...).
  std::optional<ComponentConfig> buildComponent(const sdk::Context& scope,
                                                const std::string& section,
                                                const std::string& name) {
    ComponentConfig c;
    c.name = name;
    c.context = scope.getSubProperties(section + "." + name);
    if (c.context.parameters().empty()) return std::nullopt;  // reported by resolveList
    const std::optional<std::string> type = c.context.getString("type");
    if (!type) {
      diags_.error(c.context.path() + ": missing required key 'type'" +
                   misspelled(c.context, "type") + atLocation(firstWhere(c.context)));
      return std::nullopt;
    }
    c.type = trimmedSpace(*type);
    c.typeWhere = whereOf(c.context, "type");
    if (c.type.empty()) {
      diags_.error(c.context.path() + ".type: must name a component type, but is empty" +
                   atLocation(c.typeWhere));
      return std::nullopt;
    }
    return c;
  }

  // "; is 'tpye' a misspelling of it?" when the component has a key close to the missing one.
  static std::string misspelled(const sdk::Context& ctx, const std::string& key) {
    std::vector<std::string> near;
    for (const auto& k : topLevelKeys(ctx))
      if (!closestMatches(k, {key}, 1).empty()) near.push_back(k);
    if (near.empty()) return {};
    return "; is '" + near.front() + "' a misspelling of it?";
  }

  // Checks that each of `names` (the value of `key` in `ctx`) is a channel of this agent.
  bool checkChannelsDefined(const sdk::Context& ctx, std::string_view key,
                            const std::vector<std::string>& names) {
    bool ok = true;
    for (const auto& ch : names) {
      usedChannels_.insert(ch);
      if (contains(channelNames_, ch)) continue;
      std::string msg =
          ctx.path() + "." + std::string(key) + ": channel '" + ch + "' is not defined (agent " +
          agent_ +
          (channelNames_.empty() ? " defines no channels" : " defines: " + joined(channelNames_)) +
          ")" + hintAmong(ch, channelNames_);
      diags_.error(msg + atLocation(whereOf(ctx, key)));
      ok = false;
    }
    return ok;
  }

  std::optional<SourceConfig> buildSource(const std::string& name) {
    std::optional<ComponentConfig> base = buildComponent(agentCtx_, "sources", name);
    const sdk::Context ctx = agentCtx_.getSubProperties("sources." + name);
    bool ok = base.has_value();

    std::vector<std::string> channels;
    if (!ctx.parameters().empty()) {
      if (!ctx.containsKey("channels")) {
        std::string hint = ctx.containsKey("channel")
                               ? "; found 'channel', but a source names its channels in "
                                 "'channels'"
                               : misspelled(ctx, "channels");
        diags_.error(ctx.path() + ": missing required key 'channels'" + hint +
                     atLocation(firstWhere(ctx)));
        ok = false;
      } else {
        channels = uniqueNames(ctx.getNames("channels"));
        if (channels.empty()) {
          diags_.error(ctx.path() + ".channels: is empty; a source needs at least one channel" +
                       atLocation(whereOf(ctx, "channels")));
          ok = false;
        }
        ok = checkChannelsDefined(ctx, "channels", channels) && ok;
      }
    }
    if (ctx.parameters().empty()) return std::nullopt;  // reported by resolveList

    // Carry on without a type: the selector and interceptors may have problems of their own, and
    // reporting them now saves the user a round trip.
    SourceConfig s;
    if (base) static_cast<ComponentConfig&>(s) = std::move(*base);
    s.channels = channels;

    s.selector.name = name;
    s.selector.context = ctx.getSubProperties("selector");
    s.selector.type = "replicating";
    s.selector.typeWhere = s.typeWhere.file.empty() ? firstWhere(ctx) : s.typeWhere;
    if (const auto type = s.selector.context.getString("type")) {
      s.selector.typeWhere = whereOf(s.selector.context, "type");
      s.selector.type = trimmedSpace(*type);
      if (s.selector.type.empty()) {
        diags_.error(s.selector.context.path() + ".type: must name a selector type, but is empty" +
                     atLocation(s.selector.typeWhere));
        ok = false;
      }
    }
    ok = checkSelectorChannels(s.selector, channels) && ok;

    for (const auto& i : resolveList(ctx, "interceptors", "interceptor")) {
      if (auto ic = buildComponent(ctx, "interceptors", i))
        s.interceptors.push_back(std::move(*ic));
    }
    if (!ctx.containsKey("interceptors") && !s.interceptors.empty()) {
      // Flume ignores interceptors without a list; we run them, but their order then comes from
      // the names, which may not be what the author meant.
      if (s.interceptors.size() > 1)
        diags_.warn(ctx.path() +
                    ".interceptors: no list given, so the interceptors run in name "
                    "order: " +
                    joined(namesOf(s.interceptors), " ") + "; write " + ctx.path() +
                    ".interceptors = <names> to fix the order" +
                    atLocation(firstWhere(s.interceptors.front().context)));
    }
    if (!ok) return std::nullopt;
    return s;
  }

  static std::vector<std::string> namesOf(const std::vector<ComponentConfig>& cs) {
    std::vector<std::string> out;
    out.reserve(cs.size());
    for (const auto& c : cs) out.push_back(c.name);
    return out;
  }

  // The built-in selectors route to channels by name; a name that is not one of the source's
  // channels is a typo that Flume only reports when the agent starts (multiplexing) or never
  // (replicating's optional list).
  bool checkSelectorChannels(const ComponentConfig& sel, const std::vector<std::string>& channels) {
    const std::string type = lower(sel.type);
    // Without a usable channel list every name would look wrong; that error is reported already.
    if (channels.empty() || (type != "replicating" && type != "multiplexing")) return true;
    bool ok = true;
    for (const auto& [key, p] : sel.context.parameters()) {
      const bool names =
          key == "optional" ||
          (type == "multiplexing" &&
           (key == "default" || startsWith(key, "mapping.") || startsWith(key, "optional.")));
      if (!names) continue;
      for (const auto& ch : sdk::Context("", {{"v", p}}).getNames("v")) {
        usedChannels_.insert(ch);
        if (contains(channels, ch)) continue;
        diags_.error(sel.context.path() + "." + key + ": channel '" + ch +
                     "' is not one of the source's channels (" + joined(channels) + ")" +
                     hintAmong(ch, channels) + atLocation(p.where));
        ok = false;
      }
    }
    return ok;
  }

  std::optional<SinkConfig> buildSink(const std::string& name) {
    std::optional<ComponentConfig> base = buildComponent(agentCtx_, "sinks", name);
    const sdk::Context ctx = agentCtx_.getSubProperties("sinks." + name);
    bool ok = base.has_value();
    std::string channel;
    if (!ctx.parameters().empty()) {
      if (!ctx.containsKey("channel")) {
        std::string hint = ctx.containsKey("channels")
                               ? "; found 'channels', but a sink reads exactly one channel, "
                                 "named in 'channel'"
                               : misspelled(ctx, "channel");
        diags_.error(ctx.path() + ": missing required key 'channel'" + hint +
                     atLocation(firstWhere(ctx)));
        ok = false;
      } else {
        const std::vector<std::string> names = ctx.getNames("channel");
        if (names.empty()) {
          diags_.error(ctx.path() + ".channel: is empty; a sink reads exactly one channel" +
                       atLocation(whereOf(ctx, "channel")));
          ok = false;
        } else if (names.size() > 1) {
          for (const auto& n : names) usedChannels_.insert(n);
          diags_.error(ctx.path() + ".channel: a sink reads exactly one channel, got " +
                       std::to_string(names.size()) + " (" + joined(names) +
                       "); use one sink per channel" + atLocation(whereOf(ctx, "channel")));
          ok = false;
        } else {
          channel = names.front();
          ok = checkChannelsDefined(ctx, "channel", names) && ok;
        }
      }
    }
    if (!ok) return std::nullopt;
    SinkConfig s;
    static_cast<ComponentConfig&>(s) = std::move(*base);
    s.channel = channel;
    return s;
  }

  std::optional<SinkGroupConfig> buildSinkGroup(const std::string& name) {
    const sdk::Context ctx = agentCtx_.getSubProperties("sinkgroups." + name);
    if (ctx.parameters().empty()) return std::nullopt;  // reported by resolveList
    bool ok = true;
    SinkGroupConfig g;
    g.name = name;
    if (!ctx.containsKey("sinks")) {
      diags_.error(ctx.path() + ": missing required key 'sinks'" + misspelled(ctx, "sinks") +
                   atLocation(firstWhere(ctx)));
      ok = false;
    } else {
      const sdk::Location sinksAt = whereOf(ctx, "sinks");
      for (const auto& k : ctx.getNames("sinks")) {
        if (contains(g.sinks, k)) {
          diags_.warn(ctx.path() + ".sinks: sink '" + k + "' is listed twice" +
                      atLocation(sinksAt));
          continue;
        }
        g.sinks.push_back(k);
        if (!contains(sinkNames_, k)) {
          diags_.error(
              ctx.path() + ".sinks: sink '" + k + "' is not defined (agent " + agent_ +
              (sinkNames_.empty() ? " defines no sinks" : " defines: " + joined(sinkNames_)) + ")" +
              hintAmong(k, sinkNames_) + atLocation(sinksAt));
          ok = false;
          continue;
        }
        const auto [it, inserted] = sinkGroupOf_.try_emplace(k, name, sinksAt);
        if (!inserted) {
          diags_.error(ctx.path() + ".sinks: sink '" + k + "' is already in sink group '" +
                       it->second.first + "'" + atLocation(it->second.second) +
                       "; a sink belongs to at most one group" + atLocation(sinksAt));
          ok = false;
        }
      }
      if (g.sinks.empty()) {
        diags_.error(ctx.path() + ".sinks: is empty; a sink group needs at least one sink" +
                     atLocation(sinksAt));
        ok = false;
      }
    }
    g.processor.name = name;
    g.processor.context = ctx.getSubProperties("processor");
    g.processor.type = "default";
    g.processor.typeWhere = firstWhere(ctx);
    if (const auto type = g.processor.context.getString("type")) {
      g.processor.typeWhere = whereOf(g.processor.context, "type");
      g.processor.type = trimmedSpace(*type);
      if (g.processor.type.empty()) {
        diags_.error(g.processor.context.path() +
                     ".type: must name a sink processor type, but is empty" +
                     atLocation(g.processor.typeWhere));
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return g;
  }

  const RawConfig& raw_;
  const std::string& agent_;
  Diagnostics& diags_;
  sdk::Context agentCtx_;
  std::vector<std::string> channelNames_;
  std::vector<std::string> sinkNames_;
  const bool strict_;  // --strict: an unknown section is an error in .properties too
  std::set<std::string> usedChannels_;
  std::map<std::string, std::pair<std::string, sdk::Location>> sinkGroupOf_;  // sink -> group
};

}  // namespace

AgentConfig buildAgentConfig(const RawConfig& raw, const std::string& agent, Diagnostics& diags,
                             bool strict) {
  return Builder(raw, agent, diags, strict).build();
}

}  // namespace sluice::core
