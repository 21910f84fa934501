#include "core/plugin/schema_check.hpp"

#include <algorithm>
#include <cctype>

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
        std::string v = lower(*ctx.getString(key));
        bool ok = std::any_of(spec.allowed.begin(), spec.allowed.end(),
                              [&](const std::string& a) { return lower(a) == v; });
        if (!ok) {
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

}  // namespace

bool keyMatches(const std::string& pattern, const std::string& key) {
  if (pattern.size() >= 2 && pattern.compare(pattern.size() - 2, 2, ".*") == 0) {
    std::string prefix = pattern.substr(0, pattern.size() - 1);  // keep the dot
    return key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0;
  }
  return pattern == key;
}

void checkAgainstSchema(const sdk::Schema& schema, const std::string& typeName,
                        const sdk::Context& ctx, const std::vector<std::string>& frameworkKeys,
                        Diagnostics& diags) {
  const std::string& path = ctx.path();
  for (const auto& entry : ctx.parameters()) {
    // Named through the pair, not a structured binding: clang 14 cannot capture bindings.
    const std::string& key = entry.first;
    bool framework = std::any_of(frameworkKeys.begin(), frameworkKeys.end(),
                                 [&](const std::string& f) { return keyMatches(f, key); });
    if (framework) continue;
    const sdk::Key* spec = findKey(schema, key);
    if (!spec) {
      if (schema.allowUnknownKeys) continue;
      std::vector<std::string> candidates;
      for (const auto& k : schema.keys)
        if (!k.ignored) candidates.push_back(k.name);
      auto close = closestMatches(key, candidates, 1);
      std::string msg = path + "." + key + ": unknown key for type '" + typeName + "'";
      if (!close.empty()) msg += " (did you mean '" + close.front() + "'?)";
      msg += where(ctx, key);
      msg += "; `sluice describe " + typeName + "` lists its keys";
      diags.error(msg);
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
  for (const auto& k : schema.keys) {
    if (!k.required || k.name.find('*') != std::string::npos) continue;
    if (!ctx.containsKey(k.name))
      diags.error(path + ": missing required key '" + k.name + "' (" + sdk::nameOf(k.type) +
                  (k.description.empty() ? "" : ": " + k.description) + ")");
  }
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

}  // namespace sluice::core
