#include "core/log/log_outputs.hpp"
#include "plugins/common/text_util.hpp"

#include <cctype>
#include <charconv>

namespace sluice::core {

namespace {

using plugins::text::lower;

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

}  // namespace

bool FlumeLogSwitches::take(const std::string& key, const std::string& value) {
  if (key == "flume.root.logger") {
    rootGiven_ = true;
    root_ = value;
  } else if (key == "flume.log.dir") {
    dirGiven_ = true;
    dir_ = trim(value);
  } else if (key == "flume.log.file") {
    fileGiven_ = true;
    file_ = trim(value);
  } else {
    return false;
  }
  return true;
}

std::string FlumeLogSwitches::level() const {
  return rootGiven_ ? trim(root_.substr(0, root_.find(','))) : std::string();
}

bool FlumeLogSwitches::apply(LogOutputs& out, std::vector<std::string>& warnings,
                             std::string& error) const {
  if (dir_.empty() || file_.empty()) {
    error = std::string(dir_.empty() ? "-Dflume.log.dir" : "-Dflume.log.file") + ": expected a " +
            (dir_.empty() ? "directory" : "file name") + ", got ''";
    return false;
  }
  const std::string path = dir_ + "/" + file_;
  if (!rootGiven_) {
    // Flume's log4j configuration logs INFO to LOGFILE: naming the file asks for it.
    if (dirGiven_ || fileGiven_) {
      out.console = false;
      out.file = path;
    }
    return true;
  }
  bool console = false, logfile = false;
  std::size_t at = root_.find(',');
  while (at != std::string::npos) {
    const std::size_t next = root_.find(',', at + 1);
    const std::string name =
        trim(root_.substr(at + 1, next == std::string::npos ? next : next - at - 1));
    at = next;
    if (name.empty()) continue;
    const std::string l = lower(name);
    if (l == "console")
      console = true;
    else if (l == "logfile")
      logfile = true;
    else
      warnings.push_back("-Dflume.root.logger: appender '" + name +
                         "' is not one sluice knows (console: stderr, LOGFILE: the file "
                         "flume.log.dir/flume.log.file); ignored");
  }
  out.console = console || !logfile;
  out.file = logfile ? path : std::string();
  return true;
}

bool parseFileSize(const std::string& text, uint64_t& bytes) {
  const std::string t = trim(text);
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
  if (ec != std::errc() || p == t.data()) return false;
  std::string unit = lower(trim(std::string(p, t.data() + t.size())));
  unsigned shift = 0;
  if (unit.empty() || unit == "b" || unit == "bytes")
    shift = 0;
  else if (unit == "kb" || unit == "k")
    shift = 10;
  else if (unit == "mb" || unit == "m")
    shift = 20;
  else if (unit == "gb" || unit == "g")
    shift = 30;
  else
    return false;
  if (n > (UINT64_MAX >> shift)) return false;
  bytes = n << shift;
  return true;
}

}  // namespace sluice::core
