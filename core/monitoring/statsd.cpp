#include "core/monitoring/statsd.hpp"

#include <cctype>
#include <charconv>

#include "core/monitoring/render.hpp"
#include "plugins/common/text_util.hpp"

namespace sluice::core::monitoring {

namespace {

constexpr std::string_view kPrefix = "monitoring.statsd.";

// StatsD reserves ':', '|' and '@', and Graphite splits on '.': keep letters, digits, '_', '-'
// and the dots we put in ourselves.
std::string safe(std::string_view s, bool keepDots) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
                    (keepDots && c == '.');
    out += ok ? c : '_';
  }
  return out;
}

using plugins::text::lower;

std::string number(double v) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, p) : "0";
}

}  // namespace

bool isStatsdKey(std::string_view key) {
  if (key.substr(0, kPrefix.size()) != kPrefix) return false;
  const std::string_view k = key.substr(kPrefix.size());
  return k == "host" || k == "port" || k == "intervalMs" || k == "prefix";
}

bool parseStatsdOptions(const std::map<std::string, std::string>& keys, StatsdOptions& out,
                        std::string& error) {
  auto get = [&](const char* name) -> const std::string* {
    auto it = keys.find(std::string(kPrefix) + name);
    return it == keys.end() ? nullptr : &it->second;
  };
  auto integer = [&](const char* name, const std::string& text, int64_t lo, int64_t hi,
                     int64_t& v) {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc() && p == text.data() + text.size() && v >= lo && v <= hi) return true;
    error = std::string(kPrefix) + name + ": expected an integer between " + std::to_string(lo) +
            " and " + std::to_string(hi) + ", got '" + text + "'";
    return false;
  };
  if (const std::string* h = get("host")) {
    if (h->empty()) {
      error = std::string(kPrefix) + "host: expected a host name or address, got ''";
      return false;
    }
    out.host = *h;
    out.enabled = true;
  }
  int64_t v = 0;
  if (const std::string* p = get("port")) {
    if (!integer("port", *p, 1, 65535, v)) return false;
    out.port = static_cast<int>(v);
    out.enabled = true;
  }
  if (const std::string* i = get("intervalMs")) {
    if (!integer("intervalMs", *i, 100, 3600000, v)) return false;
    out.interval = std::chrono::milliseconds(v);
  }
  if (const std::string* p = get("prefix")) out.prefix = *p;
  return true;
}

std::vector<std::string> renderStatsd(const Snapshot& s, std::string_view prefix,
                                      std::map<std::string, int64_t>& last) {
  std::vector<std::string> lines;
  std::string base = safe(prefix, true);
  if (!base.empty()) base += '.';
  base += safe(s.agent, false) + ".";
  for (const auto& c : s.components) {
    if (!c.hasCounters) continue;
    const std::string path =
        base + safe(lower(c.counterType.empty() ? c.kind : c.counterType), false) + "." +
        safe(c.name, true) + ".";
    for (const auto& [name, value] : c.counters) {
      const std::string metric = path + safe(name, false);
      if (isGaugeCounter(name)) {
        lines.push_back(metric + ":" + std::to_string(value) + "|g");
        continue;
      }
      auto it = last.find(metric);
      const int64_t before = it == last.end() ? 0 : it->second;
      const int64_t delta = value >= before ? value - before : value;
      last[metric] = value;
      if (delta != 0) lines.push_back(metric + ":" + std::to_string(delta) + "|c");
    }
    if (c.kind == "CHANNEL")
      lines.push_back(path + "ChannelFillPercentage:" + number(channelFillPercent(c)) + "|g");
  }
  return lines;
}

std::vector<std::string> packStatsd(const std::vector<std::string>& lines, std::size_t maxBytes) {
  std::vector<std::string> packets;
  std::string cur;
  for (const auto& l : lines) {
    if (!cur.empty() && cur.size() + 1 + l.size() > maxBytes) {
      packets.push_back(std::move(cur));
      cur.clear();
    }
    if (!cur.empty()) cur += '\n';
    cur += l;
  }
  if (!cur.empty()) packets.push_back(std::move(cur));
  return packets;
}

StatsdReporter::StatsdReporter(const StatsdOptions& options,
                               std::function<bool(Snapshot&)> provider,
                               std::shared_ptr<spdlog::logger> log)
    : udp_(
          UdpReporterOptions{"StatsD",
                             "monitoring.statsd.host",
                             {UdpTarget{options.host, options.port}},
                             options.interval,
                             false},
          std::move(provider),
          [this, prefix = options.prefix](const Snapshot& s) {
            next_ = last_;
            // A datagram that fits every path's MTU (1500 bytes less IP and UDP headers, with
            // room).
            constexpr std::size_t kMaxPacket = 1400;
            return packStatsd(renderStatsd(s, prefix, next_), kMaxPacket);
          },
          [this](bool allSent) {
            if (allSent) last_ = std::move(next_);
          },
          std::move(log)) {}

StatsdReporter::~StatsdReporter() { stop(); }

sdk::Result StatsdReporter::start() { return udp_.start(); }

void StatsdReporter::stop() { udp_.stop(); }

}  // namespace sluice::core::monitoring
