// Replay: rebuilds the queue from the newest usable checkpoint and the log after it, skipping
// damaged records; open() runs it with repair (torn tails cut off), the offline checker without.

#include "file_store_internal.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_set>

#include "crc32c.hpp"

namespace sluice::plugins::filechannel {

namespace {

// Reads and verifies a checkpoint file. False with *why ("missing" when there is none).
bool loadCheckpointFile(const std::string& path, std::vector<char>& data, std::string& why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    why = errno == ENOENT ? "missing" : errnoText(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    why = errnoText(errno);
    ::close(fd);
    return false;
  }
  data.resize(static_cast<std::size_t>(st.st_size));
  int err = 0;
  bool ok = data.empty() || preadFully(fd, data.data(), data.size(), 0, err);
  ::close(fd);
  if (!ok) {
    why = errnoText(err);
    return false;
  }
  return true;
}

}  // namespace

// Parses checkpoint bytes (version 1 or 2); false with why when damaged.
static bool parseCheckpoint(const std::vector<char>& d, uint32_t& fileId, uint64_t& offset,
                            uint64_t& nextTx, std::vector<IndexEntry>& entries,
                            std::map<std::string, std::string, std::less<>>& states,
                            std::string& why) {
  auto u32 = [&](std::size_t at) {
    uint32_t v;
    std::memcpy(&v, d.data() + at, 4);
    return v;
  };
  auto u64 = [&](std::size_t at) {
    uint64_t v;
    std::memcpy(&v, d.data() + at, 8);
    return v;
  };
  if (d.size() < kCheckpointHeader + 4) {
    why = "too short (" + std::to_string(d.size()) + " bytes)";
    return false;
  }
  const uint32_t version = u32(4);
  if (u32(0) != kCheckpointMagic || version < 1 || version > kCheckpointVersion) {
    why = "bad magic or version";
    return false;
  }
  const uint64_t count = u64(32);
  const std::size_t body = d.size() - 4;
  if (count > (body - kCheckpointHeader) / kCheckpointEntry ||
      (version == 1 && kCheckpointHeader + count * kCheckpointEntry != body)) {
    why = "event count does not match the file size";
    return false;
  }
  if (crc32c(d.data(), body) != u32(body)) {
    why = "checksum mismatch";
    return false;
  }
  states.clear();
  if (version >= 2) {
    // u32 count, then {u32 len, key, u32 len, value}..., ending exactly at the checksum.
    std::size_t at = kCheckpointHeader + count * kCheckpointEntry;
    auto bytes = [&](std::string_view& s) {
      if (body - at < 4) return false;
      const uint32_t n = u32(at);
      at += 4;
      if (body - at < n) return false;
      s = std::string_view(d.data() + at, n);
      at += n;
      return true;
    };
    bool ok = body - at >= 4;
    if (ok) {
      const uint32_t nStates = u32(at);
      at += 4;
      for (uint32_t i = 0; ok && i < nStates; ++i) {
        std::string_view k, v;
        ok = bytes(k) && bytes(v);
        if (ok) states.insert_or_assign(std::string(k), std::string(v));
      }
    }
    if (!ok || at != body) {
      why = "source states do not match the file size";
      states.clear();
      return false;
    }
  }
  fileId = u32(8);
  offset = u64(16);
  nextTx = u64(24);
  entries.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    const std::size_t at = kCheckpointHeader + i * kCheckpointEntry;
    entries[i].pos = u64(at);
    entries[i].len = u32(at + 8);
  }
  return true;
}

void FileStore::replay(const StoreOptions& o, sdk::Logger& logger, bool repair, Scan& scan,
                       ReplayReport& report) {
  const auto t0 = std::chrono::steady_clock::now();
  // The log files of every data directory, by id.
  for (const auto& dir : o.dataDirs) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
      if (errno == ENOENT) continue;
      throw sysError("cannot list data directory '" + dir + "'", errno);
    }
    while (dirent* ent = ::readdir(d)) {
      uint32_t id = 0;
      if (!parseLogFileName(ent->d_name, id)) continue;
      const std::string path = dir + "/" + ent->d_name;
      auto [it, fresh] = scan.files.emplace(id, path);
      if (!fresh) {
        ::closedir(d);
        throw std::runtime_error("log file id " + std::to_string(id) + " exists twice: '" +
                                 it->second + "' and '" + path + "'");
      }
    }
    ::closedir(d);
  }
  report.logFiles = scan.files.size();

  // The checkpoint: the main one, else the backup, else a full replay.
  std::vector<char> bytes;
  uint32_t startFile = 0;
  uint64_t startOffset = 0;
  bool haveCheckpoint = false;
  std::string why;
  auto tryLoad = [&](const std::string& dir) {
    why.clear();
    if (!loadCheckpointFile(dir + "/" + kCheckpointName, bytes, why)) return false;
    return parseCheckpoint(bytes, startFile, startOffset, scan.maxTxId, scan.queue, scan.states,
                           why);
  };
  if (tryLoad(o.checkpointDir)) {
    haveCheckpoint = true;
    report.source = "checkpoint";
  } else {
    const std::string mainWhy = why;
    const bool mainExisted = mainWhy != "missing";
    if (mainExisted)
      logger.warn("checkpoint '", o.checkpointDir, "/", kCheckpointName, "' is unusable (", mainWhy,
                  ")");
    if (!o.backupCheckpointDir.empty() && tryLoad(o.backupCheckpointDir)) {
      haveCheckpoint = true;
      report.source = "backup checkpoint";
      report.fallbackReason = "checkpoint " + mainWhy;
      logger.warn("replaying from the backup checkpoint in '", o.backupCheckpointDir, "'");
    } else {
      scan.queue.clear();
      scan.states.clear();
      startFile = 0;
      startOffset = 0;
      scan.maxTxId = 0;
      if (!o.backupCheckpointDir.empty() && why != "missing") {
        logger.warn("backup checkpoint in '", o.backupCheckpointDir, "' is unusable (", why, ")");
        report.fallbackReason = "checkpoint " + mainWhy + ", backup " + why;
      } else if (mainExisted) {
        report.fallbackReason = "checkpoint " + mainWhy;
      }
      report.source = scan.files.empty() ? "empty" : "full replay";
      if (!scan.files.empty())
        logger.warn("no usable checkpoint: full replay of ", scan.files.size(), " log files");
    }
  }
  (void)haveCheckpoint;

  // Replay the log from the checkpoint's position.
  std::unordered_set<uint64_t> taken;
  std::vector<IndexEntry> pending;
  // The State records of the transaction being read; views into the mapped file, which stays
  // mapped until its last record is handled (a transaction is one write into one file).
  std::vector<std::pair<std::string_view, std::string_view>> pendingStates;
  const uint32_t lastFile = scan.files.empty() ? 0 : scan.files.rbegin()->first;
  for (const auto& [id, path] : scan.files) {
    if (id < startFile) continue;
    int fd = ::open(path.c_str(), (repair ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) throw sysError("cannot open log file '" + path + "'", errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      throw sysError("cannot stat log file '" + path + "'", err);
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    report.logBytes += size;
    if (size == 0) {  // created, then the process died before the header reached the disk
      ::close(fd);
      continue;
    }
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw sysError("cannot map log file '" + path + "'", err);
    }
    ::madvise(map, size, MADV_SEQUENTIAL);
    const char* base = static_cast<const char*>(map);
    uint32_t headerId = 0;
    std::string headerWhy;
    if (!parseFileHeader(base, size, headerId, &headerWhy) || headerId != id) {
      if (headerWhy.empty()) headerWhy = "file header names id " + std::to_string(headerId);
      report.corrupt.push_back({path, 0, size, headerWhy, true});
      logger.error("log file '", path, "' is unreadable (", headerWhy, "); skipping it");
      ::munmap(map, size);
      ::close(fd);
      continue;
    }
    uint64_t off =
        id == startFile ? std::max<uint64_t>(startOffset, kFileHeaderSize) : kFileHeaderSize;
    pending.clear();
    pendingStates.clear();
    uint64_t pendingTx = 0;
    RecordView rv;
    uint64_t released = 0;  // pages before this offset are dropped from the mapping
    while (off < size) {
      if (off - released >= kReplayReleaseBytes) {
        // Replay only moves forward: give back what it has read, so a large log does not
        // inflate the resident set (the pages stay in the page cache).
        const uint64_t upTo = off & ~uint64_t{4095};
        ::madvise(const_cast<char*>(base) + released, upTo - released, MADV_DONTNEED);
        released = upTo;
      }
      ParseStatus ps = parseRecord(base + off, size - off, rv);
      if (ps != ParseStatus::Ok) {
        // Look for the next good record: a damaged stretch in the middle of a file loses only
        // what it covers. Nothing good after it: a torn tail.
        uint64_t next = off + 1;
        RecordView probe;
        for (; next + kRecordHeaderSize <= size; ++next)
          if (parseRecord(base + next, size - next, probe) == ParseStatus::Ok) break;
        const bool tail = next + kRecordHeaderSize > size;
        const uint64_t end = tail ? size : next;
        report.corrupt.push_back({path, off, end - off, nameOf(ps), tail});
        if (tail) {
          if (repair) {
            if (::ftruncate(fd, static_cast<off_t>(off)) != 0)
              logger.error("cannot truncate '", path, "' at ", off, ": ", errnoText(errno));
            else
              logger.warn(id == lastFile ? "torn tail" : "corrupt tail", " in '", path,
                          "' at offset ", off, " (", nameOf(ps), "): dropped ", size - off,
                          " bytes");
          }
          break;
        }
        logger.error("corrupt records in '", path, "' at offset ", off, " (", end - off, " bytes, ",
                     nameOf(ps), "): skipped");
        off = next;
        continue;
      }
      ++report.recordsRead;
      scan.maxTxId = std::max(scan.maxTxId, rv.txId);
      switch (rv.type) {
        case RecordType::Put:
        case RecordType::State:
          if (pendingTx != rv.txId) {  // the previous transaction never committed
            report.uncommittedPuts += pending.size();
            pending.clear();
            pendingStates.clear();
          }
          pendingTx = rv.txId;
          if (rv.type == RecordType::Put) {
            pending.push_back({makePos(id, off), rv.size});
          } else {
            std::string_view key, value;
            if (decodeState(rv.body, key, value)) pendingStates.emplace_back(key, value);
          }
          break;
        case RecordType::Commit: {
          uint32_t count = 0;
          if (decodeCommit(rv.body, count) && pendingTx == rv.txId && count == pending.size()) {
            scan.queue.insert(scan.queue.end(), pending.begin(), pending.end());
            // The last committed transaction that carried a key wins: log order is commit order.
            for (const auto& [key, value] : pendingStates) {
              auto it = scan.states.find(key);
              if (it == scan.states.end())
                scan.states.emplace(std::string(key), std::string(value));
              else
                it->second.assign(value);
            }
          } else {
            report.uncommittedPuts += pending.size();
          }
          pending.clear();
          pendingStates.clear();
          break;
        }
        case RecordType::Take: {
          uint32_t count = 0;
          const char* positions = nullptr;
          if (decodeTake(rv.body, count, positions)) {
            if (taken.empty()) taken.reserve(1024);
            for (uint32_t i = 0; i < count; ++i) taken.insert(takePosition(positions, i));
          }
          break;
        }
      }
      off += rv.size;
    }
    report.uncommittedPuts += pending.size();
    ::munmap(map, size);
    ::close(fd);
  }

  // Drop what was taken, and what the checkpoint names in files that are gone.
  if (!taken.empty() || !scan.queue.empty()) {
    std::size_t w = 0;
    for (std::size_t r = 0; r < scan.queue.size(); ++r) {
      const IndexEntry e = scan.queue[r];
      if (!taken.empty() && taken.count(e.pos)) continue;
      if (!scan.files.count(fileOf(e.pos))) {
        ++report.lostEvents;
        continue;
      }
      scan.queue[w++] = e;
    }
    scan.queue.resize(w);
  }
  if (report.lostEvents > 0)
    logger.error(report.lostEvents,
                 " checkpointed events are lost: their log files are missing from dataDirs");
  report.liveEvents = scan.queue.size();
  report.sourceStates = scan.states.size();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

ReplayReport FileStore::inspect(const StoreOptions& options, sdk::Logger& logger) {
  std::vector<int> fds;
  for (const auto& d : distinctDirs(options)) {
    struct stat st {};
    if (::stat(d.c_str(), &st) != 0) throw sysError("cannot open '" + d + "'", errno);
  }
  fds = lockDirs(distinctDirs(options));
  Scan scan;
  ReplayReport report;
  try {
    replay(options, logger, false, scan, report);
  } catch (...) {
    for (int f : fds) ::close(f);
    throw;
  }
  for (int f : fds) ::close(f);
  return report;
}

}  // namespace sluice::plugins::filechannel
