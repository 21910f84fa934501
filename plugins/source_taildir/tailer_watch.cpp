// The reader thread's loop: waits on inotify and the wake-up descriptor, polls as a safety net
// (or instead of inotify), and runs the listings, reads, idle sweeps and position writes when due.

#include "tailer.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace sluice::plugins::taildir {

Tailer::Tailer(TaildirSource& source, const TaildirSettings& s, std::string path)
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

Tailer::~Tailer() {
  stopThread();
  for (auto& [k, f] : files_)
    if (f->fd >= 0) ::close(f->fd);
  if (inotifyFd_ >= 0) ::close(inotifyFd_);
  if (wakeFd_ >= 0) ::close(wakeFd_);
}

void Tailer::open() {
  loadPositions();
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

void Tailer::watch(Group& g) {
  if (inotifyFd_ < 0 || g.wd >= 0) return;
  const uint32_t mask = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                        IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
  g.wd = ::inotify_add_watch(inotifyFd_, g.spec.dir.c_str(), mask);
  if (g.wd < 0) {
    if (!g.listed)
      source_.logger().warn("cannot watch directory '", g.spec.dir, "' of file group ", g.spec.name,
                            ": ", errnoText(errno), "; polling it");
  } else {
    wdToGroup_[g.wd] = &g;
  }
}

void Tailer::run() noexcept {
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

void Tailer::waitFor(int ms) {
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

void Tailer::drainInotify() {
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
          if (m->second == &g && !g.spec.regex->test(name) && g.byName.find(name) == g.byName.end())
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

int Tailer::timeoutMs(Clock::time_point now) const {
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

void Tailer::loopOnce() {
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

}  // namespace sluice::plugins::taildir
