#pragma once
// Flume's SpoolDirectorySource (type spooldir): reads every file dropped into a directory, one
// after the other, turns it into events, and marks it done (renamed, tracked or deleted) once
// all of its events are in the channels.
//
// Design (README.md describes what users see):
//  - One thread per source ("sluice-spool") does everything: lists the directory, reads the
//    current file with pread into one reused buffer, runs the LINE or BLOB deserializer over the
//    buffer and hands batches to the channel processor.
//  - Progress is a raw byte offset. After each accepted batch the offset and the file's identity
//    (device, inode, size, mtime) are written to <trackerDir>/.sluicespool-main.meta with one
//    pwrite into one of two 4 KiB slots, alternately, each record carrying a sequence number and a
//    checksum: the newest valid slot wins, so a torn write never loses the previous record. A
//    process crash loses nothing and repeats at most the batch in flight. The record is fsynced
//    at most every metaSyncInterval (a temp file + fsync + rename per batch cost 5-10 ms here,
//    capping a big file at ~14 MB/s); a power loss can only make the record older, which repeats
//    events and never loses them.
//  - A refused batch is re-read from the committed offset after a back-off (250 ms doubling up to
//    maxBackoff), as Flume does.
//  - Bad files (modified after pickup, name already used, undecodable with FAIL) are logged by
//    name, moved to quarantineDir (or left alone), counted, and the source carries on.

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "deserializer.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::plugins::javaregex {
class Regex;
}

namespace sluice::plugins::spooldir {

const sdk::Schema& spoolDirSourceSchema();

enum class ConsumeOrder { Oldest, Youngest, Random };
enum class DeserializerKind { Line, Blob };

// Set by configure() from every key; the defaults live in spoolDirSourceSchema() only.
struct SpoolSettings {
  std::string spoolDir;
  std::string fileSuffix;
  bool deleteImmediate = false;
  bool fileHeader = false;
  std::string fileHeaderKey;
  bool basenameHeader = false;
  std::string basenameHeaderKey;
  std::string includePattern;
  std::string ignorePattern;
  std::string trackerDir;  // absolute
  bool trackerDirPolicy = false;
  ConsumeOrder consumeOrder = ConsumeOrder::Oldest;
  std::chrono::milliseconds pollDelay{};
  bool recursive = false;
  std::chrono::milliseconds maxBackoff{};
  std::size_t batchSize = 0;
  std::string inputCharset;
  DecodeErrorPolicy decodeErrorPolicy = DecodeErrorPolicy::Fail;
  DeserializerKind deserializer = DeserializerKind::Line;
  std::size_t maxLineLength = 0;
  std::size_t maxBlobLength = 0;
  std::string quarantineDir;  // absolute
  bool quarantine = false;    // onError = quarantine; false: leave
  std::chrono::milliseconds metaSyncInterval{};
};

// What the source knows about a file it reads: enough to tell that it changed.
struct FileIdentity {
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t size = 0;
  int64_t mtimeNs = 0;
  bool operator==(const FileIdentity&) const = default;
};

// The identity of what fstat/stat returned.
FileIdentity identityFrom(const struct stat& st);

// The progress record: which file, which identity, how far its events are committed.
struct SpoolMeta {
  std::string path;
  FileIdentity id;
  int64_t offset = 0;
  uint64_t seq = 0;  // the newer of the two slots wins
};

// The progress file holds two slots of kMetaSlotBytes, written alternately.
inline constexpr std::size_t kMetaSlotBytes = 4096;
// Text form of the meta file; parse returns nullopt for anything malformed.
std::string formatMeta(const SpoolMeta& m);
std::optional<SpoolMeta> parseMeta(std::string_view text);
// The newest valid record of a whole progress file.
std::optional<SpoolMeta> parseMetaFile(std::string_view data);

class SpoolDirSource final : public sdk::EventDrivenSource {
 public:
  static constexpr const char* kThreadName = "sluice-spool";
  static constexpr const char* kMetaName = ".sluicespool-main.meta";
  static constexpr std::size_t kReadBytes = 1024 * 1024;
  static constexpr std::chrono::milliseconds kBackoffStart{250};

  enum : std::size_t {
    kFilesCompleted = sdk::SourceCounter::GenericProcessingFail + 1,
    kFilesQuarantined,
    kLinesSplit,
    kUndecodableBytes,
    kFilesResumed,
  };

  SpoolDirSource();
  ~SpoolDirSource() override;

  void configure(const sdk::Context& context) override;
  // Creates trackerDir, reads the meta file, starts the thread. Throws when spoolDir is not a
  // readable directory or trackerDir cannot be created.
  void start() override;
  // Stops the thread; the current file stays as it is and is resumed on the next start.
  void stop() override;

  const SpoolSettings& settings() const noexcept { return settings_; }

 private:
  // One pass of the thread's loop: reads and delivers one batch (opening the next file when
  // needed, finishing it at its end). Returns false when there was nothing to do.
  bool pollOnce();

  struct Candidate {
    std::string path;
    std::string rel;  // relative to spoolDir
    int64_t mtimeNs = 0;
  };
  struct Current {
    std::string path;
    std::string rel;
    std::string basename;
    int fd = -1;
    FileIdentity id;
    int64_t committed = 0;
    int64_t events = 0;
  };
  enum class BatchEnd { Full, Eof, Bad, IoError };

  void run();
  bool sleepFor(std::chrono::milliseconds d);
  bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

  void scan();
  void scanDir(const std::string& dir, const std::string& relPrefix, int depth);
  bool accepts(const std::string& name) const;
  bool openNext();
  bool openFile(const std::string& path, const std::string& rel, int64_t resumeAt);
  void resetBuffer(int64_t offset);
  // Reads more of the current file into the buffer. False on an I/O error or a change.
  bool fill();
  BatchEnd readBatch();
  void finishFile();
  void closeCurrent();
  void quarantine(const std::string& path, const std::string& reason);
  bool identityOf(int fd, FileIdentity& out) const;
  bool writeMeta();
  void closeMeta();
  void removeMeta();
  std::string markerPath(const std::string& rel) const;
  std::optional<FileIdentity> readMarker(const std::string& rel) const;

  SpoolSettings settings_;
  std::shared_ptr<const javaregex::Regex> include_;
  std::shared_ptr<const javaregex::Regex> ignore_;
  std::unique_ptr<Decoder> decoder_;
  std::unique_ptr<LineDeserializer> line_;
  std::unique_ptr<BlobDeserializer> blob_;

  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool started_ = false;

  // Thread state.
  std::deque<Candidate> queue_;
  std::optional<SpoolMeta> resume_;
  std::optional<Current> cur_;
  std::map<std::string, FileIdentity> leftAlone_;  // onError = leave: skipped while unchanged
  std::vector<char> buf_;
  int64_t bufStart_ = 0;  // file offset of buf_[0]
  std::size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  std::string badReason_;
  sdk::EventBatch batch_;
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point lastScan_{};
  int metaFd_ = -1;
  uint64_t metaSeq_ = 0;
  std::chrono::steady_clock::time_point lastMetaSync_{};
  std::mt19937_64 rng_{std::random_device{}()};
  int64_t lastSplit_ = 0, lastReplaced_ = 0;
};

}  // namespace sluice::plugins::spooldir
