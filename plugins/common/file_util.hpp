#pragma once
// Small file-system helpers the file-reading sources and the file channel share: the parent of a
// path, joining a name to a directory, reading a small file, mkdir -p, and replacing a small file
// (a position file, a checkpoint, a marker) so that a crash leaves either its old content or its
// new content, never a mix or nothing. Header-only; see text_util.hpp for why shared helpers live
// in plugins/common.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <string_view>

#include "text_util.hpp"

namespace sluice::plugins::files {

// `name` under `dir`; an absolute or empty name is returned as it is / as `dir`.
inline std::string joinPath(const std::string& dir, const std::string& name) {
  if (name.empty()) return dir;
  if (name.front() == '/') return name;
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// Up to the first 64 KiB of a small file (a marker, a meta record) into `out`; false when it
// cannot be opened.
inline bool readSmallFile(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  out.clear();
  while (out.size() < 65536) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return true;
}

// The directory part of a path ("." for a bare name, "/" for a file in the root).
inline std::string parentOf(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// mkdir -p (mode 0755). Returns 0, or the errno of the directory that could not be made, and
// then sets *error (when given) to "cannot create directory '<dir>': <errno text>" or
// "'<dir>' is not a directory".
inline int makeDirs(const std::string& dir, std::string* error = nullptr) {
  if (dir.empty() || dir == "/" || dir == ".") return 0;
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return 0;
    if (error) *error = "'" + dir + "' is not a directory";
    return ENOTDIR;
  }
  if (const int e = makeDirs(parentOf(dir), error)) return e;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    const int e = errno;
    if (error) *error = "cannot create directory '" + dir + "': " + text::errnoText(e);
    return e;
  }
  return 0;
}

// Replaces the file at path with data: writes path + ".tmp", fsyncs it, renames it over path,
// then fsyncs the directory (without that the rename itself may not survive a crash). A
// temporary file left by an earlier crash is overwritten.
//
// Returns 0, or the errno of the step that failed, and then sets *error (when given) to
// "cannot <step> '<file>': <errno text>". A failure up to the rename removes the temporary file
// and leaves path as it was. When only the directory's fsync fails, path already has the new
// content but it may not survive a crash: that is reported as a failure too.
inline int writeFileAtomically(const std::string& path, std::string_view data,
                               std::string* error = nullptr) {
  const std::string tmp = path + ".tmp";
  auto fail = [&](const char* step, const std::string& file, int err) {
    if (error) *error = std::string("cannot ") + step + " '" + file + "': " + text::errnoText(err);
    return err;
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail("create", tmp, errno);  // not ours to remove (it may be a directory)
  auto failAndRemove = [&](const char* step, int err, bool close) {
    if (close) ::close(fd);
    ::unlink(tmp.c_str());
    return fail(step, tmp, err);
  };
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failAndRemove("write", errno, true);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return failAndRemove("fsync", errno, true);
  if (::close(fd) != 0) return failAndRemove("close", errno, false);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return failAndRemove("rename", errno, false);
  const std::string dir = parentOf(path);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return fail("open directory", dir, errno);
  if (::fsync(dfd) != 0) {
    const int err = errno;
    ::close(dfd);
    return fail("fsync directory", dir, err);
  }
  ::close(dfd);
  return 0;
}

}  // namespace sluice::plugins::files
