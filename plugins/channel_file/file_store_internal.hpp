#pragma once
// What the parts of the file store share (file_store.cpp: open, close, the log tail and syncs;
// file_store_queue.cpp: puts and takes; file_store_replay.cpp: replay, shared with the offline
// checker; file_store_checkpoint.cpp: checkpoints and deleting used-up log files;
// file_store_files.cpp: file names, directory locks, whole reads and writes). Private to the
// store's library.

#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "file_store.hpp"
#include "text_util.hpp"

namespace sluice::plugins::filechannel {

inline constexpr uint32_t kCheckpointMagic = 0x4b434c53;  // "SLCK"
// Version 2 adds the source states after the entries: u32 count, {u32 len, key, u32 len,
// value}... Version 1 checkpoints (no states) are still read.
inline constexpr uint32_t kCheckpointVersion = 2;
inline constexpr std::size_t kCheckpointHeader = 40;
inline constexpr std::size_t kCheckpointEntry = 12;
inline constexpr const char* kCheckpointName = "checkpoint";
inline constexpr const char* kLockName = "in_use.lock";
// A take reads neighbouring records with one pread when they are this close together.
inline constexpr uint64_t kMaxReadGap = uint64_t{64} * 1024;
inline constexpr uint64_t kMaxReadRun = uint64_t{8} * 1024 * 1024;
inline constexpr uint64_t kReplayReleaseBytes = uint64_t{16} * 1024 * 1024;

using text::errnoText;

// "what: <errno text>" as an exception.
std::runtime_error sysError(const std::string& what, int err);
// mkdir -p; throws naming the directory.
void mkdirs(const std::string& dir);
// Makes a directory's entries (a file just created or renamed) durable; best effort.
void fsyncDir(const std::string& dir);
// "log-00000042", and back (false for any other name).
std::string logFileName(uint32_t id);
bool parseLogFileName(const char* name, uint32_t& id);
// All n bytes at off, retrying EINTR and short transfers; false with err set on failure.
bool preadFully(int fd, char* buf, std::size_t n, uint64_t off, int& err);
bool pwriteFully(int fd, const char* buf, std::size_t n, uint64_t off, int& err);
// The checkpoint, backup checkpoint and data directories, each once (by canonical path).
std::vector<std::string> distinctDirs(const StoreOptions& o);
// Takes the in_use.lock of each directory; throws when another file channel holds one.
std::vector<int> lockDirs(const std::vector<std::string>& dirs);

inline void atomicMax(std::atomic<uint64_t>& a, uint64_t v) noexcept {
  uint64_t cur = a.load(std::memory_order_relaxed);
  while (cur < v && !a.compare_exchange_weak(cur, v, std::memory_order_release)) {
  }
}

struct FileStore::LogFile {
  int fd = -1;
  uint32_t id = 0;
  std::string path;
  std::string dir;
  ~LogFile() {
    if (fd >= 0) ::close(fd);
  }
};

struct FileStore::Checkpoint {
  uint32_t fileId = 0;
  uint64_t offset = 0;
  uint64_t nextTxId = 0;
  std::vector<IndexEntry> entries;
};

struct FileStore::Scan {
  std::vector<IndexEntry> queue;
  std::map<std::string, std::string, std::less<>> states;  // source states, by key
  std::map<uint32_t, std::string> files;                   // id -> path
  uint64_t maxTxId = 0;
};

}  // namespace sluice::plugins::filechannel
