#pragma once
// Flume's TAILDIR source: follows the files whose names match a regex in fixed directories and
// turns each new line into an event, remembering per file how far it got in a position file.
//
// Design (README.md describes what users see):
//  - One reader thread for every file of the source (no thread per file). It sleeps in poll() on
//    an inotify descriptor watching the group directories (IN_MODIFY, IN_CREATE, IN_MOVED_*,
//    IN_DELETE ...) plus an eventfd for stop, and falls back to polling when inotify is off or
//    unavailable.
//  - Files are identified by (device, inode), never by name: a renamed file keeps its position,
//    a new file under the old name is a new file. A file that no longer matches (renamed away)
//    or was deleted is still read through its open descriptor until it has been idle for
//    idleTimeout (renamed) or to its end (deleted), then closed.
//  - Reading: pread() into one large buffer (512 KiB plus the longest line), lines found with
//    memchr by LineSplitter, events built straight into a reused batch: the only allocation per
//    line is the event body (plus headers when configured). One processEventBatch (one channel
//    transaction) per batch.
//  - A file's committed position advances only when the channels accepted the batch; a refused
//    batch rewinds the file to its committed position and is read again after a back-off. The
//    position file holds committed positions only and is replaced atomically (temp, fsync,
//    rename, fsync of the directory) every writePosInterval and on stop.
//  - Truncation (copytruncate) is detected when the size drops below the read position or when
//    the last bytes read before the position no longer match (the file was truncated and grew
//    again before it was looked at); reading then restarts at 0.
//  - Open descriptors are bounded twice: files idle for idleTimeout are closed, and at most
//    maxOpenFiles are open at once (opening one more closes the least recently active file that
//    can be found again by name). A closed file keeps its state in memory (read offset, pending
//    multiline event, fingerprint) and is reopened when inotify or a poll sees it change, after
//    checking that the name still leads to the same device and inode. A closed file renamed to a
//    name the pattern does not match is found again by inode in its directory and read to its
//    end; one that left the directory (or was deleted) cannot be, and is counted.
//  - The truncation fingerprint of each file is kept in a sidecar file beside the position file
//    (<positionFile>.fingerprints): Flume's reader fails on a key it does not know, so the
//    position file itself stays exactly Flume's format.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "line_splitter.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::plugins::taildir {

// The keys this source accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& taildirSourceSchema();

struct GroupSpec {
  std::string name;     // the file group's name (filegroups = g1 g2)
  std::string dir;      // the fixed directory part, without a trailing slash
  std::string pattern;  // the file-name regex (Java syntax, whole-name match as in Flume)
  std::shared_ptr<const javaregex::Regex> regex;
  std::vector<std::pair<std::string, std::string>> headers;  // headers.<group>.<key>
};

struct TaildirSettings {
  std::vector<GroupSpec> groups;
  std::string positionFile;
  bool byteOffsetHeader = false;
  bool skipToEnd = false;
  bool cachePatternMatching = true;
  bool fileHeader = false;
  std::string fileHeaderKey = "file";
  std::chrono::milliseconds idleTimeout{120000};
  std::chrono::milliseconds writePosInterval{3000};
  std::size_t batchSize = 100;
  int64_t maxBatchCount = INT64_MAX;
  int64_t backoffSleepIncrement = 1000;
  int64_t maxBackoffSleep = 5000;
  std::size_t maxLineLength = 1 << 20;
  std::size_t maxOpenFiles = 1000;
  bool inotify = true;
  MultilineSettings multiline;
  std::chrono::milliseconds multilineTimeout{5000};
};

class Tailer;

class TaildirSource final : public sdk::EventDrivenSource {
 public:
  static constexpr const char* kThreadName = "sluice-taildir";
  static constexpr std::size_t kReadChunk = 512 * 1024;

  // Counters added after Flume's SourceCounter ones (the constructor checks the indices).
  enum : std::size_t {
    kLinesTruncated = sdk::SourceCounter::GenericProcessingFail + 1,
    kFilesOpened,
    kFilesClosed,
    kRotationsDetected,
    kTruncationsDetected,
    kPartialLinesFlushed,
    kMultilineEvents,
    kPositionWriteFail,
    kFilesDeleted,
    kFilesEvicted,
    kClosedFilesLost,
  };

  TaildirSource();
  ~TaildirSource() override;

  // Control thread. Parses and checks every key (bad regexes, unknown groups).
  void configure(const sdk::Context& context) override;
  // Creates the position file's directory, reads the position file, starts the reader thread.
  void start() override;
  // Stops the reader after its current batch, writes the position file, closes every file.
  // Safe to repeat.
  void stop() override;

  const TaildirSettings& settings() const noexcept { return settings_; }
  // For tests: wakes the reader as if inotify had reported a change everywhere.
  void poke() noexcept;

 private:
  TaildirSettings settings_;
  std::string path_;  // the component's config path, for error messages
  bool configured_ = false;
  std::unique_ptr<Tailer> tailer_;
};

}  // namespace sluice::plugins::taildir
