// The store's files: log file names, directory locks, mkdir, full reads and writes.

#include "file_store_internal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace sluice::plugins::filechannel {

std::runtime_error sysError(const std::string& what, int err) {
  return std::runtime_error(what + ": " + errnoText(err));
}

void mkdirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create directory '" + dir + "': " + ec.message());
}

void fsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

std::string logFileName(uint32_t id) {
  char name[32];
  std::snprintf(name, sizeof name, "log-%08u", id);
  return name;
}

bool parseLogFileName(const char* name, uint32_t& id) {
  if (std::strncmp(name, "log-", 4) != 0) return false;
  const char* p = name + 4;
  if (!*p) return false;
  uint64_t v = 0;
  for (; *p; ++p) {
    if (*p < '0' || *p > '9') return false;
    v = v * 10 + static_cast<uint64_t>(*p - '0');
    if (v > kMaxFileId) return false;
  }
  id = static_cast<uint32_t>(v);
  return true;
}

bool preadFully(int fd, char* buf, std::size_t n, uint64_t off, int& err) {
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(off + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      err = r < 0 ? errno : EIO;
      return false;
    }
    done += static_cast<std::size_t>(r);
  }
  return true;
}

bool pwriteFully(int fd, const char* buf, std::size_t n, uint64_t off, int& err) {
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = ::pwrite(fd, buf + done, n - done, static_cast<off_t>(off + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      err = r < 0 ? errno : ENOSPC;
      return false;
    }
    done += static_cast<std::size_t>(r);
  }
  return true;
}

std::vector<std::string> distinctDirs(const StoreOptions& o) {
  std::vector<std::string> all{o.checkpointDir};
  if (!o.backupCheckpointDir.empty()) all.push_back(o.backupCheckpointDir);
  all.insert(all.end(), o.dataDirs.begin(), o.dataDirs.end());
  std::vector<std::string> out;
  std::vector<std::string> seen;
  for (const auto& d : all) {
    std::error_code ec;
    std::string canon = std::filesystem::weakly_canonical(d, ec).string();
    if (ec) canon = d;
    if (std::find(seen.begin(), seen.end(), canon) != seen.end()) continue;
    seen.push_back(canon);
    out.push_back(d);
  }
  return out;
}

std::vector<int> lockDirs(const std::vector<std::string>& dirs) {
  std::vector<int> fds;
  for (const auto& d : dirs) {
    const std::string path = d + "/" + kLockName;
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      int err = errno;
      for (int f : fds) ::close(f);
      throw sysError("cannot create lock file '" + path + "'", err);
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      for (int f : fds) ::close(f);
      if (err == EWOULDBLOCK)
        throw std::runtime_error("directory '" + d + "' is in use by another file channel (lock " +
                                 path +
                                 "); every file channel needs its own checkpointDir and dataDirs");
      throw sysError("cannot lock '" + path + "'", err);
    }
    fds.push_back(fd);
  }
  return fds;
}

std::string expandHome(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "") + path.substr(1);
  }
  return path;
}

}  // namespace sluice::plugins::filechannel
