#pragma once
// The position file: Flume's TAILDIR format, a JSON array of {"inode":N,"pos":N,"file":"path"},
// so a Flume user's file carries over and sluice's file can be handed back to Flume.
// Parsing is for outside input (a file a user or Flume wrote): it never throws on bad input,
// it reports an error instead, and it is fuzzed (fuzz_taildir_position.cpp).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::plugins::taildir {

struct PositionEntry {
  uint64_t inode = 0;
  uint64_t pos = 0;
  std::string file;

  friend bool operator==(const PositionEntry& a, const PositionEntry& b) {
    return a.inode == b.inode && a.pos == b.pos && a.file == b.file;
  }
};

// Parses a position file's text. Whitespace and key order are free; unknown keys (of any JSON
// type) are skipped; an entry without inode, pos or file is skipped and counted in *skipped.
// Returns false and sets *error (with the byte offset) when the text is not such a JSON array.
// An empty or all-blank text is an empty list.
bool parsePositions(std::string_view text, std::vector<PositionEntry>* out, std::string* error,
                    std::size_t* skipped = nullptr);

// The JSON text for entries, exactly as Flume's Gson writes it: no spaces, keys in the order
// inode, pos, file.
std::string formatPositions(const std::vector<PositionEntry>& entries);

// The sidecar of the position file (<positionFile>.fingerprints): per file, a hash of the len
// bytes that ended at offset end when it was last read, so that a file truncated and rewritten
// while the agent was down is recognised on start even when it grew past its saved position.
// It is separate because Flume's position file reader fails on a key it does not know (Gson's
// nextName() meets the unread value), and a sluice position file must stay readable by Flume.
// pos is the committed position the entry was written with: an entry applies only while the
// position file still says the same (neither file is older than the other).
struct FingerprintEntry {
  uint64_t inode = 0;
  uint64_t pos = 0;
  uint64_t end = 0;
  uint64_t len = 0;
  uint64_t hash = 0;

  friend bool operator==(const FingerprintEntry& a, const FingerprintEntry& b) {
    return a.inode == b.inode && a.pos == b.pos && a.end == b.end && a.len == b.len &&
           a.hash == b.hash;
  }
};

// A first line naming the format, then one line per entry: "inode pos end len hash", decimal.
std::string formatFingerprints(const std::vector<FingerprintEntry>& entries);

// Parses formatFingerprints' text. A malformed line (len 0 or > end, junk) is skipped; false
// when the first line is not the format's name.
bool parseFingerprints(std::string_view text, std::vector<FingerprintEntry>* out);

// Writes text to path atomically (files::writeFileAtomically: path.tmp is written, fsynced and
// renamed over path, then the directory is fsynced). Throws std::runtime_error naming the path
// and the errno text on failure (the temporary file is removed).
void writeFileAtomically(const std::string& path, std::string_view text);

// Reads a whole file. Returns false when it does not exist; throws on other errors.
bool readWholeFile(const std::string& path, std::string* out);

}  // namespace sluice::plugins::taildir
