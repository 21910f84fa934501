// The file table: which files are followed, under which names. Directory listings find new
// files and renames (a file is its device and inode, never its name), vanished files are read to
// their end or looked for under other names, and descriptors stay within maxOpenFiles.

#include "tailer.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace sluice::plugins::taildir {

void Tailer::list(Group& g) {
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

void Tailer::adoptRenamed() {
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

void Tailer::markUnseen(std::size_t gi) {
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

bool Tailer::followClosed(TailFile& f) {
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

TailFile* Tailer::add(const Key& key, std::size_t gi, const std::string& full, std::string name,
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
        source_.logger().warn("'", full, "' is shorter (", size, " bytes) than where it was read (",
                              fp.end, "); it was truncated, reading it from the start");
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

void Tailer::rename(TailFile& f, const std::string& full, std::string name) {
  Group& g = *groups_[f.group];
  auto it = g.byName.find(f.name);
  if (it != g.byName.end() && it->second == &f) g.byName.erase(it);
  f.path = full;
  f.name = std::move(name);
  g.byName[f.name] = &f;
  posDirty_ = true;
}

void Tailer::eraseAll(const std::vector<TailFile*>& gone) {
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

void Tailer::detach(TailFile& f) {
  if (f.fd >= 0) closeFd(f);
  Group& g = *groups_[f.group];
  auto it = g.byName.find(f.name);
  if (it != g.byName.end() && it->second == &f) g.byName.erase(it);
  if (bufFile_ == &f) bufFile_ = nullptr;
  removed_ = true;
  posDirty_ = true;
}

void Tailer::closeFd(TailFile& f) {
  ::close(f.fd);
  f.fd = -1;
  f.evicted = false;
  open_.erase(std::find(open_.begin(), open_.end(), &f));
  if (bufFile_ == &f) bufFile_ = nullptr;
  counter_.increment(TaildirSource::kFilesClosed);
  counter_.setOpenConnectionCount(--openFiles_);
}

bool Tailer::ensureOpen(TailFile& f, bool always) {
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

bool Tailer::makeRoom() {
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

}  // namespace sluice::plugins::taildir
