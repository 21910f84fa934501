#include "core/config/substitution.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>

#include "core/config/run_command.hpp"
#include "core/config/suggest.hpp"
#include "plugins/common/charset.hpp"
#include "plugins/common/text_util.hpp"

namespace sluice::core {

namespace {

using plugins::text::lower;

constexpr std::string_view kSection = "configfilters";
constexpr std::string_view kEnvClass =
    "org.apache.flume.configfilter.EnvironmentVariableConfigFilter";
constexpr std::string_view kExternalClass =
    "org.apache.flume.configfilter.ExternalProcessConfigFilter";
constexpr std::string_view kHadoopClass =
    "org.apache.flume.configfilter.HadoopCredentialStoreConfigFilter";

std::vector<std::string> splitWords(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    std::size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool isWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Flume's filter key: [-_a-zA-Z0-9]+.
bool isFilterKeyChar(char c) { return isWordChar(c) || c == '-'; }

// ${VAR} with VAR made of word characters, as EnvVarResolverProperties' \$\{(\w+)\}.
void substituteEnvVars(const std::string& key, sdk::Parameter& p, bool toml, Diagnostics& diags) {
  std::string& v = p.value;
  std::string out;
  std::size_t pos = 0;
  bool changed = false;
  while (true) {
    const std::size_t open = v.find("${", pos);
    if (open == std::string::npos) break;
    // TOML: "$${" is a literal "${" (a search_replace named group, "${name}"). Flume's
    // EnvVarResolverProperties has no escape, so .properties has none either.
    if (toml && open > pos && v[open - 1] == '$') {
      out.append(v, pos, open - 1 - pos);
      out += "${";
      pos = open + 2;
      changed = true;
      continue;
    }
    std::size_t end = open + 2;
    while (end < v.size() && isWordChar(v[end])) ++end;
    if (end == open + 2 || end >= v.size() || v[end] != '}') {
      out.append(v, pos, open + 2 - pos);
      pos = open + 2;
      continue;
    }
    const std::string name = v.substr(open + 2, end - open - 2);
    out.append(v, pos, open - pos);
    if (const char* env = std::getenv(name.c_str())) {
      out += env;
    } else if (toml) {
      diags.error(key + ": environment variable '" + name + "' is not set" + atLocation(p.where) +
                  "; set it, or write the value");
    } else {
      diags.warn(key + ": environment variable '" + name +
                 "' is not set; the reference is "
                 "replaced by nothing, as Flume's EnvVarResolverProperties does" +
                 atLocation(p.where));
    }
    pos = end + 1;
    changed = true;
  }
  if (!changed) return;
  out.append(v, pos, std::string::npos);
  v = std::move(out);
}

// One declared filter of one agent.
struct Filter {
  enum class Kind { Env, External } kind = Kind::Env;
  std::string name;
  std::string path;  // "a1.configfilters.f1", for messages
  std::vector<std::string> command;
  std::string charset = "UTF-8";
  std::chrono::milliseconds timeout{10000};
  std::map<std::string, std::optional<std::string>> cache;  // key -> value (nullopt: failed)
};

class AgentFilters {
 public:
  AgentFilters(RawConfig& raw, std::string agent, const SubstitutionOptions& o, Diagnostics& d)
      : raw_(raw), agent_(std::move(agent)), options_(o), diags_(d) {}

  // Reads `<agent>.configfilters` and each filter's keys. False if there are none or on errors.
  bool declare() {
    const std::string listKey = agent_ + "." + std::string(kSection);
    auto it = raw_.entries.find(listKey);
    if (it == raw_.entries.end()) return false;
    const std::string prefix = listKey + ".";
    for (const auto& name : splitWords(it->second.value)) {
      Filter f;
      f.name = name;
      f.path = prefix + name;
      f.timeout = options_.externalTimeout;
      if (declareOne(f)) filters_.push_back(std::move(f));
    }
    // Keys of filters that are not listed: Flume ignores them.
    for (auto e = raw_.entries.lower_bound(prefix);
         e != raw_.entries.end() && e->first.compare(0, prefix.size(), prefix) == 0; ++e) {
      const std::string rest = e->first.substr(prefix.size());
      const std::string name = rest.substr(0, rest.find('.'));
      bool listed = false;
      for (const auto& f : filters_) listed = listed || f.name == name;
      if (!listed && !declared_.count(name))
        diags_.warn(e->first + ": filter '" + name + "' is not listed in " + listKey + "; ignored" +
                    atLocation(e->second.where));
    }
    return !filters_.empty();
  }

  // Replaces every reference in the agent's values; returns the values the filters gave.
  void apply(std::vector<std::string>& secrets) {
    const std::string prefix = agent_ + ".";
    for (auto e = raw_.entries.lower_bound(prefix);
         e != raw_.entries.end() && e->first.compare(0, prefix.size(), prefix) == 0; ++e) {
      if (isConfigFilterKey(e->first)) continue;
      for (auto& f : filters_) substitute(f, e->first, e->second, secrets);
    }
  }

 private:
  const sdk::Parameter* param(const Filter& f, const std::string& key) const {
    auto it = raw_.entries.find(f.path + "." + key);
    return it == raw_.entries.end() ? nullptr : &it->second;
  }

  bool declareOne(Filter& f) {
    declared_.insert(f.name);
    const sdk::Parameter* type = param(f, "type");
    const sdk::Location listWhere = raw_.entries.at(agent_ + "." + std::string(kSection)).where;
    if (!type) {
      diags_.error(f.path + ": missing required key 'type' (env, external, or a Flume class name)" +
                   atLocation(listWhere));
      return false;
    }
    const std::string t = lower(plugins::text::trimmedSpace(type->value));
    if (t == "env" || t == lower(std::string(kEnvClass))) {
      f.kind = Filter::Kind::Env;
    } else if (t == "external" || t == lower(std::string(kExternalClass))) {
      f.kind = Filter::Kind::External;
    } else if (t == "hadoop" || t == lower(std::string(kHadoopClass))) {
      diags_.error(f.path +
                   ".type: the hadoop credential-store filter is not supported: it reads "
                   "a Hadoop CredentialProvider keystore through Hadoop's Java libraries, which a "
                   "native agent does not have; use type = external with a command that prints "
                   "the secret (e.g. `hadoop credential` or your vault's CLI), or type = env" +
                   atLocation(type->where));
      return false;
    } else {
      diags_.error(f.path + ".type: unknown config filter type '" + type->value +
                   "' (expected env, external, or their Flume class names)" +
                   atLocation(type->where));
      return false;
    }
    bool ok = true;
    const std::vector<std::string> known =
        f.kind == Filter::Kind::External
            ? std::vector<std::string>{"type", "command", "charset", "timeout"}
            : std::vector<std::string>{"type"};
    const std::string prefix = f.path + ".";
    for (auto e = raw_.entries.lower_bound(prefix);
         e != raw_.entries.end() && e->first.compare(0, prefix.size(), prefix) == 0; ++e) {
      const std::string key = e->first.substr(prefix.size());
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string msg = e->first + ": unknown key for config filter type '" +
                        std::string(f.kind == Filter::Kind::Env ? "env" : "external") + "'" +
                        didYouMean(key, known) + atLocation(e->second.where);
      if (options_.strict || !raw_.flumeProperties)
        diags_.error(msg);
      else
        diags_.warn(msg +
                    "; Flume ignores an unknown key too, so it is ignored (--strict makes "
                    "this an error)");
    }
    if (f.kind == Filter::Kind::Env) return ok;
    const sdk::Parameter* cmd = param(f, "command");
    if (!cmd || plugins::text::trimmedSpace(cmd->value).empty()) {
      diags_.error(f.path +
                   ": missing required key 'command' (the program an external filter "
                   "runs with the key as its last argument)" +
                   atLocation(listWhere));
      return false;
    }
    f.command = splitWords(cmd->value);
    if (const sdk::Parameter* cs = param(f, "charset")) {
      std::string error;
      if (!plugins::charset::Decoder::open(plugins::text::trimmedSpace(cs->value), &error)) {
        diags_.error(f.path + ".charset: " + error + atLocation(cs->where));
        ok = false;
      }
      f.charset = plugins::text::trimmedSpace(cs->value);
    }
    if (const sdk::Parameter* to = param(f, "timeout")) {
      char* end = nullptr;
      const long long ms = std::strtoll(to->value.c_str(), &end, 10);
      if (end == to->value.c_str() || *end != '\0' || ms < 1 || ms > 3600000) {
        diags_.error(f.path + ".timeout: expected milliseconds between 1 and 3600000, got '" +
                     to->value + "'" + atLocation(to->where));
        ok = false;
      } else {
        f.timeout = std::chrono::milliseconds(ms);
      }
    }
    return ok;
  }

  // ${name['key']}, ${name["key"]} or ${name[key]}, as Flume's createConfigFilterPattern.
  void substitute(Filter& f, const std::string& key, sdk::Parameter& p,
                  std::vector<std::string>& secrets) {
    const std::string open = "${" + f.name + "[";
    std::string& v = p.value;
    std::size_t pos = 0;
    while ((pos = v.find(open, pos)) != std::string::npos) {
      std::size_t i = pos + open.size();
      char quote = 0;
      if (i < v.size() && (v[i] == '\'' || v[i] == '"')) quote = v[i++];
      const std::size_t keyStart = i;
      while (i < v.size() && isFilterKeyChar(v[i])) ++i;
      const std::size_t keyEnd = i;
      if (quote && (i >= v.size() || v[i] != quote)) {
        pos += open.size();
        continue;
      }
      if (quote) ++i;
      if (keyEnd == keyStart || i + 1 >= v.size() || v[i] != ']' || v[i + 1] != '}') {
        pos += open.size();
        continue;
      }
      const std::string filterKey = v.substr(keyStart, keyEnd - keyStart);
      std::optional<std::string> value = lookup(f, filterKey, key, p.where);
      if (!value) {
        pos = i + 2;  // left as written, as Flume leaves a reference its filter cannot resolve
        continue;
      }
      v.replace(pos, i + 2 - pos, *value);
      secrets.push_back(*value);
      pos += value->size();
    }
  }

  std::optional<std::string> lookup(Filter& f, const std::string& filterKey, const std::string& key,
                                    const sdk::Location& where) {
    auto cached = f.cache.find(filterKey);
    if (cached != f.cache.end()) return cached->second;
    std::optional<std::string> v = f.kind == Filter::Kind::Env
                                       ? envValue(f, filterKey, key, where)
                                       : externalValue(f, filterKey, key, where);
    f.cache[filterKey] = v;
    return v;
  }

  std::optional<std::string> envValue(const Filter& f, const std::string& filterKey,
                                      const std::string& key, const sdk::Location& where) {
    if (const char* env = std::getenv(filterKey.c_str())) return std::string(env);
    const std::string msg = key + ": config filter '" + f.name + "' (env): environment variable '" +
                            filterKey + "' is not set" + atLocation(where);
    if (raw_.flumeProperties)
      diags_.warn(msg + "; the reference is left as written, as Flume leaves it");
    else
      diags_.error(msg);
    return std::nullopt;
  }

  std::optional<std::string> externalValue(const Filter& f, const std::string& filterKey,
                                           const std::string& key, const sdk::Location& where) {
    std::vector<std::string> argv = f.command;
    argv.push_back(filterKey);
    const CommandResult r = runCommand(argv, f.timeout);
    const std::string what = key + ": config filter '" + f.name + "' (external, command '" +
                             f.command.front() + "') for key '" + filterKey + "': ";
    if (!r.started) {
      diags_.error(what + "cannot run the command: " + r.error + atLocation(where));
      return std::nullopt;
    }
    if (r.timedOut) {
      diags_.error(what + "no answer within " + std::to_string(f.timeout.count()) +
                   " ms; the command was killed (raise " + f.path + ".timeout)" +
                   atLocation(where));
      return std::nullopt;
    }
    if (r.exitCode != 0) {
      std::string err = plugins::text::trimmedSpace(r.err);
      diags_.error(what + "the command exited with status " + std::to_string(r.exitCode) +
                   (err.empty() ? "" : " (stderr: " + err + ")") + atLocation(where));
      return std::nullopt;
    }
    std::string text;
    auto decoder = plugins::charset::Decoder::open(f.charset, nullptr);
    std::size_t used = 0, bad = 0;
    if (!decoder || !decoder->decode(r.out, true, plugins::charset::DecodeErrorPolicy::Fail, text,
                                     &used, &bad)) {
      diags_.error(what + "its output is not valid " + f.charset + atLocation(where));
      return std::nullopt;
    }
    // The first line is the value (Flume reads one line): "\n", "\r\n" or "\r" ends it.
    const std::size_t eol = text.find_first_of("\r\n");
    if (eol == std::string::npos && text.empty()) {
      diags_.error(what + "the command printed nothing" + atLocation(where));
      return std::nullopt;
    }
    std::string value = text.substr(0, eol);
    if (eol != std::string::npos) {
      std::size_t next = eol + (text.compare(eol, 2, "\r\n") == 0 ? 2 : 1);
      if (next < text.size())
        diags_.warn(what +
                    "the command printed more than one line; only the first is used, as "
                    "in Flume" +
                    atLocation(where));
    }
    return value;
  }

  RawConfig& raw_;
  std::string agent_;
  const SubstitutionOptions& options_;
  Diagnostics& diags_;
  std::vector<Filter> filters_;
  std::set<std::string> declared_;
};

}  // namespace

bool isConfigFilterKey(const std::string& key) {
  const std::size_t dot = key.find('.');
  if (dot == std::string::npos) return false;
  const std::string_view rest = std::string_view(key).substr(dot + 1);
  return rest == kSection ||
         (rest.size() > kSection.size() && rest.compare(0, kSection.size(), kSection) == 0 &&
          rest[kSection.size()] == '.');
}

std::vector<std::string> applySubstitutions(RawConfig& raw, const SubstitutionOptions& options,
                                            Diagnostics& diags) {
  const bool toml = !raw.flumeProperties;
  if (toml || options.propertiesEnvVars)
    for (auto& [key, p] : raw.entries) substituteEnvVars(key, p, toml, diags);
  std::vector<std::string> secrets;
  std::set<std::string> agents;
  for (const auto& [key, _] : raw.entries)
    if (isConfigFilterKey(key)) agents.insert(key.substr(0, key.find('.')));
  for (const auto& agent : agents) {
    AgentFilters filters(raw, agent, options, diags);
    if (filters.declare()) filters.apply(secrets);
  }
  return secrets;
}

}  // namespace sluice::core
