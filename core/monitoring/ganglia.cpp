#include "core/monitoring/ganglia.hpp"

#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstdint>

#include "core/monitoring/flume_metrics.hpp"
#include "plugins/common/text_util.hpp"

namespace sluice::core::monitoring {

namespace {

using plugins::text::lower;

// Flume's GangliaServer constants.
constexpr std::string_view kUnits = "";
constexpr uint32_t kSlopeBoth = 3;
constexpr uint32_t kTmax = 60;
constexpr uint32_t kDmax = 0;
// gm_protocol.x: Ganglia_msg_formats (3.1) and Ganglia_message_formats (3.0).
constexpr uint32_t kMetadataFull = 128;
constexpr uint32_t kMetricString = 133;
constexpr uint32_t kMetricUserDefined = 0;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// XDR (RFC 4506): big-endian 32-bit unsigned ints; strings as their length, the bytes, and
// zero padding to a multiple of 4.
class Xdr {
 public:
  explicit Xdr(std::string& out) : out_(out) {}
  Xdr& u32(uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
    out_.append(b, 4);
    return *this;
  }
  Xdr& str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
    out_.append((4 - s.size() % 4) % 4, '\0');
    return *this;
  }

 private:
  std::string& out_;
};

// Ganglia 3.1: Ganglia_metadata_msg { gmetadata_full: Ganglia_metadatadef }.
std::string metadata31(std::string_view host, std::string_view name, std::string_view type) {
  std::string d;
  Xdr(d)
      .u32(kMetadataFull)
      .str(host)
      .str(name)
      .u32(0)  // spoof: false
      .str(type)
      .str(name)
      .str(kUnits)
      .u32(kSlopeBoth)
      .u32(kTmax)
      .u32(kDmax)
      .u32(1)  // extra data entries
      .str("GROUP")
      .str("flume");
  return d;
}

// Ganglia 3.1: Ganglia_value_msg { gmetric_string: Ganglia_gmetric_string }.
std::string value31(std::string_view host, std::string_view name, std::string_view value) {
  std::string d;
  Xdr(d).u32(kMetricString).str(host).str(name).u32(0).str("%s").str(value);
  return d;
}

// Ganglia 3.0: Ganglia_message { metric_user_defined: Ganglia_gmetric_message }.
std::string message30(std::string_view name, std::string_view value, std::string_view type) {
  std::string d;
  Xdr(d)
      .u32(kMetricUserDefined)
      .str(type)
      .str(name)
      .str(value)
      .str(kUnits)
      .u32(kSlopeBoth)
      .u32(kTmax)
      .u32(kDmax);
  return d;
}

bool parseHost(std::string_view entry, UdpTarget& out) {
  entry = trim(entry);
  const std::size_t colon = entry.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = entry.substr(0, colon), port = entry.substr(colon + 1);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (host.empty() || ec != std::errc() || ptr != port.data() + port.size() || p < 1 || p > 65535)
    return false;
  out.host = std::string(host);
  out.port = p;
  return true;
}

std::string localHostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

bool isGangliaType(std::string_view type) {
  const std::string t = lower(trim(type));
  return t == "ganglia" || t == "org.apache.flume.instrumentation.gangliaserver";
}

bool isGangliaSwitch(std::string_view name) {
  return name == "hosts" || name == "pollFrequency" || name == "isGanglia3";
}

bool parseGangliaSwitches(const std::vector<std::pair<std::string, std::string>>& switches,
                          GangliaOptions& out, std::string& error,
                          std::vector<std::string>& warnings) {
  const std::string* hosts = nullptr;
  for (const auto& [name, value] : switches) {
    const std::string sw = "-Dflume.monitoring." + name;
    if (name == "hosts") {
      hosts = &value;
    } else if (name == "pollFrequency") {
      const std::string_view t = trim(value);
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec != std::errc() || ptr != t.data() + t.size() || v < 1 || v > 86400) {
        error = sw + ": expected a number of seconds between 1 and 86400, got '" + value + "'";
        return false;
      }
      out.pollFrequency = std::chrono::seconds(v);
    } else if (name == "isGanglia3") {
      const std::string t = lower(trim(value));
      if (t != "true" && t != "false") {
        error = sw + ": expected true or false, got '" + value + "'";
        return false;
      }
      out.isGanglia3 = t == "true";
    }
  }
  if (!hosts || trim(*hosts).empty()) {
    error =
        "-Dflume.monitoring.hosts: the Ganglia reporter needs the gmond hosts "
        "(host:port,host:port...); the list cannot be empty";
    return false;
  }
  out.hosts.clear();
  std::string_view rest = *hosts;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view entry = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    UdpTarget t;
    if (parseHost(entry, t))
      out.hosts.push_back(std::move(t));
    else
      warnings.push_back("-Dflume.monitoring.hosts: invalid Ganglia host '" +
                         std::string(trim(entry)) + "' (expected host:port); skipped");
  }
  if (out.hosts.empty()) {
    error = "-Dflume.monitoring.hosts: no valid Ganglia hosts in '" + *hosts +
            "' (expected host:port,host:port...)";
    return false;
  }
  out.enabled = true;
  return true;
}

bool isJavaFloat(std::string_view text) {
  // Java trims characters <= ' ' at both ends.
  while (!text.empty() && static_cast<unsigned char>(text.front()) <= ' ') text.remove_prefix(1);
  while (!text.empty() && static_cast<unsigned char>(text.back()) <= ' ') text.remove_suffix(1);
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  const std::string_view body = text.substr(i);
  if (body == "NaN" || body == "Infinity") return true;
  auto digits = [&] {
    const std::size_t from = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    return i - from;
  };
  std::size_t mantissa = digits();
  if (i < text.size() && text[i] == '.') {
    ++i;
    mantissa += digits();
  }
  if (mantissa == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  if (i < text.size() && std::string_view("fFdD").find(text[i]) != std::string_view::npos) ++i;
  return i == text.size();
}

std::vector<std::string> renderGanglia(const Snapshot& s, std::string_view host, bool ganglia3) {
  std::vector<std::string> out;
  for (const FlumeGroup& g : flumeGroups(s)) {
    for (const auto& [attribute, value] : g.attributes) {
      const std::string name = "flume." + g.key + "." + attribute;
      const std::string_view type = isJavaFloat(value) ? "float" : "string";
      if (ganglia3) {
        out.push_back(message30(std::string(host) + "." + name, value, type));
      } else {
        out.push_back(metadata31(host, name, type));
        out.push_back(value31(host, name, value));
      }
    }
  }
  return out;
}

GangliaReporter::GangliaReporter(const GangliaOptions& options, std::function<bool(Snapshot&)> provider,
                                 std::shared_ptr<spdlog::logger> log)
    : host_(localHostName()),
      udp_(
          UdpReporterOptions{
              options.isGanglia3 ? "Ganglia 3.0" : "Ganglia 3.1", "-Dflume.monitoring.hosts",
              options.hosts,
              std::chrono::duration_cast<std::chrono::milliseconds>(options.pollFrequency), true},
          std::move(provider),
          [this, ganglia3 = options.isGanglia3](const Snapshot& s) {
            return renderGanglia(s, host_, ganglia3);
          },
          {}, std::move(log)) {}

sdk::Result GangliaReporter::start() { return udp_.start(); }

void GangliaReporter::stop() { udp_.stop(); }

}  // namespace sluice::core::monitoring
