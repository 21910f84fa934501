#include "core/monitoring/render.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "core/monitoring/flume_metrics.hpp"

namespace sluice::core::monitoring {

namespace {

std::string lowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Shortest round-trip text of a double, as Prometheus and JSON accept it.
std::string num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, p) : "0";
}

std::string jsonNum(double v) {
  if (!std::isfinite(v)) return "null";
  return num(v);
}

int64_t counter(const ComponentSnapshot& c, std::string_view name, int64_t def = 0) {
  for (const auto& [k, v] : c.counters)
    if (k == name) return v;
  return def;
}

double fillPercent(const ComponentSnapshot& c) { return channelFillPercent(c); }

std::string groupKey(const ComponentSnapshot& c) { return flumeGroupKey(c); }

// ---- Prometheus ----

std::string labelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string metricSafe(std::string_view s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

struct Family {
  std::string type, help;
  std::vector<std::string> lines;  // complete sample lines
};

class Exposition {
 public:
  void sample(const std::string& name, const std::string& type, const std::string& help,
              const std::string& labels, const std::string& value, const std::string& suffix = "") {
    Family& f = families_[name];
    if (f.type.empty()) {
      f.type = type;
      f.help = help;
    }
    std::string line = name + suffix;
    if (!labels.empty()) line += "{" + labels + "}";
    line += " " + value + "\n";
    f.lines.push_back(std::move(line));
  }
  std::string str() const {
    std::string out;
    for (const auto& [name, f] : families_) {
      out += "# HELP " + name + " " + f.help + "\n";
      out += "# TYPE " + name + " " + f.type + "\n";
      for (const auto& l : f.lines) out += l;
    }
    return out;
  }

 private:
  std::map<std::string, Family> families_;
};

}  // namespace

bool isGaugeCounter(std::string_view name) {
  return name == "ChannelSize" || name == "ChannelCapacity" || name == "OpenConnectionCount" ||
         endsWith(name, "Size") || endsWith(name, "Capacity") || endsWith(name, "Percentage") ||
         endsWith(name, "Gauge") || name == "SinksInBackoff";
}

double channelFillPercent(const ComponentSnapshot& c) {
  int64_t cap = counter(c, "ChannelCapacity");
  if (cap <= 0) return 0.0;
  return (static_cast<double>(counter(c, "ChannelSize")) / static_cast<double>(cap)) * 100;
}

std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else if (c == '<') {
          out += "\\u003c";  // safe to embed in HTML
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
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

std::vector<std::string> secretValues(const Snapshot& s,
                                      const std::vector<std::pair<std::string, std::string>>& extra,
                                      const std::vector<std::string>& known) {
  std::vector<std::string> out = known;
  for (const auto* kv : {&s.config, &extra})
    for (const auto& [k, v] : *kv)
      if (isSecretKey(k) && !v.empty()) out.push_back(v);
  // Longest first, so that a secret containing another is masked whole.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void maskSnapshotSecrets(Snapshot& s,
                         const std::vector<std::pair<std::string, std::string>>& extra,
                         const std::vector<std::string>& known) {
  const std::vector<std::string> secrets = secretValues(s, extra, known);
  std::string masked;
  for (auto& r : s.logs.records)
    if (maskSecretsInto(r.message, secrets, masked)) r.message = std::move(masked);
  for (auto& r : s.runners)
    if (maskSecretsInto(r.lastError, secrets, masked)) r.lastError = std::move(masked);
  for (auto& [k, v] : s.config)
    if (isSecretKey(k))
      v = kSecretMask;
    else if (maskSecretsInto(v, secrets, masked))
      v = std::move(masked);
}

std::string snakeCase(std::string_view camel) {
  std::string out;
  for (std::size_t i = 0; i < camel.size(); ++i) {
    char c = camel[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      bool prevLower = i > 0 && (std::islower(static_cast<unsigned char>(camel[i - 1])) ||
                                 std::isdigit(static_cast<unsigned char>(camel[i - 1])));
      bool nextLower =
          i + 1 < camel.size() && std::islower(static_cast<unsigned char>(camel[i + 1]));
      bool prevUpper = i > 0 && std::isupper(static_cast<unsigned char>(camel[i - 1]));
      if (!out.empty() && out.back() != '_' && (prevLower || (prevUpper && nextLower))) out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (std::isalnum(static_cast<unsigned char>(c))) {
      out += c;
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  return out;
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

ProcessStats readProcessStats() {
  ProcessStats p;
  long page = sysconf(_SC_PAGESIZE);
  long ticks = sysconf(_SC_CLK_TCK);
  {
    std::ifstream f("/proc/self/stat");
    std::string line;
    if (std::getline(f, line)) {
      // Fields after the command name in parentheses (which may hold spaces).
      std::size_t close = line.rfind(')');
      if (close != std::string::npos) {
        std::istringstream in(line.substr(close + 2));
        std::vector<std::string> fld;
        std::string tok;
        while (in >> tok) fld.push_back(tok);
        // fld[0] is field 3 (state): utime=14, stime=15, num_threads=20, starttime=22, vsize=23,
        // rss=24 -> indexes 11, 12, 17, 19, 20, 21.
        if (fld.size() > 21 && ticks > 0) {
          p.cpuSeconds = (std::stod(fld[11]) + std::stod(fld[12])) / static_cast<double>(ticks);
          p.threads = std::stod(fld[17]);
          double startTicks = std::stod(fld[19]);
          p.virtualBytes = std::stod(fld[20]);
          p.residentBytes = std::stod(fld[21]) * static_cast<double>(page);
          std::ifstream st("/proc/stat");
          std::string key;
          double btime = 0;
          while (st >> key) {
            if (key == "btime") {
              st >> btime;
              break;
            }
            st.ignore(1 << 20, '\n');
          }
          p.startTimeSeconds = btime + startTicks / static_cast<double>(ticks);
          p.ok = true;
        }
      }
    }
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    int n = 0;
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
    p.openFds = n - 1;  // not counting the directory stream itself
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) p.maxFds = static_cast<double>(rl.rlim_cur);
  return p;
}

std::string renderPrometheus(const Snapshot& s, const ProcessStats& p, const ServerCounters& srv,
                             double uptimeSeconds, std::string_view version) {
  Exposition x;
  const std::string agentLabel = "agent=\"" + labelValue(s.agent) + "\"";
  for (const auto& c : s.components) {
    std::string kind = lowerAscii(c.counterType.empty() ? c.kind : c.counterType);
    std::string labels = agentLabel + ",component=\"" + labelValue(c.name) + "\",type=\"" +
                         labelValue(c.type) + "\"";
    x.sample("flume_component_up", "gauge",
             "1 while the component is started (lifecycle START), 0 otherwise",
             labels + ",kind=\"" + labelValue(c.kind) + "\"", c.state == "START" ? "1" : "0");
    if (!c.hasCounters) continue;
    x.sample(
        "flume_" + metricSafe(kind) + "_start_time_seconds", "gauge",
        "Flume StartTime: when the " + kind + " last started, seconds since the epoch (0 = never)",
        labels, num(static_cast<double>(c.startTime) / 1000.0));
    for (const auto& [name, value] : c.counters) {
      // "ChannelSize" of a channel -> flume_channel_size, not flume_channel_channel_size.
      auto metricName = [&](std::string_view n) {
        std::string snake = snakeCase(n);
        std::string prefix = metricSafe(kind) + "_";
        if (snake.rfind(prefix, 0) == 0 && snake.size() > prefix.size())
          snake.erase(0, prefix.size());
        return "flume_" + metricSafe(kind) + "_" + snake;
      };
      if (isGaugeCounter(name)) {
        // Prometheus reserves _count for histograms: OpenConnectionCount -> open_connections.
        std::string gauge = endsWith(name, "Count")
                                ? metricName(name.substr(0, name.size() - 5)) + "s"
                                : metricName(name);
        x.sample(gauge, "gauge", "Flume " + kind + " attribute " + name, labels,
                 std::to_string(value));
      } else {
        std::string base =
            endsWith(name, "Count") ? std::string(name.substr(0, name.size() - 5)) : name;
        x.sample(metricName(base) + "_total", "counter", "Flume " + kind + " counter " + name,
                 labels, std::to_string(value));
      }
    }
    // String attributes as info metrics: flume_sink_processor_active_sink_info{active_sink="k1"} 1.
    for (const auto& [name, value] : c.attributes) {
      const std::string snake = snakeCase(name);
      x.sample("flume_" + metricSafe(kind) + "_" + snake + "_info", "gauge",
               "Flume " + kind + " attribute " + name + " (as the label " + snake + ")",
               labels + "," + snake + "=\"" + labelValue(value) + "\"", "1");
    }
    if (c.kind == "CHANNEL")
      x.sample("flume_channel_fill_percentage", "gauge",
               "Flume ChannelFillPercentage: ChannelSize / ChannelCapacity * 100", labels,
               num(fillPercent(c)));
  }
  // The configured type of a sink (for the `type` label every sluice series carries).
  auto sinkType = [&](const std::string& name) -> std::string {
    for (const auto& c : s.components)
      if (c.kind == "SINK" && c.name == name) return c.type;
    return "";
  };
  for (const auto& r : s.runners) {
    // A lone sink's runner has its sink's type; a group's runner its processor's.
    const std::string runnerType = r.group ? r.processor : sinkType(r.name);
    std::string labels = agentLabel + ",component=\"" + labelValue(r.name) + "\",type=\"" +
                         labelValue(runnerType) + "\",processor=\"" + labelValue(r.processor) +
                         "\"";
    const std::string name = "flume_sink_batch_duration_seconds";
    const std::string help =
        "Duration of a sink's process() calls that delivered a batch, per sink (label group: "
        "its sink group, if any)";
    for (const auto& [sink, latency] : r.latency) {
      std::string sinkLabels = agentLabel + ",component=\"" + labelValue(sink) + "\",type=\"" +
                               labelValue(sinkType(sink)) + "\"";
      if (r.group) sinkLabels += ",group=\"" + labelValue(r.name) + "\"";
      sinkLabels += ",processor=\"" + labelValue(r.processor) + "\"";
      int64_t cum = 0;
      for (std::size_t i = 0; i < latency.buckets.size(); ++i) {
        cum += latency.buckets[i];
        std::string le = "+Inf";
        if (i < latency.boundsSeconds.size()) {
          char buf[32];
          std::snprintf(buf, sizeof(buf), "%.6g", latency.boundsSeconds[i]);
          le = buf;
        }
        x.sample(name, "histogram", help, sinkLabels + ",le=\"" + le + "\"", std::to_string(cum),
                 "_bucket");
      }
      x.sample(name, "histogram", help, sinkLabels, num(latency.sumSeconds), "_sum");
      x.sample(name, "histogram", help, sinkLabels, std::to_string(cum), "_count");
    }
    x.sample("flume_sink_runner_failures_total", "counter",
             "Failed sink process() calls (EventDeliveryException), per sink runner", labels,
             std::to_string(r.failureCount));
    x.sample("flume_sink_runner_failing_seconds", "gauge",
             "How long the sink runner has been failing without a success (0 = not failing)",
             labels,
             num(r.failingSinceMs > 0 && s.takenAtMs > r.failingSinceMs
                     ? static_cast<double>(s.takenAtMs - r.failingSinceMs) / 1000.0
                     : 0.0));
  }
  if (p.ok) {
    x.sample("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", "",
             num(p.residentBytes));
    x.sample("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", "",
             num(p.virtualBytes));
    x.sample("process_cpu_seconds_total", "counter",
             "Total user and system CPU time spent in seconds.", "", num(p.cpuSeconds));
    x.sample("process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds.", "", num(p.startTimeSeconds));
    x.sample("process_threads", "gauge", "Number of OS threads in the process.", "",
             num(p.threads));
  }
  x.sample("process_open_fds", "gauge", "Number of open file descriptors.", "", num(p.openFds));
  x.sample("process_max_fds", "gauge", "Maximum number of open file descriptors.", "",
           num(p.maxFds));
  x.sample("sluice_uptime_seconds", "gauge", "Seconds since the monitoring server started.",
           agentLabel, num(uptimeSeconds));
  x.sample("sluice_build_info", "gauge", "sluice version, always 1.",
           agentLabel + ",version=\"" + labelValue(version) + "\"", "1");
  x.sample("sluice_agent_available", "gauge",
           "1 when the agent could be read, 0 while it is starting, reloading or stopping.",
           agentLabel, s.available ? "1" : "0");
  auto srvCounter = [&](const char* n, const char* help, int64_t v) {
    x.sample(std::string("sluice_monitoring_") + n + "_total", "counter", help, "",
             std::to_string(v));
  };
  srvCounter("connections_accepted", "Monitoring HTTP connections accepted.", srv.accepted);
  srvCounter("connections_refused",
             "Monitoring HTTP connections refused over the connection limit.", srv.refused);
  srvCounter("requests", "Monitoring HTTP requests served.", srv.requests);
  srvCounter("bad_requests", "Malformed or oversized monitoring HTTP requests.", srv.badRequests);
  srvCounter("timeouts", "Monitoring HTTP connections closed by a timeout.", srv.timedOut);
  x.sample("sluice_monitoring_open_connections", "gauge", "Open monitoring HTTP connections.", "",
           std::to_string(srv.open));
  return x.str();
}

ReadyResult evaluateReady(const Snapshot& s, const ReadyOptions& o, int64_t nowMs) {
  ReadyResult r;
  std::vector<std::string> reasons;
  std::string checks;
  auto check = [&](const std::string& name, const std::string& component, bool ok,
                   const std::string& detail) {
    if (!checks.empty()) checks += ", ";
    checks += "{\"check\": " + jsonString(name) + ", \"component\": " + jsonString(component) +
              ", \"ok\": " + (ok ? "true" : "false") + ", \"detail\": " + jsonString(detail) + "}";
    if (!ok) reasons.push_back(component.empty() ? detail : component + ": " + detail);
  };
  check("agent", s.agent, s.available && s.running,
        !s.available ? "the agent is starting, reloading or stopping"
                     : (s.running ? "running" : "not running"));
  if (s.available) {
    for (const auto& c : s.components) {
      // Sink processors and interceptors follow their runner and source, checked already.
      if (c.kind == "SINK_PROCESSOR" || c.kind == "INTERCEPTOR") continue;
      check("started", c.kind + "." + c.name, c.state == "START", "lifecycle " + c.state);
      if (c.kind == "CHANNEL") {
        double fill = fillPercent(c);
        char buf[96];
        std::snprintf(buf, sizeof(buf), "%.1f%% full (threshold %.1f%%)", fill,
                      o.maxChannelFillPercent);
        check("channelFill", "CHANNEL." + c.name, fill <= o.maxChannelFillPercent, buf);
      }
    }
    for (const auto& run : s.runners) {
      std::string comp = (run.group ? "SINK_GROUP." : "SINK.") + run.name;
      if (!run.started) check("started", comp, false, "sink runner not started");
      int64_t failing =
          run.failingSinceMs > 0 ? std::max<int64_t>(0, nowMs - run.failingSinceMs) : 0;
      std::string detail = run.failingSinceMs > 0
                               ? "failing for " + std::to_string(failing) + " ms (threshold " +
                                     std::to_string(o.maxSinkFailingMs) + " ms): " + run.lastError
                               : "delivering";
      check("sinkFailing", comp, failing <= o.maxSinkFailingMs, detail);
    }
  }
  r.ready = reasons.empty();
  std::string rs;
  for (const auto& x : reasons) rs += (rs.empty() ? "" : ", ") + jsonString(x);
  r.json = "{\"status\": " + jsonString(r.ready ? "READY" : "NOT_READY") +
           ", \"ready\": " + (r.ready ? "true" : "false") + ", \"agent\": " + jsonString(s.agent) +
           ", \"maxChannelFillPercent\": " + jsonNum(o.maxChannelFillPercent) +
           ", \"maxSinkFailingMs\": " + std::to_string(o.maxSinkFailingMs) + ", \"reasons\": [" +
           rs + "], \"checks\": [" + checks + "]}\n";
  return r;
}

std::string renderHealth(const Snapshot& s, double uptimeSeconds, std::string_view version) {
  return "{\"status\": \"UP\", \"agent\": " + jsonString(s.agent) +
         ", \"version\": " + jsonString(version) +
         ", \"uptimeSeconds\": " + jsonNum(uptimeSeconds) + "}\n";
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
          ics += ", \"key\": " + jsonString(groupKey(*it->second)) +
                 ", \"received\": " + std::to_string(counter(*it->second, "EventReceivedCount")) +
                 ", \"accepted\": " + std::to_string(counter(*it->second, "EventAcceptedCount")) +
                 ", \"dropped\": " + std::to_string(counter(*it->second, "EventDroppedCount"));
        ics += "}";
      }
      ics += "]";
      sources += (sources.empty() ? "" : ", ") + common + ", \"channels\": " + list(c.channels) +
                 ", \"selector\": " + jsonString(c.selector) + ", \"interceptors\": " + ics + "}";
    } else if (c.kind == "CHANNEL") {
      channels += (channels.empty() ? "" : ", ") + common +
                  ", \"fillPercentage\": " + jsonNum(fillPercent(c)) + "}";
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
         ", \"uptimeSeconds\": " + jsonNum(uptimeSeconds) +
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
