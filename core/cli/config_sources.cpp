#include "core/cli/config_sources.hpp"

#include "core/cli/uri_config_source.hpp"
#include "core/cli/zk_config_source.hpp"

namespace sluice::core::cli {

namespace {

constexpr int64_t kUriPollSeconds = 300;  // Flume's default for http(s) URIs

}  // namespace

std::unique_ptr<ConfigSource> makeConfigSource(const CommonOptions& o, LogHub& logs) {
  auto log = logs.core("config");
  if (o.pollIntervalSec < 0)
    throw ConfigParseError("-i/--poll-interval: expected seconds >= 1, got " +
                           std::to_string(o.pollIntervalSec));
  const auto poll = [&](int64_t fallback) {
    return std::chrono::seconds(o.pollIntervalSec > 0 ? o.pollIntervalSec : fallback);
  };
  if (!o.zkConnect.empty()) {
    if (!o.confFiles.empty() || !o.confUris.empty())
      log->warn(
          "-z/--zkConnString is given: the configuration comes from ZooKeeper only, and "
          "-f/-u are ignored (as Flume does)");
    return std::make_unique<ZkConfigSource>(o.zkConnect, o.zkBasePath, o.agent,
                                            poll(kUriPollSeconds), log);
  }
  if (!o.zkBasePath.empty()) log->warn("-p/--zkBasePath has no effect without -z/--zkConnString");
  if (!o.backupDir.empty() && o.confUris.empty())
    log->warn("-b/--backup-directory has no effect without -u/--conf-uri");

  std::vector<std::unique_ptr<ConfigSource>> parts;
  if (!o.confUris.empty()) {
    if (!o.backupDir.empty() && o.agent.empty())
      throw ConfigParseError(
          "-b/--backup-directory: pass -n/--name, which names the backup "
          "copy (.<agent>.properties)");
    UriSourceOptions uo;
    uo.user = o.confUser;
    uo.password = o.confPassword;
    uo.pollInterval = poll(kUriPollSeconds);
    uo.backupDir = o.backupDir;
    uo.agent = o.agent;
    parts.push_back(std::make_unique<UriConfigSource>(o.confUris, uo, log));
  } else if (!o.confUser.empty() || !o.confPassword.empty()) {
    log->warn("--conf-user/--conf-password have no effect without -u/--conf-uri");
  }
  if (!o.confFiles.empty()) {
    std::vector<std::string> files;
    for (const auto& f : o.confFiles) files.push_back(resolveConfFile(o, f));
    parts.push_back(
        std::make_unique<FileConfigSource>(std::move(files), poll(o.reloadIntervalSec)));
  }
  if (parts.size() == 1) return std::move(parts.front());
  return std::make_unique<CompositeConfigSource>(std::move(parts));
}

}  // namespace sluice::core::cli
