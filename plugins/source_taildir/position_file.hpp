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

// Writes text to path atomically: path.tmp is written, fsynced and renamed over path, then the
// directory is fsynced. Throws std::runtime_error naming the path and the errno text on failure
// (and removes the temporary file).
void writeFileAtomically(const std::string& path, std::string_view text);

// Reads a whole file. Returns false when it does not exist; throws on other errors.
bool readWholeFile(const std::string& path, std::string* out);

}  // namespace sluice::plugins::taildir
