#pragma once
// The reader of the TAILDIR source (taildir_source.hpp describes the design): one Tailer per
// running source, owning every followed file. Private to the plugin; its parts live in
//   tailer_watch.cpp      the reader thread's loop: inotify, wake-ups, polling, timers;
//   tailer_files.cpp      the file table: listing directories, renames, deletes, descriptors;
//   tailer_read.cpp       reading lines into batches, delivering them, truncation checks;
//   tailer_positions.cpp  loading and writing the position file and its fingerprint sidecar.

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "file_util.hpp"
#include "line_splitter.hpp"
#include "net/log_throttle.hpp"
#include "position_file.hpp"
#include "taildir_source.hpp"
#include "text_util.hpp"
#include "worker_thread.hpp"

namespace sluice::plugins::taildir {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A truncated file that grew again past the read position is recognised by a hash of the bytes
// before the position: enough bytes to cover several lines, since the ends of consecutive log
// lines often look alike.
inline constexpr std::size_t kFingerprintBytes = 4096;
// Between two reads of one file, the bytes before the second read's offset are compared after
// it (readFile): as many as fit a few log lines, at the cost of one small pread per 512 KiB.
inline constexpr std::size_t kGuardBytes = 256;
// And across calls, when the read buffer went to another file meanwhile: each file keeps the
// last bytes it was read up to, so the first read of the next call can be checked too.
inline constexpr std::size_t kEndGuardBytes = 64;

inline uint64_t fnv1a(const char* p, std::size_t n) noexcept {
  uint64_t h = 1469598103934665603ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

using files::parentOf;
using text::errnoText;

// mkdir -p. Throws with the directory and errno text.
inline void makeDirs(const std::string& dir) {
  std::string error;
  if (files::makeDirs(dir, &error) != 0) throw std::runtime_error(error);
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>()(s);
  }
};

// One followed file. Owned by Tailer::files_; reader thread only.
struct TailFile {
  TailFile(dev_t d, ino_t i, std::size_t maxLine, const MultilineSettings& ms)
      : dev(d), ino(i), splitter(maxLine) {
    if (ms.pattern) ml = std::make_unique<Multiline>(ms);
  }

  dev_t dev;
  ino_t ino;
  std::string path;
  std::string name;  // the name part of path, the key of the group's name index
  std::size_t group = 0;
  int fd = -1;
  uint64_t pos = 0;       // committed: every line before it is in the channels
  LineSplitter splitter;  // splitter.offset(): everything before it was read
  std::unique_ptr<Multiline> ml;
  Clock::time_point lastChange{};  // last time the file grew (or was opened)
  Clock::time_point mlLast{};      // last line fed to ml
  Clock::time_point retryAt{};     // after a refused batch: not before this
  int64_t mtime = 0;
  uint64_t lastSize = 0;
  bool matched = true;    // seen by the last listing of its directory
  uint64_t listedIn = 0;  // the listing (Tailer::listing_) that last found it under a name
  bool forget = false;    // eraseAll(): about to be erased
  bool check = true;      // may have unread data
  // The last read ended at the end of the file: what lies between the read offset and lastSize
  // is an unfinished line, not something left to read.
  bool atEof = false;
  bool evicted = false;  // closed to stay within maxOpenFiles (not idle): may still be written
  // The bytes that ended at fpEnd when the file was last read, to notice a truncation that the
  // file's size hides (truncated and grown again before we looked).
  uint64_t fpHash = 0;
  std::size_t fpLen = 0;
  uint64_t fpEnd = 0;
  // The last bytes read from the file (read and checked by readFile), ending at endGuardAt: a
  // later read from endGuardAt, or one that covers it again, must find them unchanged.
  uint64_t endGuardAt = 0;
  uint8_t endGuardLen = 0;
  char endGuard[kEndGuardBytes];
};

struct Group {
  GroupSpec spec;
  int wd = -1;
  bool dirty = true;  // list the directory again
  bool listed = false;
  int64_t dirMtimeNs = -1;
  std::unordered_map<std::string, TailFile*, StringHash, std::equal_to<>> byName;
};

// Everything that exists while the source runs. Created by start(), destroyed by stop().
class Tailer {
 public:
  Tailer(TaildirSource& source, const TaildirSettings& s, std::string path);
  ~Tailer();

  // Control thread: prepares the position file and descriptors. Throws with a clear message.
  void open();

  // open(): creates the position file's directory and reads the position file and its sidecar.
  void loadPositions();

  // The sidecar is an aid (truncation while stopped), never a reason not to start: a missing or
  // unreadable one means no fingerprints.
  void loadFingerprints();

  std::string fingerprintFile() const { return s_.positionFile + ".fingerprints"; }

  void startThread() {
    thread_ =
        threads::startWorker(TaildirSource::kThreadName, source_, "reader", [this] { run(); });
  }

  void stopThread() noexcept {
    if (!thread_.joinable()) return;
    stopping_.store(true, std::memory_order_release);
    wake();
    thread_.join();
  }

  void wake() noexcept {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wakeFd_, &one, sizeof one);
  }
  void poke() noexcept {
    poked_.store(true, std::memory_order_release);
    wake();
  }

 private:
  using Key = std::pair<dev_t, ino_t>;

  bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }

  // ---- The loop (tailer_watch.cpp) ----

  void watch(Group& g);

  void run() noexcept;

  // Waits up to ms for inotify or a wake-up, then drains both.
  void waitFor(int ms);

  void drainInotify();

  void everythingDirty() {
    for (auto& g : groups_) g->dirty = true;
    for (auto& [k, f] : files_) f->check = true;
  }

  int timeoutMs(Clock::time_point now) const;

  void loopOnce();

  // ---- The file table (tailer_files.cpp) ----

  // Lists a group's directory: finds new files, notices renames, marks vanished ones.
  void list(Group& g);

  // Files renamed out of their pattern before we knew them: read them to their end.
  void adoptRenamed();

  std::size_t indexOf(const Group& g) const {
    for (std::size_t i = 0; i < groups_.size(); ++i)
      if (groups_[i].get() == &g) return i;
    return 0;
  }

  // Files of group gi that the listing did not find: renamed away or deleted. Open ones are read
  // to their end through the descriptor. A closed one is looked for by inode under the
  // directory's other names and, if found with data to read, followed there; otherwise it is
  // forgotten (and counted when maxOpenFiles, not idleness, had closed it). One pass over
  // order_: a listing of thousands of files must not cost their number squared.
  void markUnseen(std::size_t gi);

  // f is closed and no matching name leads to it any more. Finds it under another name of its
  // directory (others_, from the listing). True when found: f then has that path and is held
  // open for idleTimeout like a file renamed while open (a writer may still append to it).
  bool followClosed(TailFile& f);

  // Whether a closed file of this size has something to read: more bytes than the read offset,
  // unless they are the unfinished line seen at the last read (a matching file waits for its
  // newline; one renamed away is read once more, to send that line when it goes idle).
  static bool hasNewData(const TailFile& f, uint64_t size) {
    if (size == f.splitter.offset()) return false;
    return !(f.matched && f.atEof && size == f.lastSize);
  }

  TailFile* add(const Key& key, std::size_t gi, const std::string& full, std::string name,
                const struct stat& st, bool initial);

  void rename(TailFile& f, const std::string& full, std::string name);

  void erase(TailFile& f) {
    detach(f);
    order_.erase(std::find(order_.begin(), order_.end(), &f));
    files_.erase(Key{f.dev, f.ino});  // f is gone
  }

  // erase() for many files with one pass over order_ (thousands of files deleted at once).
  void eraseAll(const std::vector<TailFile*>& gone);

  // Everything of erase() but leaving order_ and files_.
  void detach(TailFile& f);

  void closeFd(TailFile& f);

  // Opens f if needed. False when there is nothing to read (closed and unchanged) or it failed.
  bool ensureOpen(TailFile& f, bool always = false);

  // Closes the least recently active open file that a name still leads to (it matches its
  // pattern), preferring one with no unfinished last line. False when there is none.
  bool makeRoom();

  // ---- Reading (tailer_read.cpp) ----

  // Whether the bytes remembered at fpEnd changed (the file was truncated and grew again).
  // fd < 0: use f.fd (or open by path when closed).
  bool fingerprintChanged(TailFile& f, int fd);

  void rememberFingerprint(TailFile& f);

  // Whether the len bytes at `at` of fd differ from guard_ (or cannot be read any more).
  bool bytesChanged(int fd, uint64_t at, std::size_t len);

  // readFile() found f truncated between two of its reads. The lines of the batch in hand were
  // read before that and are sent; then reading restarts at 0. False when the channels refused
  // them: they are gone from the file, so reading restarts at 0 all the same after the back-off.
  bool restartWhileReading(TailFile& f);

  void restartAtZero(TailFile& f, const char* why);

  // Reads what f has, in batches. flushPartial: also send an unfinished last line (idle or
  // deleted file). Returns true when it stopped early with more to read (maxBatchCount).
  bool readFile(TailFile& f, bool flushPartial);

  void onLine(TailFile& f, const Line& l);

  void addAggregate(TailFile& f, Aggregate&& a);

  void decorate(const TailFile& f, sdk::Event& e, uint64_t start);

  // Hands batch_ (all from f) to the channels. On success f's committed position moves to the
  // end of the last event; on refusal f rewinds to its committed position and waits.
  bool deliver(TailFile& f);

  void multilineTimeouts(Clock::time_point now);

  // Closes files idle for idleTimeout, sending an unfinished last line first (as Flume does);
  // forgets the ones that no longer match. A file that maxOpenFiles closed with an unfinished
  // last line is reopened for that.
  void idleSweep(Clock::time_point now);

  // ---- Positions (tailer_positions.cpp) ----

  void writePositions(bool force);

  TaildirSource& source_;
  sdk::SourceCounter& counter_;
  sdk::ChannelProcessor& processor_;
  const TaildirSettings& s_;
  const std::string path_;

  int wakeFd_ = -1;
  int inotifyFd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> poked_{false};
  std::thread thread_;

  // Reader thread state.
  std::vector<std::unique_ptr<Group>> groups_;
  std::unordered_map<int, Group*> wdToGroup_;
  std::map<Key, std::unique_ptr<TailFile>> files_;
  std::vector<TailFile*> order_;  // files_ by modification time, oldest first
  std::vector<TailFile*> open_;   // the files with a descriptor (at most maxOpenFiles)
  std::vector<std::pair<ino_t, std::string>> others_;  // list(): non-matching names, see there
  std::vector<PositionEntry> loaded_;
  std::vector<FingerprintEntry> loadedFp_;          // the sidecar's entries, used with loaded_
  std::unordered_map<uint32_t, Group*> movedFrom_;  // inotify rename cookies
  std::vector<std::pair<Group*, std::string>> adopt_;
  bool removed_ = false;  // erase() ran: loops over order_ adjust their index
  uint64_t listing_ = 0;  // counts list() calls, see TailFile::listedIn

  const std::size_t cap_;
  std::unique_ptr<char[]> buf_;
  TailFile* bufFile_ = nullptr;  // whose bytes buf_ holds: [bufBase_, bufBase_ + bufLen_)
  char guard_[kGuardBytes];      // readFile(): the bytes before a read, see there
  uint64_t bufBase_ = 0;
  std::size_t bufLen_ = 0;

  sdk::EventBatch batch_;
  uint64_t batchEnd_ = 0;

  Clock::time_point nextPoll_{};
  Clock::time_point nextPosWrite_{};
  Clock::time_point nextIdleSweep_{};
  milliseconds pollEvery_{1000};
  milliseconds retryDelay_{0};
  bool progress_ = false;
  bool posDirty_ = false;
  bool wrotePositions_ = false;
  int64_t openFiles_ = 0;
  uint64_t regexErrors_ = 0;
  net::LogThrottle readLog_{std::chrono::seconds(5)};
  net::LogThrottle refuseLog_{std::chrono::seconds(5)};
  net::LogThrottle posLog_{std::chrono::seconds(5)};
  net::LogThrottle capLog_{std::chrono::seconds(5)};
};

}  // namespace sluice::plugins::taildir
