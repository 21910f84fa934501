#include "core/monitoring/render.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>

#include "plugins/common/text_util.hpp"

namespace sluice::core::monitoring {

namespace {

// Prometheus' text of a double: NaN and +/-Inf spelled out, else as JSON writes it.
std::string num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return jsonNumber(v);
}

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
  // Open, Closed and Unhealthy are the file channel's states (Flume's FileChannelCounter): a
  // total of them would mean nothing, and StatsD must see them fall back to 0.
  return name == "ChannelSize" || name == "ChannelCapacity" || name == "OpenConnectionCount" ||
         name.ends_with("Size") || name.ends_with("Capacity") || name.ends_with("Percentage") ||
         name.ends_with("Gauge") || name == "SinksInBackoff" || name == "Open" ||
         name == "Closed" || name == "Unhealthy";
}

int64_t counterValue(const ComponentSnapshot& c, std::string_view name, int64_t def) {
  for (const auto& [k, v] : c.counters)
    if (k == name) return v;
  return def;
}

std::string groupKey(const ComponentSnapshot& c) {
  return (c.counterType.empty() ? c.kind : c.counterType) + "." + c.name;
}

double channelFillPercent(const ComponentSnapshot& c) {
  int64_t cap = counterValue(c, "ChannelCapacity");
  if (cap <= 0) return 0.0;
  return (static_cast<double>(counterValue(c, "ChannelSize")) / static_cast<double>(cap)) * 100;
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

std::string renderPrometheus(const Snapshot& s, const ProcessStats& p, const ServerCounters& srv,
                             double uptimeSeconds, std::string_view version) {
  Exposition x;
  const std::string agentLabel = "agent=\"" + labelValue(s.agent) + "\"";
  for (const auto& c : s.components) {
    std::string kind = plugins::text::lower(c.counterType.empty() ? c.kind : c.counterType);
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
        std::string gauge = name.ends_with("Count")
                                ? metricName(name.substr(0, name.size() - 5)) + "s"
                                : metricName(name);
        x.sample(gauge, "gauge", "Flume " + kind + " attribute " + name, labels,
                 std::to_string(value));
      } else {
        std::string base =
            name.ends_with("Count") ? std::string(name.substr(0, name.size() - 5)) : name;
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
               num(channelFillPercent(c)));
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

}  // namespace sluice::core::monitoring
