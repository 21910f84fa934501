#include "taildir_source.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "config_keys.hpp"
#include "position_file.hpp"

namespace sluice::plugins::taildir {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr int64_t kMaxLineLengthLimit = 256LL * 1024 * 1024;
constexpr int64_t kMaxOpenFilesLimit = 1 << 20;
// A truncated file that grew again past the read position is recognised by a hash of the bytes
// before the position: enough bytes to cover several lines, since the ends of consecutive log
// lines often look alike.
constexpr std::size_t kFingerprintBytes = 4096;
// Between two reads of one file, the bytes before the second read's offset are compared after
// it (readFile): as many as fit a few log lines, at the cost of one small pread per 512 KiB.
constexpr std::size_t kGuardBytes = 256;
// And across calls, when the read buffer went to another file meanwhile: each file keeps the
// last bytes it was read up to, so the first read of the next call can be checked too.
constexpr std::size_t kEndGuardBytes = 64;

uint64_t fnv1a(const char* p, std::size_t n) noexcept {
  uint64_t h = 1469598103934665603ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

std::string errnoText(int err) {
  char buf[256];
  return ::strerror_r(err, buf, sizeof buf);
}

std::string homeDir() {
  if (const char* h = ::getenv("HOME"); h && *h) return h;
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) return pw->pw_dir;
  return "/";
}

std::string parentOf(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// mkdir -p. Throws with the directory and errno text.
void makeDirs(const std::string& dir) {
  if (dir.empty() || dir == "/" || dir == ".") return;
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw std::runtime_error("'" + dir + "' is not a directory");
    return;
  }
  makeDirs(parentOf(dir));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    throw std::runtime_error("cannot create directory '" + dir + "': " + errnoText(errno));
}

// Lets one log line through per interval and counts the rest. Reader thread only.
class LogThrottle {
 public:
  bool admit(Clock::time_point now, int64_t* suppressed) noexcept {
    if (now < next_) {
      ++suppressed_;
      return false;
    }
    *suppressed = suppressed_;
    suppressed_ = 0;
    next_ = now + std::chrono::seconds(5);
    return true;
  }

 private:
  Clock::time_point next_{};
  int64_t suppressed_ = 0;
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>()(s);
  }
};

}  // namespace

const sdk::Schema& taildirSourceSchema() {
  static const sdk::Schema schema{
      sdk::Key("filegroups")
          .string()
          .doc("Space-separated names of file groups; each group is one directory and a file-name "
               "regex"),
      sdk::Key("filegroups.*")
          .string()
          .doc("filegroups.<g>: a fixed directory, then a regex for the file names (whole-name "
               "match)"),
      sdk::Key("positionFile")
          .string()
          .def("~/.flume/taildir_position.json")
          .doc("JSON file of {inode, pos, file} per followed file, in Flume's format"),
      sdk::Key("headers.*")
          .string()
          .doc("headers.<g>.<key>: a header with this value on every event from group g"),
      sdk::Key("byteOffsetHeader")
          .boolean()
          .def("false")
          .doc("Put the byte offset of each line in the header byteoffset"),
      sdk::Key("skipToEnd")
          .boolean()
          .def("false")
          .doc("Start files found at start-up that the position file lacks at their end"),
      sdk::Key("idleTimeout")
          .integer()
          .def("120000")
          .range(1, 2147483647)
          .doc("Milliseconds without growth after which a file is closed and its unfinished last "
               "line is sent"),
      sdk::Key("writePosInterval")
          .integer()
          .def("3000")
          .range(1, 2147483647)
          .doc("Milliseconds between writes of the position file"),
      sdk::Key("batchSize")
          .integer()
          .def("100")
          .range(1, 1000000)
          .doc("Lines read and handed to the channels per transaction"),
      sdk::Key("maxBatchCount")
          .longValue()
          .def("9223372036854775807")
          .range(1, 9.3e18)
          .doc("Batches read from one file before moving on to the next"),
      sdk::Key("backoffSleepIncrement")
          .longValue()
          .def("1000")
          .range(1, 3600000)
          .doc("Milliseconds added to the poll interval (and the retry delay after a refused "
               "batch) each time"),
      sdk::Key("maxBackoffSleep")
          .longValue()
          .def("5000")
          .range(1, 3600000)
          .doc("Longest poll interval and retry delay in milliseconds"),
      sdk::Key("cachePatternMatching")
          .boolean()
          .def("true")
          .doc("Re-list a directory only when it changed, instead of on every poll"),
      sdk::Key("fileHeader").boolean().def("false").doc("Put the file's absolute path in a header"),
      sdk::Key("fileHeaderKey").string().def("file").doc("Name of the header fileHeader adds"),
      sdk::Key("maxLineLength")
          .integer()
          .def("1048576")
          .range(1, static_cast<double>(kMaxLineLengthLimit))
          .doc("sluice: longest event body in bytes; the rest of a longer line is dropped and "
               "counted"),
      sdk::Key("maxOpenFiles")
          .integer()
          .def("1000")
          .range(1, static_cast<double>(kMaxOpenFilesLimit))
          .doc("sluice: most files held open at once; beyond it the least recently active one is "
               "closed and reopened when it changes"),
      sdk::Key("inotify").boolean().def("true").doc(
          "sluice: watch the directories with inotify; false polls only"),
      sdk::Key("multiline.pattern")
          .string()
          .doc("sluice: regex (Java syntax, found anywhere in the line) that marks lines to join; "
               "unset means no joining"),
      sdk::Key("multiline.negate")
          .boolean()
          .def("false")
          .doc("sluice: join the lines that do not match multiline.pattern"),
      sdk::Key("multiline.match")
          .oneOf({"after", "before"})
          .def("after")
          .doc("sluice: after appends joined lines to the line before them; before to the line "
               "after them"),
      sdk::Key("multiline.maxLines")
          .integer()
          .def("500")
          .range(1, 1000000)
          .doc("sluice: most lines in one joined event; further lines are dropped"),
      sdk::Key("multiline.timeout")
          .integer()
          .def("5000")
          .range(1, 2147483647)
          .doc("sluice: milliseconds after which a joined event is sent without waiting for more"),
  };
  return schema;
}

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
  Tailer(TaildirSource& source, const TaildirSettings& s, std::string path)
      : source_(source),
        counter_(source.sourceCounter()),
        processor_(source.getChannelProcessor()),
        s_(s),
        path_(std::move(path)),
        cap_(TaildirSource::kReadChunk + s.maxLineLength + 2),
        buf_(new char[cap_]) {
    batch_.reserve(s_.batchSize);
    for (const GroupSpec& g : s_.groups) {
      auto grp = std::make_unique<Group>();
      grp->spec = g;
      groups_.push_back(std::move(grp));
    }
    pollEvery_ = milliseconds(s_.backoffSleepIncrement);
  }

  ~Tailer() {
    stopThread();
    for (auto& [k, f] : files_)
      if (f->fd >= 0) ::close(f->fd);
    if (inotifyFd_ >= 0) ::close(inotifyFd_);
    if (wakeFd_ >= 0) ::close(wakeFd_);
  }

  // Control thread: prepares the position file and descriptors. Throws with a clear message.
  void open() {
    try {
      makeDirs(parentOf(s_.positionFile));
    } catch (const std::exception& e) {
      throw std::runtime_error(path_ + ".positionFile: " + e.what());
    }
    std::string text;
    bool exists = false;
    try {
      exists = readWholeFile(s_.positionFile, &text);
    } catch (const std::exception& e) {
      throw std::runtime_error(path_ + ".positionFile: " + e.what());
    }
    if (exists) {
      std::string err;
      std::size_t skipped = 0;
      if (!parsePositions(text, &loaded_, &err, &skipped)) {
        // A broken position file must not stop the agent forever, nor be silently lost: keep a
        // copy beside it and start as if there were none.
        const std::string keep = s_.positionFile + ".corrupt";
        ::rename(s_.positionFile.c_str(), keep.c_str());
        source_.logger().error("position file '", s_.positionFile, "' is not valid JSON (", err,
                               "); moved it to '", keep, "' and starting without positions");
        counter_.incrementEventReadFail();
        loaded_.clear();
      } else {
        source_.logger().info("read ", loaded_.size(), " positions from '", s_.positionFile, "'",
                              skipped ? " (skipped incomplete entries: " : "",
                              skipped ? std::to_string(skipped) + ")" : std::string());
        loadFingerprints();
        // Sorted by inode (stable: the first entry of an inode still wins) so that add() finds
        // a file's entry by binary search: the first listing of thousands of files against a
        // position file of thousands of entries must not cost their product.
        auto byInode = [](const auto& a, const auto& b) { return a.inode < b.inode; };
        std::stable_sort(loaded_.begin(), loaded_.end(), byInode);
        std::stable_sort(loadedFp_.begin(), loadedFp_.end(), byInode);
      }
    }
    wakeFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wakeFd_ < 0) throw std::runtime_error("eventfd: " + errnoText(errno));
    if (s_.inotify) {
      inotifyFd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
      if (inotifyFd_ < 0)
        source_.logger().warn("inotify is unavailable (", errnoText(errno), "); polling every ",
                              s_.backoffSleepIncrement, "-", s_.maxBackoffSleep, " ms instead");
    }
    for (auto& g : groups_) watch(*g);
  }

  // The sidecar is an aid (truncation while stopped), never a reason not to start: a missing or
  // unreadable one means no fingerprints.
  void loadFingerprints() {
    std::string text;
    try {
      if (!readWholeFile(fingerprintFile(), &text)) return;
    } catch (const std::exception& e) {
      source_.logger().warn(e.what(), "; starting without truncation fingerprints");
      return;
    }
    if (!parseFingerprints(text, &loadedFp_))
      source_.logger().warn(
          "'", fingerprintFile(),
          "' is not a fingerprint file; starting without truncation fingerprints");
  }

  std::string fingerprintFile() const { return s_.positionFile + ".fingerprints"; }

  void startThread() {
    thread_ = std::thread([this] {
      ::pthread_setname_np(::pthread_self(), TaildirSource::kThreadName);
      run();
    });
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

  void watch(Group& g) {
    if (inotifyFd_ < 0 || g.wd >= 0) return;
    const uint32_t mask = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                          IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
    g.wd = ::inotify_add_watch(inotifyFd_, g.spec.dir.c_str(), mask);
    if (g.wd < 0) {
      if (!g.listed)
        source_.logger().warn("cannot watch directory '", g.spec.dir, "' of file group ",
                              g.spec.name, ": ", errnoText(errno), "; polling it");
    } else {
      wdToGroup_[g.wd] = &g;
    }
  }

  void run() noexcept {
    const Clock::time_point t0 = Clock::now();
    nextPoll_ = t0;
    nextPosWrite_ = t0 + s_.writePosInterval;
    nextIdleSweep_ = t0 + std::min<milliseconds>(s_.idleTimeout, milliseconds(1000));
    while (!stopping()) {
      try {
        loopOnce();
      } catch (const std::exception& e) {
        counter_.incrementGenericProcessingFail();
        source_.logger().error("reader loop: ", e.what());
        waitFor(200);
      }
    }
    try {
      writePositions(true);
    } catch (const std::exception& e) {
      source_.logger().error("cannot write the position file on stop: ", e.what());
    }
    for (auto& [k, f] : files_)
      if (f->fd >= 0) closeFd(*f);
  }

  // Waits up to ms for inotify or a wake-up, then drains both.
  void waitFor(int ms) {
    pollfd fds[2];
    fds[0] = {wakeFd_, POLLIN, 0};
    fds[1] = {inotifyFd_, POLLIN, 0};
    const int n = ::poll(fds, inotifyFd_ >= 0 ? 2 : 1, ms);
    if (n <= 0) return;
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      [[maybe_unused]] ssize_t r = ::read(wakeFd_, &v, sizeof v);
    }
    if (inotifyFd_ >= 0 && (fds[1].revents & POLLIN)) drainInotify();
  }

  void drainInotify() {
    alignas(inotify_event) char ev[64 * 1024];
    for (;;) {
      const ssize_t n = ::read(inotifyFd_, ev, sizeof ev);
      if (n <= 0) return;
      for (ssize_t off = 0; off < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(ev + off);
        off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        if (e->mask & IN_Q_OVERFLOW) {
          everythingDirty();
          continue;
        }
        auto it = wdToGroup_.find(e->wd);
        if (it == wdToGroup_.end()) continue;
        Group& g = *it->second;
        if (e->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
          // The directory itself went away: forget the watch, poll until it comes back.
          if (e->mask & IN_IGNORED) {
            wdToGroup_.erase(it);
            g.wd = -1;
          }
          g.dirty = true;
          continue;
        }
        const std::string_view name = e->len ? std::string_view(e->name) : std::string_view();
        if (e->mask & (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)) g.dirty = true;
        if ((e->mask & IN_MOVED_FROM) && !name.empty() && g.spec.regex->test(name)) {
          movedFrom_[e->cookie] = &g;
        } else if ((e->mask & IN_MOVED_TO) && !name.empty()) {
          auto m = movedFrom_.find(e->cookie);
          if (m != movedFrom_.end()) {
            // A matching file renamed to a name that does not match (app.log -> app.log.1 with
            // the pattern app\.log): follow it to its end even if we never saw it under its
            // old name (it may have lived there only for a moment).
            if (m->second == &g && !g.spec.regex->test(name) &&
                g.byName.find(name) == g.byName.end())
              adopt_.emplace_back(&g, std::string(name));
            movedFrom_.erase(m);
          }
        }
        auto f = g.byName.find(name);
        if (f != g.byName.end()) {
          f->second->check = true;
        } else if (!name.empty() && (e->mask & (IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB))) {
          if (g.spec.regex->test(name)) {
            g.dirty = true;  // a matching file we do not know yet
          } else {
            // Maybe a file renamed out of the pattern that a writer still appends to: look at
            // the open ones that no longer match (usually few).
            const std::size_t gi = indexOf(g);
            for (TailFile* t : order_)
              if (t->group == gi && !t->matched && t->fd >= 0) t->check = true;
          }
        }
      }
    }
  }

  void everythingDirty() {
    for (auto& g : groups_) g->dirty = true;
    for (auto& [k, f] : files_) f->check = true;
  }

  int timeoutMs(Clock::time_point now) const {
    Clock::time_point next = std::min({nextPoll_, nextPosWrite_, nextIdleSweep_});
    for (const auto& g : groups_)
      if (g->dirty) return 0;
    for (const TailFile* f : order_) {
      if (f->check) next = std::min(next, std::max(now, f->retryAt));
      if (f->ml && f->ml->pending()) next = std::min(next, f->mlLast + s_.multilineTimeout);
    }
    if (next <= now) return 0;
    const auto ms = std::chrono::duration_cast<milliseconds>(next - now).count() + 1;
    return static_cast<int>(std::min<int64_t>(ms, 60000));
  }

  void loopOnce() {
    waitFor(timeoutMs(Clock::now()));
    if (stopping()) return;
    Clock::time_point now = Clock::now();
    if (poked_.exchange(false)) everythingDirty();
    if (now >= nextPoll_) {
      // The fallback poll: with inotify a safety net every maxBackoffSleep; without it Flume's
      // back-off: the interval grows while nothing changes.
      for (auto& g : groups_) {
        if (g->wd < 0) watch(*g);
        if (!s_.cachePatternMatching || g->wd < 0 || inotifyFd_ < 0) g->dirty = true;
        if (s_.cachePatternMatching && !g->dirty) {
          struct stat st {};
          if (::stat(g->spec.dir.c_str(), &st) == 0 &&
              st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec != g->dirMtimeNs)
            g->dirty = true;
        }
      }
      for (auto& [k, f] : files_) f->check = true;
      progress_ = false;
    }
    for (auto& g : groups_)
      if (g->dirty) list(*g);
    if (!adopt_.empty()) adoptRenamed();
    if (movedFrom_.size() > 1024) movedFrom_.clear();  // moves out of the directory: no pair
    if (!loaded_.empty()) {
      bool all = true;
      for (auto& g : groups_) all = all && g->listed;
      if (all) {
        loaded_.clear();  // positions only apply to what the first listing finds
        loadedFp_.clear();
      }
    }

    removed_ = false;
    for (std::size_t i = 0; i < order_.size() && !stopping(); ++i) {
      TailFile* f = order_[i];
      if (!f->check || f->retryAt > now) continue;
      f->check = false;
      if (readFile(*f, false)) f->check = true;
      if (removed_) {
        removed_ = false;
        --i;  // order_ lost this entry
      }
    }
    now = Clock::now();
    if (now >= nextPoll_) {
      if (inotifyFd_ >= 0) {
        pollEvery_ = milliseconds(s_.maxBackoffSleep);
      } else if (progress_) {
        pollEvery_ = milliseconds(s_.backoffSleepIncrement);
      } else {
        pollEvery_ = std::min(pollEvery_ + milliseconds(s_.backoffSleepIncrement),
                              milliseconds(s_.maxBackoffSleep));
      }
      nextPoll_ = now + pollEvery_;
    }
    multilineTimeouts(now);
    if (now >= nextIdleSweep_) {
      idleSweep(now);
      nextIdleSweep_ = now + std::min<milliseconds>(s_.idleTimeout, milliseconds(1000));
    }
    if (now >= nextPosWrite_) {
      writePositions(false);
      nextPosWrite_ = Clock::now() + s_.writePosInterval;
    }
  }

  // Lists a group's directory: finds new files, notices renames, marks vanished ones.
  void list(Group& g) {
    g.dirty = false;
    others_.clear();  // this directory's, filled below
    const std::size_t gi = indexOf(g);
    ++listing_;  // files found below get listedIn = listing_; markUnseen() takes the others
    struct stat dst {};
    if (::stat(g.spec.dir.c_str(), &dst) != 0) {
      if (!g.listed) {
        source_.logger().warn("directory '", g.spec.dir, "' of file group ", g.spec.name,
                              " is missing: ", errnoText(errno), "; waiting for it");
      }
      g.listed = true;
      markUnseen(gi);
      return;
    }
    g.dirMtimeNs = dst.st_mtim.tv_sec * 1000000000LL + dst.st_mtim.tv_nsec;
    DIR* d = ::opendir(g.spec.dir.c_str());
    if (!d) {
      source_.logger().warn("cannot list '", g.spec.dir, "': ", errnoText(errno));
      return;
    }
    const bool initial = !g.listed;
    // A closed file that vanished from the matching names may have been renamed to one that
    // does not match: keep the other names (with their inodes) to look for it.
    const bool keepOthers = std::any_of(order_.begin(), order_.end(), [gi](const TailFile* t) {
      return t->group == gi && t->fd < 0;
    });
    std::string full;
    while (dirent* e = ::readdir(d)) {
      const std::string_view name(e->d_name);
      if (name == "." || name == "..") continue;
      if (e->d_type != DT_REG && e->d_type != DT_LNK && e->d_type != DT_UNKNOWN) continue;
      if (!g.spec.regex->test(name)) {
        if (keepOthers) others_.emplace_back(e->d_ino, std::string(name));
        continue;
      }
      full.assign(g.spec.dir);
      if (full.empty() || full.back() != '/') full += '/';
      full.append(name);
      struct stat st {};
      if (::stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      const Key key{st.st_dev, st.st_ino};
      auto it = files_.find(key);
      TailFile* f;
      if (it != files_.end()) {
        f = it->second.get();
        if (f->group != gi) continue;  // already followed by an earlier group
        if (f->path != full) {
          counter_.increment(TaildirSource::kRotationsDetected);
          source_.logger().info("file '", f->path, "' is now '", full, "' (inode ", f->ino,
                                "); following it without rereading");
          rename(*f, full, std::string(name));
        }
      } else {
        f = add(key, gi, full, std::string(name), st, initial);
      }
      f->matched = true;
      f->mtime = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
      if (static_cast<uint64_t>(st.st_size) != f->splitter.offset() || f->fd >= 0) f->check = true;
      f->listedIn = listing_;
    }
    ::closedir(d);
    g.listed = true;
    markUnseen(gi);
    // Flume reads files in the order of their modification time, oldest first.
    std::stable_sort(order_.begin(), order_.end(),
                     [](const TailFile* a, const TailFile* b) { return a->mtime < b->mtime; });
  }

  // Files renamed out of their pattern before we knew them: read them to their end.
  void adoptRenamed() {
    for (auto& [g, name] : adopt_) {
      const std::string full = (g->spec.dir.back() == '/' ? g->spec.dir : g->spec.dir + "/") + name;
      struct stat st {};
      if (::stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      const Key key{st.st_dev, st.st_ino};
      if (files_.count(key)) continue;
      TailFile* f = add(key, indexOf(*g), full, name, st, false);
      f->matched = false;
      if (f->fd < 0) erase(*f);
    }
    adopt_.clear();
  }

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
  void markUnseen(std::size_t gi) {
    std::vector<TailFile*> forget;
    for (TailFile* f : order_) {
      if (f->group != gi) continue;
      if (f->listedIn == listing_) continue;  // found by this listing
      if (f->matched) {
        f->matched = false;
        Group& g = *groups_[gi];
        auto it = g.byName.find(f->name);
        if (it != g.byName.end() && it->second == f) g.byName.erase(it);
      }
      if (f->fd >= 0) {
        f->check = true;
      } else if (!followClosed(*f)) {
        forget.push_back(f);
      }
    }
    eraseAll(forget);
  }

  // f is closed and no matching name leads to it any more. Finds it under another name of its
  // directory (others_, from the listing). True when found: f then has that path and is held
  // open for idleTimeout like a file renamed while open (a writer may still append to it).
  bool followClosed(TailFile& f) {
    const std::string& dir = groups_[f.group]->spec.dir;
    const std::string prefix = dir.back() == '/' ? dir : dir + "/";
    struct stat st {};
    auto same = [&](const std::string& p) {
      return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == f.dev &&
             st.st_ino == f.ino;
    };
    if (same(f.path)) return true;  // followed before; waiting for a descriptor
    bool found = false;
    {
      // d_ino is the inode on ordinary filesystems; stat() confirms. Should no d_ino match (a
      // stacked filesystem), every other name is checked: this runs only after a rotation.
      for (int pass = 0; pass < 2 && !found; ++pass) {
        for (const auto& [ino, name] : others_) {
          if (pass == 0 && ino != f.ino) continue;
          if (pass == 1 && ino == f.ino) continue;
          if (same(prefix + name)) {
            counter_.increment(TaildirSource::kRotationsDetected);
            source_.logger().info("closed file '", f.path, "' is now '", prefix + name, "' (inode ",
                                  f.ino, "); reading it to its end");
            f.path = prefix + name;
            f.name = name;
            found = true;
            break;
          }
        }
      }
    }
    if (found) {
      f.check = true;
      posDirty_ = true;
      ensureOpen(f, true);
      f.lastChange = Clock::now();
      return true;
    }
    if (f.evicted) {
      counter_.increment(TaildirSource::kClosedFilesLost);
      source_.logger().warn("'", f.path, "' (inode ", f.ino,
                            ") was renamed out of its directory or deleted while maxOpenFiles (",
                            s_.maxOpenFiles, ") kept it closed; lines written to it after byte ",
                            f.splitter.offset(), " since it was closed could not be read");
    }
    return false;
  }

  // Whether a closed file of this size has something to read: more bytes than the read offset,
  // unless they are the unfinished line seen at the last read (a matching file waits for its
  // newline; one renamed away is read once more, to send that line when it goes idle).
  static bool hasNewData(const TailFile& f, uint64_t size) {
    if (size == f.splitter.offset()) return false;
    return !(f.matched && f.atEof && size == f.lastSize);
  }

  TailFile* add(const Key& key, std::size_t gi, const std::string& full, std::string name,
                const struct stat& st, bool initial) {
    auto owned = std::make_unique<TailFile>(key.first, key.second, s_.maxLineLength, s_.multiline);
    TailFile* f = owned.get();
    f->group = gi;
    f->path = full;
    f->name = std::move(name);
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    uint64_t start = 0;
    bool found = false;
    const std::string& dir = groups_[gi]->spec.dir;
    const uint64_t ino = static_cast<uint64_t>(st.st_ino);
    auto inodeLess = [](const auto& e, uint64_t i) { return e.inode < i; };
    for (auto it = std::lower_bound(loaded_.begin(), loaded_.end(), ino, inodeLess);
         it != loaded_.end() && it->inode == ino; ++it) {
      const PositionEntry& e = *it;
      if (e.file != full && parentOf(e.file) != dir) continue;
      found = true;
      start = e.pos;
      if (start > size) {
        source_.logger().warn("'", full, "' is shorter (", size, " bytes) than its saved position ",
                              start, "; it was truncated, reading it from the start");
        counter_.increment(TaildirSource::kTruncationsDetected);
        start = 0;
        break;
      }
      // The fingerprint saved with this position: the first read compares it (readFile), so a
      // file rewritten while we were stopped is read from 0 even if it is now longer.
      for (auto fit = std::lower_bound(loadedFp_.begin(), loadedFp_.end(), ino, inodeLess);
           fit != loadedFp_.end() && fit->inode == ino; ++fit) {
        const FingerprintEntry& fp = *fit;
        if (fp.pos != e.pos) continue;
        if (fp.end > size) {
          source_.logger().warn("'", full, "' is shorter (", size,
                                " bytes) than where it was read (", fp.end,
                                "); it was truncated, reading it from the start");
          counter_.increment(TaildirSource::kTruncationsDetected);
          start = 0;
        } else {
          f->fpHash = fp.hash;
          f->fpLen = static_cast<std::size_t>(fp.len);
          f->fpEnd = fp.end;
        }
        break;
      }
      break;
    }
    // skipToEnd applies only to files present at start: a file that appears later (a rotation)
    // is read from its first line, so nothing written before we noticed it is skipped.
    if (!found && s_.skipToEnd && initial) start = size;
    f->pos = start;
    f->splitter.reset(start);
    f->lastSize = size;
    f->lastChange = Clock::now();
    f->check = true;
    groups_[gi]->byName[f->name] = f;
    files_.emplace(key, std::move(owned));
    order_.push_back(f);
    posDirty_ = true;
    source_.logger().info("following '", full, "' (inode ", key.second, ") from byte ", start);
    // A file that appears while running is likely being written: hold it open at once, so a
    // quick rename or delete cannot take it away before it was read. At start-up files are
    // opened as they are read, to keep descriptors few.
    if (!initial) ensureOpen(*f, true);
    return f;
  }

  void rename(TailFile& f, const std::string& full, std::string name) {
    Group& g = *groups_[f.group];
    auto it = g.byName.find(f.name);
    if (it != g.byName.end() && it->second == &f) g.byName.erase(it);
    f.path = full;
    f.name = std::move(name);
    g.byName[f.name] = &f;
    posDirty_ = true;
  }

  void erase(TailFile& f) {
    detach(f);
    order_.erase(std::find(order_.begin(), order_.end(), &f));
    files_.erase(Key{f.dev, f.ino});  // f is gone
  }

  // erase() for many files with one pass over order_ (thousands of files deleted at once).
  void eraseAll(const std::vector<TailFile*>& gone) {
    if (gone.size() <= 1) {
      for (TailFile* f : gone) erase(*f);
      return;
    }
    for (TailFile* f : gone) {
      detach(*f);
      f->forget = true;
    }
    std::erase_if(order_, [](const TailFile* t) { return t->forget; });
    for (TailFile* f : gone) files_.erase(Key{f->dev, f->ino});
  }

  // Everything of erase() but leaving order_ and files_.
  void detach(TailFile& f) {
    if (f.fd >= 0) closeFd(f);
    Group& g = *groups_[f.group];
    auto it = g.byName.find(f.name);
    if (it != g.byName.end() && it->second == &f) g.byName.erase(it);
    if (bufFile_ == &f) bufFile_ = nullptr;
    removed_ = true;
    posDirty_ = true;
  }

  void closeFd(TailFile& f) {
    ::close(f.fd);
    f.fd = -1;
    f.evicted = false;
    open_.erase(std::find(open_.begin(), open_.end(), &f));
    if (bufFile_ == &f) bufFile_ = nullptr;
    counter_.increment(TaildirSource::kFilesClosed);
    counter_.setOpenConnectionCount(--openFiles_);
  }

  // Opens f if needed. False when there is nothing to read (closed and unchanged) or it failed.
  bool ensureOpen(TailFile& f, bool always = false) {
    if (f.fd >= 0) return true;
    struct stat st {};
    if (::stat(f.path.c_str(), &st) != 0 || st.st_dev != f.dev || st.st_ino != f.ino) {
      // The name now points elsewhere (or nowhere): a listing sorts it out.
      groups_[f.group]->dirty = true;
      return false;
    }
    if (!always && !hasNewData(f, static_cast<uint64_t>(st.st_size)) && !fingerprintChanged(f, -1))
      return false;
    if (open_.size() >= s_.maxOpenFiles && !makeRoom()) {
      // Every open file is reachable only through its descriptor (renamed away or deleted, not
      // yet read to its end): f waits until one of them is done.
      f.check = true;
      f.retryAt = Clock::now() + milliseconds(s_.backoffSleepIncrement);
      int64_t suppressed = 0;
      if (capLog_.admit(Clock::now(), &suppressed))
        source_.logger().warn("maxOpenFiles (", s_.maxOpenFiles,
                              ") files are open and none can be closed yet (all renamed away or "
                              "deleted, still being read); '",
                              f.path, "' waits");
      return false;
    }
    const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      counter_.incrementEventReadFail();
      int64_t suppressed = 0;
      if (readLog_.admit(Clock::now(), &suppressed))
        source_.logger().warn("cannot open '", f.path, "': ", errnoText(errno));
      return false;
    }
    struct stat fst {};
    if (::fstat(fd, &fst) != 0 || fst.st_dev != f.dev || fst.st_ino != f.ino) {
      ::close(fd);
      groups_[f.group]->dirty = true;
      return false;
    }
    const bool reopened = f.evicted;
    f.fd = fd;
    f.evicted = false;
    open_.push_back(&f);
    // A file reopened after eviction keeps its activity time: idleness is about the file, not
    // about our descriptor.
    if (!reopened) f.lastChange = Clock::now();
    counter_.increment(TaildirSource::kFilesOpened);
    counter_.setOpenConnectionCount(++openFiles_);
    return true;
  }

  // Closes the least recently active open file that a name still leads to (it matches its
  // pattern), preferring one with no unfinished last line. False when there is none.
  bool makeRoom() {
    TailFile* victim = nullptr;
    auto rank = [](const TailFile* t) {
      return std::make_pair(t->lastSize != t->splitter.offset(), t->lastChange);
    };
    for (TailFile* t : open_)
      if (t->matched && (!victim || rank(t) < rank(victim))) victim = t;
    if (!victim) return false;
    closeFd(*victim);
    victim->evicted = true;
    counter_.increment(TaildirSource::kFilesEvicted);
    return true;
  }

  // Whether the bytes remembered at fpEnd changed (the file was truncated and grew again).
  // fd < 0: use f.fd (or open by path when closed).
  bool fingerprintChanged(TailFile& f, int fd) {
    if (f.fpLen == 0) return false;
    int use = fd >= 0 ? fd : f.fd;
    bool opened = false;
    if (use < 0) {
      use = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (use < 0) return false;
      opened = true;
    }
    char now[kFingerprintBytes];
    const ssize_t n = ::pread(use, now, f.fpLen, static_cast<off_t>(f.fpEnd - f.fpLen));
    if (opened) ::close(use);
    return n != static_cast<ssize_t>(f.fpLen) || fnv1a(now, f.fpLen) != f.fpHash;
  }

  void rememberFingerprint(TailFile& f) {
    const uint64_t end = f.splitter.offset();
    if (f.fpLen && f.fpEnd == end) return;
    const std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(kFingerprintBytes, end));
    f.fpLen = 0;
    if (want == 0) return;
    if (bufFile_ == &f && end >= bufBase_ + want && end <= bufBase_ + bufLen_) {
      f.fpHash = fnv1a(buf_.get() + (end - want - bufBase_), want);
    } else {
      char tmp[kFingerprintBytes];
      if (::pread(f.fd, tmp, want, static_cast<off_t>(end - want)) != static_cast<ssize_t>(want))
        return;
      f.fpHash = fnv1a(tmp, want);
    }
    f.fpLen = want;
    f.fpEnd = end;
  }

  // Whether the len bytes at `at` of fd differ from guard_ (or cannot be read any more).
  bool bytesChanged(int fd, uint64_t at, std::size_t len) {
    char now[kGuardBytes];
    ssize_t n;
    do {
      n = ::pread(fd, now, len, static_cast<off_t>(at));
    } while (n < 0 && errno == EINTR);
    return n != static_cast<ssize_t>(len) || std::memcmp(now, guard_, len) != 0;
  }

  // readFile() found f truncated between two of its reads. The lines of the batch in hand were
  // read before that and are sent; then reading restarts at 0. False when the channels refused
  // them: they are gone from the file, so reading restarts at 0 all the same after the back-off.
  bool restartWhileReading(TailFile& f) {
    const bool sent = batch_.empty() || deliver(f);
    restartAtZero(f, "its bytes before the read position changed while it was read");
    bufFile_ = &f;
    bufBase_ = 0;
    bufLen_ = 0;
    return sent;
  }

  void restartAtZero(TailFile& f, const char* why) {
    counter_.increment(TaildirSource::kTruncationsDetected);
    source_.logger().info("'", f.path, "' was truncated (", why, "); reading it from the start");
    f.pos = 0;
    f.splitter.reset(0);
    if (f.ml) f.ml->reset();
    f.fpLen = 0;
    f.endGuardAt = 0;
    f.endGuardLen = 0;
    if (bufFile_ == &f) bufFile_ = nullptr;
    posDirty_ = true;
  }

  // Reads what f has, in batches. flushPartial: also send an unfinished last line (idle or
  // deleted file). Returns true when it stopped early with more to read (maxBatchCount).
  bool readFile(TailFile& f, bool flushPartial) {
    if (!ensureOpen(f)) return false;
    f.atEof = false;
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) {
      counter_.incrementEventReadFail();
      closeFd(f);
      return false;
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size < f.splitter.offset()) restartAtZero(f, "it is shorter than the read position");
    // The fingerprint is compared after the first read below, not here: a truncation between
    // a check here and that read would go unnoticed, and the read would return the new
    // content's bytes at the old offset.
    bool fpChecked = f.fpLen == 0;
    if (size != f.lastSize) {
      f.lastSize = size;
      f.lastChange = Clock::now();
    }
    const bool deleted = st.st_nlink == 0;
    if (deleted) flushPartial = true;

    if (bufFile_ != &f || f.splitter.offset() < bufBase_ ||
        f.splitter.offset() > bufBase_ + bufLen_) {
      bufFile_ = &f;
      bufBase_ = f.splitter.offset();
      bufLen_ = 0;
    }
    int64_t batches = 0;
    bool eof = false;
    bool more = false;
    for (;;) {
      if (stopping()) break;
      const std::size_t idx = static_cast<std::size_t>(f.splitter.offset() - bufBase_);
      const std::size_t avail = bufLen_ - idx;
      f.splitter.scan(buf_.get() + idx, avail, eof && flushPartial, [&](const Line& l) {
        onLine(f, l);
        return batch_.size() < s_.batchSize;
      });
      if (batch_.size() >= s_.batchSize) {
        if (!deliver(f)) return false;
        // A long catch-up must not hold back the position file: checked after every batch (a
        // clock read per batch is noise), so after a crash what is read again is at most
        // writePosInterval worth of lines plus one batch.
        if (const Clock::time_point now = Clock::now(); now >= nextPosWrite_) {
          writePositions(false);
          nextPosWrite_ = now + s_.writePosInterval;
        }
        if (++batches >= s_.maxBatchCount) {
          more = true;
          break;
        }
        continue;
      }
      if (eof) break;
      // Need more bytes: keep the unfinished line at the front and read after it.
      const std::size_t keep = bufLen_ - static_cast<std::size_t>(f.splitter.offset() - bufBase_);
      const uint64_t at = bufBase_ + bufLen_;  // every byte before it has been read
      // The bytes just before `at`, to check after the read that they are still there: if the
      // file was truncated and written past `at` again (copytruncate racing a fast writer)
      // between two reads, the read returned the new content from the middle.
      std::size_t guardLen = std::min(kGuardBytes, bufLen_);
      std::memcpy(guard_, buf_.get() + bufLen_ - guardLen, guardLen);
      if (guardLen < f.endGuardLen && f.endGuardAt == at) {
        // The buffer holds less of what came before `at` (it served another file meanwhile).
        guardLen = f.endGuardLen;
        std::memcpy(guard_, f.endGuard, guardLen);
      }
      if (keep > 0 && f.splitter.offset() != bufBase_)
        std::memmove(buf_.get(), buf_.get() + (bufLen_ - keep), keep);
      bufBase_ = f.splitter.offset();
      bufLen_ = keep;
      ssize_t n;
      do {
        n = ::pread(f.fd, buf_.get() + bufLen_, cap_ - bufLen_, static_cast<off_t>(at));
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        counter_.incrementEventReadFail();
        int64_t suppressed = 0;
        if (readLog_.admit(Clock::now(), &suppressed))
          source_.logger().error("cannot read '", f.path, "': ", errnoText(errno));
        break;
      }
      // After the read, so that it vouches for what the read returned. The first read of a call
      // has no bytes in hand and compares the fingerprint (which also covers a file truncated and
      // rewritten to the same size while we were not looking: n == 0).
      bool truncated = false;
      if (!fpChecked) {
        fpChecked = true;
        truncated = fingerprintChanged(f, f.fd);
      }
      if (!truncated && n > 0 && guardLen > 0)
        truncated = bytesChanged(f.fd, at - guardLen, guardLen);
      if (!truncated && at < f.endGuardAt) {
        // Reading again what was read before (the unfinished line, after the buffer served
        // another file): the bytes this file was last read up to must be in it, unchanged; a
        // file that is shorter now was truncated.
        const uint64_t end = at + static_cast<uint64_t>(std::max<ssize_t>(n, 0));
        const uint64_t guardStart = f.endGuardAt - f.endGuardLen;
        const uint64_t from = std::max(guardStart, at);  // the part of the guard this read covers
        truncated = end < f.endGuardAt ||
                    std::memcmp(buf_.get() + bufLen_ + (from - at), f.endGuard + (from - guardStart),
                                static_cast<std::size_t>(f.endGuardAt - from)) != 0;
      }
      if (truncated) {
        if (!restartWhileReading(f)) return false;
        eof = false;
        continue;
      }
      if (n == 0) {
        eof = true;
        continue;  // one more scan: flushes the partial line when asked
      }
      bufLen_ += static_cast<std::size_t>(n);
      progress_ = true;
      if (bufBase_ + bufLen_ > f.endGuardAt) {
        f.endGuardLen = static_cast<uint8_t>(std::min(kEndGuardBytes, bufLen_));
        f.endGuardAt = bufBase_ + bufLen_;
        std::memcpy(f.endGuard, buf_.get() + bufLen_ - f.endGuardLen, f.endGuardLen);
      }
    }
    if (flushPartial && f.ml && !stopping()) {
      f.ml->flush([&](Aggregate&& a) { addAggregate(f, std::move(a)); });
    }
    if (!batch_.empty() && !deliver(f)) return false;
    rememberFingerprint(f);
    f.atEof = eof;
    if (deleted && !more && !stopping()) {
      counter_.increment(TaildirSource::kFilesDeleted);
      source_.logger().info("'", f.path, "' was deleted; read it to the end and closed it");
      erase(f);
      return false;
    }
    return more;
  }

  void onLine(TailFile& f, const Line& l) {
    if (l.truncated) counter_.increment(TaildirSource::kLinesTruncated);
    if (l.partial) counter_.increment(TaildirSource::kPartialLinesFlushed);
    if (!f.ml) {
      sdk::Event& e = batch_.emplace_back(std::string(l.body));
      decorate(f, e, l.start);
      batchEnd_ = l.end;
      return;
    }
    f.mlLast = Clock::now();
    const int err = f.ml->feed(l, [&](Aggregate&& a) { addAggregate(f, std::move(a)); });
    if (err < 0) {
      counter_.incrementGenericProcessingFail();
      if (javaregex::shouldWarn(++regexErrors_))
        source_.logger().warn("multiline.pattern failed on a line of '", f.path, "' (PCRE2 error ",
                              err, "); treated as not matching");
    }
  }

  void addAggregate(TailFile& f, Aggregate&& a) {
    if (a.lines > 1) counter_.increment(TaildirSource::kMultilineEvents);
    sdk::Event& e = batch_.emplace_back();
    e.body = std::move(a.body);
    decorate(f, e, a.start);
    batchEnd_ = a.end;
  }

  void decorate(const TailFile& f, sdk::Event& e, uint64_t start) {
    const GroupSpec& g = groups_[f.group]->spec;
    if (!g.headers.empty())
      for (const auto& [k, v] : g.headers) e.headers.set(k, v);
    if (s_.fileHeader) e.headers.set(s_.fileHeaderKey, f.path);
    if (s_.byteOffsetHeader) e.headers.set("byteoffset", std::to_string(start));
  }

  // Hands batch_ (all from f) to the channels. On success f's committed position moves to the
  // end of the last event; on refusal f rewinds to its committed position and waits.
  bool deliver(TailFile& f) {
    const auto n = static_cast<int64_t>(batch_.size());
    counter_.addToEventReceivedCount(n);
    counter_.incrementAppendBatchReceivedCount();
    sdk::Result r = processor_.processEventBatch(batch_);
    batch_.clear();
    if (r) {
      counter_.addToEventAcceptedCount(n);
      counter_.incrementAppendBatchAcceptedCount();
      f.pos = batchEnd_;
      posDirty_ = true;
      retryDelay_ = milliseconds(0);
      return true;
    }
    counter_.incrementChannelWriteFail();
    retryDelay_ = std::min(retryDelay_ + milliseconds(s_.backoffSleepIncrement),
                           milliseconds(s_.maxBackoffSleep));
    int64_t suppressed = 0;
    if (refuseLog_.admit(Clock::now(), &suppressed))
      source_.logger().warn("channels refused ", n, " lines from '", f.path, "': ", r.error(),
                            "; retrying in ", retryDelay_.count(), " ms",
                            suppressed ? " (" + std::to_string(suppressed) + " similar)" : "");
    f.splitter.reset(f.pos);
    if (f.ml) f.ml->reset();
    if (bufFile_ == &f) bufFile_ = nullptr;
    f.retryAt = Clock::now() + retryDelay_;
    f.check = true;
    return false;
  }

  void multilineTimeouts(Clock::time_point now) {
    for (std::size_t i = 0; i < order_.size(); ++i) {
      TailFile& f = *order_[i];
      if (!f.ml || !f.ml->pending() || now - f.mlLast < s_.multilineTimeout) continue;
      if (f.retryAt > now) continue;
      f.ml->flush([&](Aggregate&& a) { addAggregate(f, std::move(a)); });
      if (!batch_.empty()) deliver(f);
    }
  }

  // Closes files idle for idleTimeout, sending an unfinished last line first (as Flume does);
  // forgets the ones that no longer match. A file that maxOpenFiles closed with an unfinished
  // last line is reopened for that.
  void idleSweep(Clock::time_point now) {
    for (std::size_t i = 0; i < order_.size() && !stopping(); ++i) {
      TailFile& f = *order_[i];
      const bool tailWaits = f.evicted && f.lastSize > f.splitter.offset();
      if ((f.fd < 0 && !tailWaits) || now - f.lastChange < s_.idleTimeout || f.retryAt > now) {
        if (f.fd < 0 && !f.matched && now - f.lastChange >= s_.idleTimeout) {
          // Found renamed away while closed (followClosed) but never given a descriptor.
          erase(f);
          removed_ = false;
          --i;
        }
        continue;
      }
      if (f.fd < 0 && !ensureOpen(f, true)) continue;
      removed_ = false;
      readFile(f, true);
      if (removed_) {
        removed_ = false;
        --i;
        continue;
      }
      if (f.fd < 0) continue;
      if (now - f.lastChange < s_.idleTimeout) continue;  // it grew meanwhile
      if (f.pos != f.splitter.offset()) continue;         // a refused batch: try again later
      closeFd(f);
      source_.logger().debug("closed idle file '", f.path, "'");
      if (!f.matched) {
        erase(f);
        removed_ = false;
        --i;
      }
    }
  }

  void writePositions(bool force) {
    if (!posDirty_ && !force) return;
    std::vector<PositionEntry> entries;
    entries.reserve(order_.size());
    for (const TailFile* f : order_)
      entries.push_back(PositionEntry{static_cast<uint64_t>(f->ino), f->pos, f->path});
    if (force && entries.empty() && !wrotePositions_ && loaded_.empty()) return;
    std::vector<FingerprintEntry> fps;
    for (const TailFile* f : order_)
      if (f->fpLen)
        fps.push_back(
            FingerprintEntry{static_cast<uint64_t>(f->ino), f->pos, f->fpEnd, f->fpLen, f->fpHash});
    try {
      writeFileAtomically(s_.positionFile, formatPositions(entries));
      writeFileAtomically(fingerprintFile(), formatFingerprints(fps));
      posDirty_ = false;
      wrotePositions_ = true;
    } catch (const std::exception& e) {
      counter_.increment(TaildirSource::kPositionWriteFail);
      int64_t suppressed = 0;
      if (posLog_.admit(Clock::now(), &suppressed))
        source_.logger().error("cannot write the position file: ", e.what());
    }
  }

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
  LogThrottle readLog_;
  LogThrottle refuseLog_;
  LogThrottle posLog_;
  LogThrottle capLog_;
};

TaildirSource::TaildirSource() {
  sdk::SourceCounter& c = sourceCounter();
  if (c.add("LinesTruncatedCount") != kLinesTruncated ||
      c.add("FilesOpenedCount") != kFilesOpened || c.add("FilesClosedCount") != kFilesClosed ||
      c.add("RotationsDetectedCount") != kRotationsDetected ||
      c.add("TruncationsDetectedCount") != kTruncationsDetected ||
      c.add("PartialLinesFlushedCount") != kPartialLinesFlushed ||
      c.add("MultilineEventsCount") != kMultilineEvents ||
      c.add("PositionWriteFail") != kPositionWriteFail ||
      c.add("FilesDeletedCount") != kFilesDeleted || c.add("FilesEvictedCount") != kFilesEvicted ||
      c.add("ClosedFilesLostCount") != kClosedFilesLost)
    throw std::logic_error("taildir source: unexpected SourceCounter layout");
}

TaildirSource::~TaildirSource() { stop(); }

void TaildirSource::configure(const sdk::Context& context) {
  TaildirSettings s;
  const std::vector<std::string> names = context.getNames("filegroups");
  if (names.empty()) context.fail("filegroups", "is required but missing");
  for (const std::string& name : names) {
    const std::string key = "filegroups." + name;
    if (!context.containsKey(key))
      context.fail("filegroups", "names group '" + name + "' but " + key + " is missing");
    GroupSpec g;
    g.name = name;
    std::string value = context.getString(key, "");
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
    const std::size_t slash = value.rfind('/');
    if (value.empty() || slash == std::string::npos || slash + 1 == value.size())
      context.fail(key,
                   "expected a directory and a file-name regex such as /var/log/app/.*\\.log, "
                   "got '" +
                       value + "'");
    g.dir = slash == 0 ? "/" : value.substr(0, slash);
    g.pattern = value.substr(slash + 1);
    if (g.dir.front() != '/') {
      char cwd[PATH_MAX];
      if (::getcwd(cwd, sizeof cwd)) g.dir = std::string(cwd) + "/" + g.dir;
    }
    std::string err;
    g.regex = javaregex::Regex::compile(g.pattern, javaregex::Mode::Matches, &err);
    if (!g.regex) context.fail(key, "bad file-name regex '" + g.pattern + "': " + err);
    s.groups.push_back(std::move(g));
  }
  // headers.<group>.<key>
  for (const auto& [key, param] : context.parameters()) {
    if (key.rfind("headers.", 0) != 0) continue;
    const std::string rest = key.substr(8);
    const std::size_t dot = rest.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size())
      context.fail(key, "expected headers.<group>.<header name>");
    const std::string group = rest.substr(0, dot);
    auto it = std::find_if(s.groups.begin(), s.groups.end(),
                           [&](const GroupSpec& g) { return g.name == group; });
    if (it == s.groups.end())
      context.fail(key, "names file group '" + group + "', which filegroups does not list");
    it->headers.emplace_back(rest.substr(dot + 1), param.value);
  }
  for (const auto& [key, param] : context.parameters()) {
    if (key.rfind("filegroups.", 0) != 0) continue;
    const std::string group = key.substr(11);
    if (std::find(names.begin(), names.end(), group) == names.end())
      logger().warn(context.describe(key), ": file group '", group,
                    "' is not listed in filegroups and is ignored");
  }
  s.positionFile = requireValue(context, "positionFile");
  if (s.positionFile.empty()) context.fail("positionFile", "must name a file");
  if (s.positionFile.rfind("~/", 0) == 0) s.positionFile = homeDir() + s.positionFile.substr(1);
  s.byteOffsetHeader = requireBoolean(context, "byteOffsetHeader");
  s.skipToEnd = requireBoolean(context, "skipToEnd");
  s.cachePatternMatching = requireBoolean(context, "cachePatternMatching");
  s.fileHeader = requireBoolean(context, "fileHeader");
  s.fileHeaderKey = requireValue(context, "fileHeaderKey");
  s.idleTimeout = milliseconds(requireInteger(context, "idleTimeout"));
  s.writePosInterval = milliseconds(requireInteger(context, "writePosInterval"));
  s.batchSize = static_cast<std::size_t>(requireInteger(context, "batchSize"));
  s.maxBatchCount = requireLong(context, "maxBatchCount");
  s.backoffSleepIncrement = requireLong(context, "backoffSleepIncrement");
  s.maxBackoffSleep = requireLong(context, "maxBackoffSleep");
  if (s.maxBackoffSleep < s.backoffSleepIncrement)
    context.fail("maxBackoffSleep", "(" + std::to_string(s.maxBackoffSleep) +
                                        ") must be >= backoffSleepIncrement (" +
                                        std::to_string(s.backoffSleepIncrement) + ")");
  s.maxLineLength = static_cast<std::size_t>(requireInteger(context, "maxLineLength"));
  s.maxOpenFiles = static_cast<std::size_t>(requireInteger(context, "maxOpenFiles"));
  s.inotify = requireBoolean(context, "inotify");
  if (auto pattern = context.getString("multiline.pattern")) {
    std::string err;
    s.multiline.pattern = javaregex::Regex::compile(*pattern, javaregex::Mode::Find, &err);
    if (!s.multiline.pattern)
      context.fail("multiline.pattern", "bad regex '" + *pattern + "': " + err);
    s.multiline.negate = requireBoolean(context, "multiline.negate");
    // An enum the host has checked: after or before, in any case.
    std::string match = requireValue(context, "multiline.match");
    for (char& c : match) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    s.multiline.matchAfter = match != "before";
    s.multiline.maxLines = static_cast<std::size_t>(requireInteger(context, "multiline.maxLines"));
    s.multiline.maxBytes = s.maxLineLength;
    s.multilineTimeout = milliseconds(requireInteger(context, "multiline.timeout"));
  } else {
    // The host fills in the other multiline.* keys' defaults: a value that differs from the
    // schema's default is one the user set, to no effect.
    for (const sdk::Key& k : taildirSourceSchema().keys)
      if (k.name.rfind("multiline.", 0) == 0 && !k.defaultValue.empty() &&
          context.getString(k.name) != k.defaultValue)
        logger().warn(context.describe(k.name), " has no effect without multiline.pattern");
  }
  path_ = context.path();
  settings_ = std::move(s);
  configured_ = true;
}

void TaildirSource::start() {
  if (tailer_) return;
  if (!configured_) throw std::logic_error("taildir source started before configure()");
  auto t = std::make_unique<Tailer>(*this, settings_, path_);
  t->open();
  std::string dirs;
  for (const auto& g : settings_.groups)
    dirs += (dirs.empty() ? "" : ", ") + g.dir + "/" + g.pattern;
  logger().info("tailing ", dirs, "; positions in '", settings_.positionFile, "'");
  t->startThread();
  tailer_ = std::move(t);
}

void TaildirSource::stop() {
  if (!tailer_) return;
  tailer_->stopThread();
  tailer_.reset();
  sourceCounter().setOpenConnectionCount(0);
  logger().info("stopped");
}

void TaildirSource::poke() noexcept {
  if (tailer_) tailer_->poke();
}

}  // namespace sluice::plugins::taildir
