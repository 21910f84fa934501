#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <string>
#include <system_error>

#include "core/config/config_source.hpp"
#include "core/config/model.hpp"
#include "plugins/common/text_util.hpp"

namespace sluice::core {

namespace {

using plugins::text::errnoText;
using plugins::text::trimmedSpace;

// POSIX I/O rather than ifstream: ifstream "opens" a directory and then reads nothing, and it
// loses errno, which is what the user needs to see ("Permission denied").
std::string readWholeFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw ConfigParseError("cannot read config file '" + path + "': " + errnoText(err));
  }
  std::string out;
  int err = 0;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    err = errno;
  } else if (S_ISDIR(st.st_mode)) {
    err = EISDIR;
  } else {
    if (S_ISREG(st.st_mode) && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
    char buf[65536];
    while (true) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0) {
        break;
      } else if (errno != EINTR) {
        err = errno;
        break;
      }
    }
  }
  ::close(fd);
  if (err != 0) throw ConfigParseError("cannot read config file '" + path + "': " + errnoText(err));
  return out;
}

bool endsWithNoCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  s = s.substr(s.size() - suffix.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != suffix[i]) return false;
  }
  return true;
}

}  // namespace

bool isTomlPath(std::string_view path) { return endsWithNoCase(path, ".toml"); }

std::string readConfigText(const std::string& path) { return readWholeFile(path); }

RawConfig loadConfigFile(const std::string& path, Diagnostics& diags) {
  const std::string text = readWholeFile(path);
  if (isTomlPath(path)) return parseToml(text, path);
  return parseProperties(text, path, &diags);
}

RawConfig loadConfigFile(const std::string& path) {
  Diagnostics ignored;
  return loadConfigFile(path, ignored);
}

void applyOverrides(RawConfig& raw,
                    const std::vector<std::pair<std::string, std::string>>& overrides) {
  for (const auto& [k, v] : overrides) {
    // Trimmed like file values, so `-D "a1.channels.c1.capacity = 10"` means what it says.
    std::string key = trimmedSpace(k);
    // The value is not quoted: without a key nothing tells whether it is a secret.
    if (key.empty()) throw ConfigParseError("-D: an override has an empty key ('" + k + "=...')");
    raw.entries[key] = sdk::Parameter{trimmedSpace(v), sdk::Location{"-D", 0}};
  }
}

std::vector<std::string> agentNames(const RawConfig& raw) {
  std::set<std::string> names;
  for (const auto& [key, _] : raw.entries) {
    const std::size_t dot = key.find('.');
    if (dot == std::string::npos || dot == 0) continue;
    const std::size_t end = key.find('.', dot + 1);
    const std::string_view section =
        std::string_view(key).substr(dot + 1, end == std::string::npos ? end : end - dot - 1);
    if (isComponentSection(section)) names.insert(key.substr(0, dot));
  }
  return {names.begin(), names.end()};
}

}  // namespace sluice::core
