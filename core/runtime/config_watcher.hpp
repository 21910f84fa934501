#pragma once
// Watches the agent's config file and calls back when its content changes. inotify on the
// file's directory catches edits at once (editors often write a new file and rename it over the
// old one, so the directory is watched, not the inode); a poll every `interval` catches what
// inotify cannot see (network filesystems, a watch limit reached). Flume polls every 30 s.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace sluice::core {

class ConfigWatcher {
 public:
  ConfigWatcher(std::string path, std::chrono::milliseconds pollInterval,
                std::function<void()> onChange);
  ~ConfigWatcher();
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  void start();
  void stop();

 private:
  void run();
  std::string fingerprint() const;  // the file's content hash, or "" when unreadable

  std::string path_;
  std::chrono::milliseconds interval_;
  std::function<void()> onChange_;
  std::string last_;
  int stopPipe_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace sluice::core
