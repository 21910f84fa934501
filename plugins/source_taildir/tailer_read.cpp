// Reading: lines from a file's descriptor into batches (multiline events too), delivered to the
// channels with the committed position moving only on success; truncation (copytruncate) found
// by size, by fingerprint and by the bytes before each read; idle files flushed and closed.

#include "tailer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "source_put.hpp"

namespace sluice::plugins::taildir {

bool Tailer::fingerprintChanged(TailFile& f, int fd) {
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

void Tailer::rememberFingerprint(TailFile& f) {
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

bool Tailer::bytesChanged(int fd, uint64_t at, std::size_t len) {
  char now[kGuardBytes];
  ssize_t n;
  do {
    n = ::pread(fd, now, len, static_cast<off_t>(at));
  } while (n < 0 && errno == EINTR);
  return n != static_cast<ssize_t>(len) || std::memcmp(now, guard_, len) != 0;
}

bool Tailer::restartWhileReading(TailFile& f) {
  const bool sent = batch_.empty() || deliver(f);
  restartAtZero(f, "its bytes before the read position changed while it was read");
  bufFile_ = &f;
  bufBase_ = 0;
  bufLen_ = 0;
  return sent;
}

void Tailer::restartAtZero(TailFile& f, const char* why) {
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

bool Tailer::readFile(TailFile& f, bool flushPartial) {
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

void Tailer::onLine(TailFile& f, const Line& l) {
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

void Tailer::addAggregate(TailFile& f, Aggregate&& a) {
  if (a.lines > 1) counter_.increment(TaildirSource::kMultilineEvents);
  sdk::Event& e = batch_.emplace_back();
  e.body = std::move(a.body);
  decorate(f, e, a.start);
  batchEnd_ = a.end;
}

void Tailer::decorate(const TailFile& f, sdk::Event& e, uint64_t start) {
  const GroupSpec& g = groups_[f.group]->spec;
  if (!g.headers.empty())
    for (const auto& [k, v] : g.headers) e.headers.set(k, v);
  if (s_.fileHeader) e.headers.set(s_.fileHeaderKey, f.path);
  if (s_.byteOffsetHeader) e.headers.set("byteoffset", std::to_string(start));
}

bool Tailer::deliver(TailFile& f) {
  const auto n = static_cast<int64_t>(batch_.size());
  sdk::Result r = sources::putBatch(processor_, counter_, batch_);
  if (r) {
    f.pos = batchEnd_;
    posDirty_ = true;
    retryDelay_ = milliseconds(0);
    return true;
  }
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

void Tailer::multilineTimeouts(Clock::time_point now) {
  for (std::size_t i = 0; i < order_.size(); ++i) {
    TailFile& f = *order_[i];
    if (!f.ml || !f.ml->pending() || now - f.mlLast < s_.multilineTimeout) continue;
    if (f.retryAt > now) continue;
    f.ml->flush([&](Aggregate&& a) { addAggregate(f, std::move(a)); });
    if (!batch_.empty()) deliver(f);
  }
}

void Tailer::idleSweep(Clock::time_point now) {
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

}  // namespace sluice::plugins::taildir
