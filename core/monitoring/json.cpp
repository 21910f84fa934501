#include "core/monitoring/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "core/monitoring/flume_metrics.hpp"
#include "core/monitoring/render.hpp"

namespace sluice::core::monitoring {

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

namespace {

using Json = nlohmann::ordered_json;  // keys in the order written: Flume's, then sluice's

// The status page embeds the document in its HTML: a '<' only ever appears inside a JSON string,
// where \u003c reads the same, so no "</script>" can end the embedding early.
std::string htmlSafe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '<')
      out += "\\u003c";
    else
      out += c;
  }
  return out;
}

// Free text from components and logs may hold bytes that are not UTF-8: replaced, not thrown on.
std::string dump(const Json& j, int indent = -1) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string renderFlumeJson(const Snapshot& s) {
  Json out = Json::object();
  for (const FlumeGroup& g : flumeGroups(s)) {
    Json& group = out[g.key] = Json::object();
    for (const auto& [name, value] : g.attributes) group[name] = value;  // strings, as in Flume
  }
  return dump(out);
}

std::string renderHealth(const Snapshot& s, double uptimeSeconds, std::string_view version) {
  Json out = {{"status", "UP"}, {"agent", s.agent}, {"version", version}};
  out["uptimeSeconds"] = std::isfinite(uptimeSeconds) ? Json(uptimeSeconds) : Json(nullptr);
  return dump(out);
}

namespace {

Json readyDocument(const ReadyResult& r) {
  Json out = {{"status", r.ready ? "READY" : "NOT_READY"}, {"ready", r.ready}, {"agent", r.agent}};
  const double fill = r.options.maxChannelFillPercent;
  out["maxChannelFillPercent"] = std::isfinite(fill) ? Json(fill) : Json(nullptr);
  out["maxSinkFailingMs"] = r.options.maxSinkFailingMs;
  out["reasons"] = r.reasons;
  Json checks = Json::array();
  for (const ReadyCheck& c : r.checks)
    checks.push_back(
        {{"check", c.check}, {"component", c.component}, {"ok", c.ok}, {"detail", c.detail}});
  out["checks"] = std::move(checks);
  return out;
}

}  // namespace

std::string renderReady(const ReadyResult& r) { return dump(readyDocument(r)); }

std::string renderConfig(const Snapshot& s,
                         const std::vector<std::pair<std::string, std::string>>& extra,
                         const std::vector<std::string>& secrets) {
  auto block = [&](const std::vector<std::pair<std::string, std::string>>& kv) {
    Json out = Json::object();
    // By name, then by value: a secret a schema declares, or a URL's password
    // ("hdfs://user:pw@nn/path"), whatever the key is called.
    for (const auto& [k, v] : kv)
      out[k] = isSecretKey(k) ? std::string(kSecretMask) : maskSecrets(v, secrets);
    return out;
  };
  Json out = {{"agent", s.agent}, {"file", s.configFile}};
  out["properties"] = block(s.config);
  out["host"] = block(extra);
  return dump(out, 2);  // read by people: indented
}

std::string renderStatus(const Snapshot& s, const std::vector<PluginSnapshot>& plugins,
                         const ReadyResult& ready, double uptimeSeconds, std::string_view version) {
  std::map<std::string, std::string> groupOf;
  for (const auto& r : s.runners)
    if (r.group)
      for (const auto& k : r.sinks) groupOf[k] = r.name;
  std::map<std::string, const ComponentSnapshot*> interceptorByName;  // "r1.i1"
  for (const auto& c : s.components)
    if (c.kind == "INTERCEPTOR") interceptorByName[c.name] = &c;
  Json sources = Json::array(), channels = Json::array(), sinks = Json::array();
  for (const auto& c : s.components) {
    Json common = {{"name", c.name}, {"type", c.type}, {"state", c.state}, {"key", groupKey(c)}};
    if (c.kind == "SOURCE") {
      Json ics = Json::array();
      for (const auto& [name, type] : c.interceptors) {
        Json ic = {{"name", name}, {"type", type}};
        auto it = interceptorByName.find(c.name + "." + name);
        if (it != interceptorByName.end()) {
          ic["key"] = groupKey(*it->second);
          ic["received"] = counterValue(*it->second, "EventReceivedCount");
          ic["accepted"] = counterValue(*it->second, "EventAcceptedCount");
          ic["dropped"] = counterValue(*it->second, "EventDroppedCount");
        }
        ics.push_back(std::move(ic));
      }
      common["channels"] = c.channels;
      common["selector"] = c.selector;
      common["interceptors"] = std::move(ics);
      sources.push_back(std::move(common));
    } else if (c.kind == "CHANNEL") {
      const double fill = channelFillPercent(c);
      common["fillPercentage"] = std::isfinite(fill) ? Json(fill) : Json(nullptr);
      channels.push_back(std::move(common));
    } else if (c.kind == "SINK") {
      auto g = groupOf.find(c.name);
      common["channel"] = c.channels.empty() ? "" : c.channels.front();
      common["group"] = g == groupOf.end() ? Json(nullptr) : Json(g->second);
      sinks.push_back(std::move(common));
    }
  }
  Json runners = Json::array(), errors = Json::array();
  for (const auto& r : s.runners) {
    runners.push_back({{"name", r.name},
                       {"group", r.group},
                       {"processor", r.processor},
                       {"sinks", r.sinks},
                       {"failingSinceMs", r.failingSinceMs},
                       {"failureCount", r.failureCount},
                       {"lastError", r.lastError},
                       {"lastErrorMs", r.lastErrorMs},
                       {"activeSink", r.activeSink},
                       {"sinksInBackoff", r.sinksInBackoff},
                       {"sinkFailureCount", r.sinkFailureCount},
                       {"failoverCount", r.failoverCount}});
    if (r.lastErrorMs > 0)
      errors.push_back({{"timeMs", r.lastErrorMs},
                        {"component", (r.group ? "SINK_GROUP." : "SINK.") + r.name},
                        {"message", r.lastError},
                        {"count", r.failureCount}});
  }
  Json plugs = Json::array();
  for (const auto& p : plugins)
    plugs.push_back({{"name", p.name}, {"version", p.version}, {"file", p.file}, {"types", p.types}});
  // Newest first: what a reader looks for first.
  Json records = Json::array();
  for (auto it = s.logs.records.rbegin(); it != s.logs.records.rend(); ++it)
    records.push_back({{"timeMs", it->timeMs},
                       {"level", it->level},
                       {"logger", it->logger},
                       {"message", it->message}});
  Json out = {{"agent", s.agent}, {"version", version}, {"configFile", s.configFile}};
  out["uptimeSeconds"] = std::isfinite(uptimeSeconds) ? Json(uptimeSeconds) : Json(nullptr);
  out["available"] = s.available;
  out["running"] = s.running;
  out["takenAtMs"] = s.takenAtMs;
  out["ready"] = readyDocument(ready);
  out["sources"] = std::move(sources);
  out["channels"] = std::move(channels);
  out["sinks"] = std::move(sinks);
  out["sinkRunners"] = std::move(runners);
  out["errors"] = std::move(errors);
  out["log"] = {{"capacity", s.logCapacity},
                {"total", s.logs.total},
                {"dropped", s.logs.dropped},
                {"records", std::move(records)}};
  out["plugins"] = std::move(plugs);
  return htmlSafe(dump(out));
}

}  // namespace sluice::core::monitoring
