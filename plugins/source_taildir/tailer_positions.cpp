// The position file (Flume's format, position_file.hpp) and its fingerprint sidecar: read when
// the source starts, replaced atomically every writePosInterval, after long catch-ups and on stop.

#include "tailer.hpp"

#include <algorithm>
#include <cstdio>

namespace sluice::plugins::taildir {

void Tailer::loadPositions() {
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
}

void Tailer::loadFingerprints() {
  std::string text;
  try {
    if (!readWholeFile(fingerprintFile(), &text)) return;
  } catch (const std::exception& e) {
    source_.logger().warn(e.what(), "; starting without truncation fingerprints");
    return;
  }
  if (!parseFingerprints(text, &loadedFp_))
    source_.logger().warn("'", fingerprintFile(),
                          "' is not a fingerprint file; starting without truncation fingerprints");
}

void Tailer::writePositions(bool force) {
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

}  // namespace sluice::plugins::taildir
