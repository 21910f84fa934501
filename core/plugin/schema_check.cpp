#include "core/plugin/schema_check.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "core/config/suggest.hpp"
#include "core/log/secrets.hpp"
#include "plugins/common/text_util.hpp"

namespace sluice::core {
namespace {

using plugins::text::lower;

std::string fmtNumber(double d) {
  if (d == static_cast<double>(static_cast<long long>(d))) return std::to_string(static_cast<long long>(d));
  return std::to_string(d);
}

const sdk::Key* findKey(const sdk::Schema& schema, const std::string& key) {
  for (const auto& k : schema.keys)
    if (keyMatches(k.name, key)) return &k;
  return nullptr;
}

// Whether `value` is one of an Enum key's values (case-insensitively, as Flume's enums are).
bool isAllowedValue(const sdk::Key& spec, std::string_view value) {
  const std::string v = lower(value);
  return std::any_of(spec.allowed.begin(), spec.allowed.end(),
                     [&](const std::string& a) { return lower(a) == v; });
}

// Validates one value; returns an error text or empty. The value of a secret key (declared
// isSecret(), or named like one) is never quoted: the text says what was expected instead.
std::string checkValue(const sdk::Key& spec, const sdk::Context& ctx, const std::string& key) {
  const bool secret = spec.secret || isSecretKey(ctx.path() + "." + key);
  try {
    double numeric = 0;
    bool isNumber = false;
    switch (spec.type) {
      case sdk::ValueType::Integer:
        numeric = static_cast<double>(*ctx.getInteger(key));
        isNumber = true;
        break;
      case sdk::ValueType::Long:
        numeric = static_cast<double>(*ctx.getLong(key));
        isNumber = true;
        break;
      case sdk::ValueType::Double:
        numeric = *ctx.getDouble(key);
        isNumber = true;
        break;
      case sdk::ValueType::Boolean:
        (void)ctx.getBoolean(key);
        break;
      case sdk::ValueType::Enum: {
        if (!isAllowedValue(spec, *ctx.getString(key))) {
          std::string allowed;
          for (std::size_t i = 0; i < spec.allowed.size(); ++i)
            allowed += (i ? ", " : "") + spec.allowed[i];
          if (secret) return "expected one of " + allowed + " (the value is secret: not shown)";
          return "expected one of " + allowed + ", got '" + *ctx.getString(key) + "'";
        }
        break;
      }
      case sdk::ValueType::String:
      case sdk::ValueType::List:
        break;
    }
    if (isNumber && (numeric < spec.min || numeric > spec.max)) {
      std::string range;
      if (spec.min != -std::numeric_limits<double>::infinity() &&
          spec.max != std::numeric_limits<double>::infinity())
        range = "between " + fmtNumber(spec.min) + " and " + fmtNumber(spec.max);
      else if (spec.min != -std::numeric_limits<double>::infinity())
        range = ">= " + fmtNumber(spec.min);
      else
        range = "<= " + fmtNumber(spec.max);
      if (secret) return "expected a value " + range + " (the value is secret: not shown)";
      return "expected a value " + range + ", got " + *ctx.getString(key);
    }
  } catch (const sdk::ConfigError& e) {
    // The getter's message already names the full key and location; keep only the reason.
    std::string m = e.what();
    auto colon = m.find(": ");
    std::string reason = colon == std::string::npos ? m : m.substr(colon + 2);
    auto paren = reason.rfind(" (");
    if (paren != std::string::npos) reason = reason.substr(0, paren);
    if (secret)
      reason = "expected a " + std::string(sdk::nameOf(spec.type)) +
               " value (the value is secret: not shown)";
    return reason;
  }
  return {};
}

std::string where(const sdk::Context& ctx, const std::string& key) {
  auto it = ctx.parameters().find(key);
  if (it == ctx.parameters().end()) return {};
  std::string loc = it->second.where.str();
  return loc.empty() ? "" : " (" + loc + ")";
}

// The names a misspelled key is compared with: every key sluice uses, and for a family
// ("priority.*") the family with the rest of the key ("priorty.k1" -> "priority.k1"), so that the
// hint is a key the user can write.
std::vector<std::string> hintCandidates(const sdk::Schema& schema, const std::string& key) {
  std::vector<std::string> out;
  for (const auto& k : schema.keys) {
    if (k.ignored) continue;
    if (k.name.size() < 2 || k.name.compare(k.name.size() - 2, 2, ".*") != 0) {
      out.push_back(k.name);
      continue;
    }
    const std::string prefix = k.name.substr(0, k.name.size() - 1);  // "priority."
    std::size_t at = 0;
    for (char c : prefix)
      if (c == '.' && at != std::string::npos) {
        at = key.find('.', at);
        if (at != std::string::npos) ++at;
      }
    out.push_back(at == std::string::npos || at >= key.size() ? k.name : prefix + key.substr(at));
  }
  return out;
}

}  // namespace

bool namesPlugin(const sdk::Key& key, std::string_view value) {
  return key.componentKind != sdk::ComponentKind{} &&
         !isAllowedValue(key, plugins::text::trimmed(value));
}

bool keyMatches(const std::string& pattern, const std::string& key) {
  if (pattern.size() >= 2 && pattern.compare(pattern.size() - 2, 2, ".*") == 0) {
    std::string prefix = pattern.substr(0, pattern.size() - 1);  // keep the dot
    return key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0;
  }
  return pattern == key;
}

const std::vector<std::string>& frameworkKeys(sdk::ComponentKind kind) {
  static const std::vector<std::string> kSource = {"type",           "channels",
                                                   "selector.*",     "interceptors",
                                                   "interceptors.*", "backoffSleepIncrement",
                                                   "maxBackoffSleep"};
  static const std::vector<std::string> kSink = {"type", "channel"};
  static const std::vector<std::string> kTypeOnly = {"type"};
  // A load_balance group's selector gets its "processor.selector." keys, without a type key.
  static const std::vector<std::string> kNone;
  switch (kind) {
    case sdk::ComponentKind::Source:
      return kSource;
    case sdk::ComponentKind::Sink:
      return kSink;
    case sdk::ComponentKind::SinkSelector:
    // A sub-component's keys are those below its owner's key; its type is that key's value.
    case sdk::ComponentKind::EventSerializer:
    case sdk::ComponentKind::HttpHandler:
      return kNone;
    case sdk::ComponentKind::Channel:
    case sdk::ComponentKind::Interceptor:
    case sdk::ComponentKind::ChannelSelector:
      break;
  }
  return kTypeOnly;
}

void reportUnknownKey(Diagnostics& diags, UnknownKeys policy, const std::string& message,
                      const std::string& tail) {
  if (policy == UnknownKeys::Error) {
    diags.error(message + tail);
    return;
  }
  diags.warn(message +
             "; Flume ignores an unknown key too, so it is ignored (--strict makes this "
             "an error)" +
             tail);
}

sdk::Context checkAgainstSchema(const sdk::Schema& schema, const std::string& typeName,
                                const sdk::Context& ctx,
                                const std::vector<std::string>& frameworkKeys, Diagnostics& diags,
                                UnknownKeys unknownKeys) {
  const std::string& path = ctx.path();
  // Keys whose value names a plugin (Key::component): the host resolves that value, and checks
  // the keys below it against the plugin's schema, when it makes the plugin (ComponentFactory).
  std::vector<std::string> pluginKeys;
  for (const auto& k : schema.keys)
    if (auto v = ctx.getString(k.name); v && namesPlugin(k, *v)) pluginKeys.push_back(k.name);
  auto belowPlugin = [&](const std::string& key) {
    return std::any_of(pluginKeys.begin(), pluginKeys.end(), [&](const std::string& p) {
      return key == p ||
             (key.size() > p.size() && key.compare(0, p.size(), p) == 0 && key[p.size()] == '.');
    });
  };
  for (const auto& entry : ctx.parameters()) {
    // Named through the pair, not a structured binding: clang 14 cannot capture bindings.
    const std::string& key = entry.first;
    bool framework = std::any_of(frameworkKeys.begin(), frameworkKeys.end(),
                                 [&](const std::string& f) { return keyMatches(f, key); });
    if (framework || belowPlugin(key)) continue;
    const sdk::Key* spec = findKey(schema, key);
    if (!spec) {
      if (schema.allowUnknownKeys) continue;
      auto close = closestMatches(key, hintCandidates(schema, key), 1);
      // A known key under a wrong prefix ("kafka.flumeBatchSize" for "flumeBatchSize") is the
      // likelier meaning than an equally distant family member.
      for (const auto& k : schema.keys)
        if (!k.ignored && k.name.find('*') == std::string::npos && key.size() > k.name.size() &&
            key.compare(key.size() - k.name.size(), k.name.size(), k.name) == 0 &&
            key[key.size() - k.name.size() - 1] == '.')
          close = {k.name};
      std::string msg = path + "." + key + ": unknown key for type '" + typeName + "'";
      if (!close.empty()) msg += " (did you mean '" + close.front() + "'?)";
      msg += where(ctx, key);
      reportUnknownKey(diags, unknownKeys, msg,
                       "; `sluice describe " + typeName + "` lists its keys");
      continue;
    }
    if (spec->ignored) {
      diags.warn(path + "." + key + ": a Flume key that sluice does not use; ignored" +
                 (spec->description.empty() ? "" : " (" + spec->description + ")") + where(ctx, key));
      continue;
    }
    std::string err = checkValue(*spec, ctx, key);
    if (!err.empty()) diags.error(path + "." + key + ": " + err + where(ctx, key));
  }
  sdk::Context prepared = ctx;
  for (const auto& k : schema.keys) {
    if (k.name.find('*') != std::string::npos || belowPlugin(k.name)) continue;
    if (k.required) {
      if (!ctx.containsKey(k.name))
        diags.error(path + ": missing required key '" + k.name + "' (" + sdk::nameOf(k.type) +
                    (k.description.empty() ? "" : ": " + k.description) + ")");
      continue;
    }
    if (k.ignored || k.defaultValue.empty() || ctx.containsKey(k.name)) continue;
    prepared.put(k.name, k.defaultValue, sdk::Location{kDefaultLocation, 0});
    if (std::string err = checkValue(k, prepared, k.name); !err.empty())
      diags.error(path + "." + k.name + ": the schema default of type '" + typeName +
                  "' is invalid (" + err + "); a bug in the plugin");
  }
  return prepared;
}

sdk::Context prepareContext(sdk::ComponentKind kind, const std::string& typeName,
                            const sdk::Schema& schema, const sdk::Context& context,
                            Diagnostics& diags, UnknownKeys unknownKeys) {
  return checkAgainstSchema(schema, typeName, context, frameworkKeys(kind), diags, unknownKeys);
}

sdk::Context prepareContext(const sdk::ComponentInfo& info, const sdk::Context& context,
                            Diagnostics& diags, UnknownKeys unknownKeys) {
  return prepareContext(info.kind, info.type, info.schema, context, diags, unknownKeys);
}

bool isSchemaSecret(const std::vector<std::string>& secretNames, const std::string& key) {
  for (const auto& name : secretNames) {
    if (name.size() >= 2 && name.compare(name.size() - 2, 2, ".*") == 0) {
      // A family: any key below ".prefix.".
      const std::string infix = "." + name.substr(0, name.size() - 1);
      if (key.find(infix) != std::string::npos) return true;
    } else if (key.size() > name.size() &&
               key.compare(key.size() - name.size(), name.size(), name) == 0 &&
               key[key.size() - name.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

std::optional<std::string> effectiveValue(const sdk::Schema& schema, const sdk::Context& context,
                                          const std::string& key) {
  if (auto v = context.getString(key)) return v;
  for (const auto& k : schema.keys)
    if (k.name == key && !k.defaultValue.empty()) return k.defaultValue;
  return std::nullopt;
}

std::string describeKeys(const sdk::Schema& schema) {
  std::ostringstream out;
  out << "  keys:\n";
  for (const auto& k : schema.keys) {
    out << "    " << k.name << "  " << sdk::nameOf(k.type);
    if (k.type == sdk::ValueType::Enum) {
      out << " {";
      for (std::size_t j = 0; j < k.allowed.size(); ++j) out << (j ? "|" : "") << k.allowed[j];
      out << "}";
    }
    if (k.componentKind != sdk::ComponentKind{})
      out << " or the type of a " << sdk::nameOf(k.componentKind) << " plugin (its keys below "
          << k.name << ".)";
    if (k.required) out << "  required";
    if (!k.defaultValue.empty()) out << "  default=" << k.defaultValue;
    if (k.ignored) out << "  (Flume key, ignored)";
    if (k.secret) out << "  secret (masked in logs, errors and /config)";
    out << "\n      " << k.description << "\n";
  }
  return out.str();
}

std::string describeHostSchema(const HostSchema& h) {
  std::string out =
      (h.kind.empty() ? "" : h.kind + " ") + h.type + " (stable, built into sluice)\n";
  if (!h.description.empty()) out += "  " + h.description + "\n";
  if (!h.aliases.empty()) {
    out += "  aliases:";
    for (const auto& a : h.aliases) out += " " + a;
    out += "\n";
  }
  return out + describeKeys(h.schema);
}

}  // namespace sluice::core
