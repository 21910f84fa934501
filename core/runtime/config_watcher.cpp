#include "core/runtime/config_watcher.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice::core {

ConfigWatcher::ConfigWatcher(std::string path, std::chrono::milliseconds pollInterval,
                             std::function<void()> onChange)
    : path_(std::move(path)), interval_(pollInterval), onChange_(std::move(onChange)) {}

ConfigWatcher::~ConfigWatcher() { stop(); }

std::string ConfigWatcher::fingerprint() const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  // The content itself is the fingerprint: config files are small, and a hash would only add
  // a (tiny) chance of missing a change.
  return "c" + ss.str();
}

void ConfigWatcher::start() {
  if (thread_.joinable()) return;
  last_ = fingerprint();
  if (pipe(stopPipe_) != 0) stopPipe_[0] = stopPipe_[1] = -1;
  thread_ = std::thread([this] { run(); });
}

void ConfigWatcher::stop() {
  if (!thread_.joinable()) return;
  if (stopPipe_[1] >= 0) (void)!write(stopPipe_[1], "x", 1);
  thread_.join();
  for (int& fd : stopPipe_)
    if (fd >= 0) close(fd), fd = -1;
}

void ConfigWatcher::run() {
  namespace fs = std::filesystem;
  fs::path file(path_);
  std::string dir = file.has_parent_path() ? file.parent_path().string() : ".";
  std::string name = file.filename().string();
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd >= 0 &&
      inotify_add_watch(fd, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY) < 0) {
    close(fd);
    fd = -1;  // fall back to polling alone
  }
  alignas(inotify_event) char buf[4096];
  for (;;) {
    pollfd fds[2] = {{stopPipe_[0], POLLIN, 0}, {fd, POLLIN, 0}};
    int n = poll(fds, fd >= 0 ? 2 : 1, static_cast<int>(interval_.count()));
    if (n > 0 && (fds[0].revents & POLLIN)) break;
    bool mayHaveChanged = n == 0;  // poll timeout: check anyway
    if (n > 0 && fd >= 0 && (fds[1].revents & POLLIN)) {
      ssize_t len;
      while ((len = read(fd, buf, sizeof buf)) > 0) {
        for (char* p = buf; p < buf + len;) {
          auto* ev = reinterpret_cast<inotify_event*>(p);
          if (ev->len > 0 && name == ev->name) mayHaveChanged = true;
          p += sizeof(inotify_event) + ev->len;
        }
      }
    }
    if (!mayHaveChanged) continue;
    std::string now = fingerprint();
    // A file being rewritten can be briefly empty or missing: wait for the next event.
    if (now.empty() || now == "c" || now == last_) continue;
    last_ = std::move(now);
    onChange_();
  }
  if (fd >= 0) close(fd);
}

}  // namespace sluice::core
