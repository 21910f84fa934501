#include "core/monitoring/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "core/monitoring/flume_metrics.hpp"
#include "core/monitoring/render.hpp"
#include "plugins/common/text_util.hpp"

namespace sluice::core::monitoring {

std::string jsonString(std::string_view s) {
  std::string out;
  plugins::text::appendJsonString(out, s, /*htmlSafe=*/true);  // the status page embeds it
  return out;
}

std::string jsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, p) : "0";
}

std::string javaDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, p);  // [-]d[.ddd]e[+-]XX
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  std::size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  int exp = std::stoi(sci.substr(e + 1));
  double a = std::fabs(v);
  if (a >= 1e-3 && a < 1e7) {
    std::string intPart, frac;
    if (exp >= 0) {
      std::size_t n = static_cast<std::size_t>(exp) + 1;
      if (digits.size() < n) digits.append(n - digits.size(), '0');
      intPart = digits.substr(0, n);
      frac = digits.substr(n);
    } else {
      intPart = "0";
      frac = std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
    }
    if (frac.empty()) frac = "0";
    return sign + intPart + "." + frac;
  }
  std::string mant = digits.substr(0, 1) + "." + (digits.size() > 1 ? digits.substr(1) : "0");
  return sign + mant + "E" + std::to_string(exp);
}

std::string renderFlumeJson(const Snapshot& s) {
  std::string out = "{";
  bool first = true;
  for (const FlumeGroup& g : flumeGroups(s)) {
    out += first ? "\n" : ",\n";
    first = false;
    out += jsonString(g.key) + ": {";
    for (std::size_t i = 0; i < g.attributes.size(); ++i)
      out += (i ? ", " : "") + jsonString(g.attributes[i].first) + ": " +
             jsonString(g.attributes[i].second);
    out += "}";
  }
  out += first ? "}\n" : "\n}\n";
  return out;
}

std::string renderHealth(const Snapshot& s, double uptimeSeconds, std::string_view version) {
  return "{\"status\": \"UP\", \"agent\": " + jsonString(s.agent) +
         ", \"version\": " + jsonString(version) +
         ", \"uptimeSeconds\": " + jsonNumber(uptimeSeconds) + "}\n";
}

std::string renderConfig(const Snapshot& s,
                         const std::vector<std::pair<std::string, std::string>>& extra,
                         const std::vector<std::string>& secrets) {
  auto block = [&](const std::vector<std::pair<std::string, std::string>>& kv) {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : kv) {
      out += first ? "\n    " : ",\n    ";
      first = false;
      // By name, then by value: a secret a schema declares, or a URL's password
      // ("hdfs://user:pw@nn/path"), whatever the key is called.
      out += jsonString(k) + ": " +
             jsonString(isSecretKey(k) ? std::string(kSecretMask) : maskSecrets(v, secrets));
    }
    out += first ? "}" : "\n  }";
    return out;
  };
  return "{\n  \"agent\": " + jsonString(s.agent) + ",\n  \"file\": " + jsonString(s.configFile) +
         ",\n  \"properties\": " + block(s.config) + ",\n  \"host\": " + block(extra) + "\n}\n";
}

std::string renderStatus(const Snapshot& s, const std::vector<PluginSnapshot>& plugins,
                         const ReadyResult& ready, double uptimeSeconds, std::string_view version) {
  auto list = [](const std::vector<std::string>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + jsonString(v[i]);
    return out + "]";
  };
  std::string sources, channels, sinks, groups, errors, plugs;
  std::map<std::string, std::string> groupOf;
  for (const auto& r : s.runners)
    if (r.group)
      for (const auto& k : r.sinks) groupOf[k] = r.name;
  std::map<std::string, const ComponentSnapshot*> interceptorByName;  // "r1.i1"
  for (const auto& c : s.components)
    if (c.kind == "INTERCEPTOR") interceptorByName[c.name] = &c;
  for (const auto& c : s.components) {
    std::string common = "{\"name\": " + jsonString(c.name) + ", \"type\": " + jsonString(c.type) +
                         ", \"state\": " + jsonString(c.state) +
                         ", \"key\": " + jsonString(groupKey(c));
    if (c.kind == "SOURCE") {
      std::string ics = "[";
      for (std::size_t i = 0; i < c.interceptors.size(); ++i) {
        ics += std::string(i ? ", " : "") + "{\"name\": " + jsonString(c.interceptors[i].first) +
               ", \"type\": " + jsonString(c.interceptors[i].second);
        auto it = interceptorByName.find(c.name + "." + c.interceptors[i].first);
        if (it != interceptorByName.end())
          ics +=
              ", \"key\": " + jsonString(groupKey(*it->second)) +
              ", \"received\": " + std::to_string(counterValue(*it->second, "EventReceivedCount")) +
              ", \"accepted\": " + std::to_string(counterValue(*it->second, "EventAcceptedCount")) +
              ", \"dropped\": " + std::to_string(counterValue(*it->second, "EventDroppedCount"));
        ics += "}";
      }
      ics += "]";
      sources += (sources.empty() ? "" : ", ") + common + ", \"channels\": " + list(c.channels) +
                 ", \"selector\": " + jsonString(c.selector) + ", \"interceptors\": " + ics + "}";
    } else if (c.kind == "CHANNEL") {
      channels += (channels.empty() ? "" : ", ") + common +
                  ", \"fillPercentage\": " + jsonNumber(channelFillPercent(c)) + "}";
    } else if (c.kind == "SINK") {
      auto g = groupOf.find(c.name);
      sinks += (sinks.empty() ? "" : ", ") + common +
               ", \"channel\": " + jsonString(c.channels.empty() ? "" : c.channels.front()) +
               ", \"group\": " + (g == groupOf.end() ? "null" : jsonString(g->second)) + "}";
    }
  }
  for (const auto& r : s.runners) {
    groups += (groups.empty() ? "" : ", ") + std::string("{\"name\": ") + jsonString(r.name) +
              ", \"group\": " + (r.group ? "true" : "false") +
              ", \"processor\": " + jsonString(r.processor) + ", \"sinks\": " + list(r.sinks) +
              ", \"failingSinceMs\": " + std::to_string(r.failingSinceMs) +
              ", \"failureCount\": " + std::to_string(r.failureCount) +
              ", \"lastError\": " + jsonString(r.lastError) +
              ", \"lastErrorMs\": " + std::to_string(r.lastErrorMs) +
              ", \"activeSink\": " + jsonString(r.activeSink) +
              ", \"sinksInBackoff\": " + std::to_string(r.sinksInBackoff) +
              ", \"sinkFailureCount\": " + std::to_string(r.sinkFailureCount) +
              ", \"failoverCount\": " + std::to_string(r.failoverCount) + "}";
    if (r.lastErrorMs > 0)
      errors += (errors.empty() ? "" : ", ") + std::string("{\"timeMs\": ") +
                std::to_string(r.lastErrorMs) +
                ", \"component\": " + jsonString((r.group ? "SINK_GROUP." : "SINK.") + r.name) +
                ", \"message\": " + jsonString(r.lastError) +
                ", \"count\": " + std::to_string(r.failureCount) + "}";
  }
  for (const auto& p : plugins)
    plugs += (plugs.empty() ? "" : ", ") + std::string("{\"name\": ") + jsonString(p.name) +
             ", \"version\": " + jsonString(p.version) + ", \"file\": " + jsonString(p.file) +
             ", \"types\": " + list(p.types) + "}";
  // Newest first: what a reader looks for first.
  std::string logs;
  for (auto it = s.logs.records.rbegin(); it != s.logs.records.rend(); ++it)
    logs += (logs.empty() ? "" : ", ") + std::string("{\"timeMs\": ") + std::to_string(it->timeMs) +
            ", \"level\": " + jsonString(it->level) + ", \"logger\": " + jsonString(it->logger) +
            ", \"message\": " + jsonString(it->message) + "}";
  std::string readyJson = ready.json;
  while (!readyJson.empty() && readyJson.back() == '\n') readyJson.pop_back();
  return "{\"agent\": " + jsonString(s.agent) + ", \"version\": " + jsonString(version) +
         ", \"configFile\": " + jsonString(s.configFile) +
         ", \"uptimeSeconds\": " + jsonNumber(uptimeSeconds) +
         ", \"available\": " + (s.available ? "true" : "false") +
         ", \"running\": " + (s.running ? "true" : "false") +
         ", \"takenAtMs\": " + std::to_string(s.takenAtMs) + ", \"ready\": " + readyJson +
         ", \"sources\": [" + sources + "], \"channels\": [" + channels + "], \"sinks\": [" +
         sinks + "], \"sinkRunners\": [" + groups + "], \"errors\": [" + errors +
         "], \"log\": {\"capacity\": " + std::to_string(s.logCapacity) +
         ", \"total\": " + std::to_string(s.logs.total) +
         ", \"dropped\": " + std::to_string(s.logs.dropped) + ", \"records\": [" + logs +
         "]}, \"plugins\": [" + plugs + "]}\n";
}

}  // namespace sluice::core::monitoring
