// The spooling source's progress on disk: the meta record (how far the current file was read,
// written after each committed batch) and the per-file markers that tell a completed or
// quarantined file from a new one of the same name. Split from spooldir_source.cpp, which lists,
// opens and reads the files.

#include "spooldir_source.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_util.hpp"
#include "text_util.hpp"

namespace sluice::plugins::spooldir {

namespace {

using files::joinPath;
using files::readSmallFile;
using text::errnoText;

template <class T>
bool parseNum(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// FNV-1a, 64 bits: enough to detect a torn or damaged record.
uint64_t checksum(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}
}  // namespace

std::string formatMeta(const SpoolMeta& m) {
  std::string body = "sluice-spooldir-meta 2\n" + std::to_string(m.seq) + "\n" +
                     std::to_string(m.offset) + "\n" + std::to_string(m.id.dev) + "\n" +
                     std::to_string(m.id.ino) + "\n" + std::to_string(m.id.size) + "\n" +
                     std::to_string(m.id.mtimeNs) + "\n" + m.path + "\n";
  return body + std::to_string(checksum(body)) + "\n";
}

std::optional<SpoolMeta> parseMeta(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t from = 0;
  while (from < text.size() && lines.size() < 10) {
    const std::size_t nl = text.find('\n', from);
    if (nl == std::string_view::npos) return std::nullopt;  // a complete record ends in \n
    lines.push_back(text.substr(from, nl - from));
    from = nl + 1;
  }
  if (lines.size() != 9 || from != text.size() || lines[0] != "sluice-spooldir-meta 2")
    return std::nullopt;
  uint64_t sum = 0;
  const std::size_t bodyLen = static_cast<std::size_t>(lines[8].data() - text.data());
  if (!parseNum(lines[8], sum) || sum != checksum(text.substr(0, bodyLen))) return std::nullopt;
  SpoolMeta m;
  if (!parseNum(lines[1], m.seq) || !parseNum(lines[2], m.offset) ||
      !parseNum(lines[3], m.id.dev) || !parseNum(lines[4], m.id.ino) ||
      !parseNum(lines[5], m.id.size) || !parseNum(lines[6], m.id.mtimeNs) || lines[7].empty() ||
      m.offset < 0 || m.id.size < 0 || m.offset > m.id.size)
    return std::nullopt;
  m.path = std::string(lines[7]);
  return m;
}

std::optional<SpoolMeta> parseMetaFile(std::string_view data) {
  std::optional<SpoolMeta> best;
  for (std::size_t slot = 0; slot < 2; ++slot) {
    const std::size_t at = slot * kMetaSlotBytes;
    if (at >= data.size()) break;
    std::string_view rec = data.substr(at, kMetaSlotBytes);
    rec = rec.substr(0, rec.find('\0'));
    auto m = parseMeta(rec);
    if (m && (!best || m->seq > best->seq)) best = std::move(m);
  }
  return best;
}

// ---- Progress and markers ----

bool SpoolDirSource::writeMeta() {
  const std::string path = joinPath(settings_.trackerDir, kMetaName);
  if (metaFd_ < 0) {
    metaFd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (metaFd_ < 0) {
      logger().error("cannot open progress file ", path, ": ", errnoText(errno),
                     "; after a crash this file would be read again from an earlier point");
      return false;
    }
  }
  const SpoolMeta m{cur_->path, cur_->id, cur_->committed, ++metaSeq_};
  std::string rec = formatMeta(m);
  if (rec.size() >= kMetaSlotBytes) {
    logger().error("path too long for the progress record: ", cur_->path);
    return false;
  }
  rec += '\0';
  // Alternate between the two slots: a write torn by a power loss leaves the other one intact.
  const off_t at = static_cast<off_t>((metaSeq_ & 1) * kMetaSlotBytes);
  ssize_t w;
  do {
    w = ::pwrite(metaFd_, rec.data(), rec.size(), at);
  } while (w < 0 && errno == EINTR);
  if (w != static_cast<ssize_t>(rec.size())) {
    logger().error("cannot write progress file ", path, ": ",
                   w < 0 ? errnoText(errno) : std::string("short write"),
                   "; after a crash this file would be read again from an earlier point");
    return false;
  }
  const auto now = std::chrono::steady_clock::now();
  if (settings_.metaSyncInterval.count() == 0 ||
      now - lastMetaSync_ >= settings_.metaSyncInterval) {
    if (::fdatasync(metaFd_) != 0)
      logger().warn("fdatasync of progress file ", path, ": ", errnoText(errno));
    lastMetaSync_ = now;
  }
  return true;
}

void SpoolDirSource::closeMeta() {
  if (metaFd_ < 0) return;
  ::fdatasync(metaFd_);
  ::close(metaFd_);
  metaFd_ = -1;
}

void SpoolDirSource::removeMeta() {
  if (metaFd_ >= 0) ::close(metaFd_);
  metaFd_ = -1;
  const std::string path = joinPath(settings_.trackerDir, kMetaName);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    logger().warn("cannot remove progress file ", path, ": ", errnoText(errno));
}

std::string SpoolDirSource::markerPath(const std::string& rel) const {
  return joinPath(settings_.trackerDir, rel + settings_.fileSuffix);
}

std::optional<FileIdentity> SpoolDirSource::readMarker(const std::string& rel) const {
  std::string text;
  if (!readSmallFile(markerPath(rel), text)) return std::nullopt;
  FileIdentity id;
  // A marker written by Flume is empty: it says "done" without an identity; trust the name.
  unsigned long long dev = 0, ino = 0;
  long long size = 0, mtime = 0;
  if (std::sscanf(text.c_str(), "%llu %llu %lld %lld", &dev, &ino, &size, &mtime) != 4) {
    struct stat st;
    if (::stat(joinPath(settings_.spoolDir, rel).c_str(), &st) == 0) return identityFrom(st);
    return id;
  }
  id.dev = dev;
  id.ino = ino;
  id.size = size;
  id.mtimeNs = mtime;
  return id;
}

}  // namespace sluice::plugins::spooldir
