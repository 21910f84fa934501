#pragma once
// Flume's HDFSEventSink (type hdfs), writing to a local or mounted filesystem: events are
// bucketed into files by a path template with Flume's escapes (path_escape.hpp), files are
// written under an in-use name (FlumeData.<n>.tmp) and renamed when closed: on roll (interval,
// size, count), on idle timeout, on LRU eviction (maxOpenFiles) and on stop.
//
// Design (README.md describes what users see):
//  - process() takes up to hdfs.batchSize events in one transaction, formats each event's bucket
//    path (compiled template, reused key buffer), appends its serialized bytes to that bucket's
//    pending buffer, and writes every touched file once per batch (one gzip member / zstd frame
//    per file per batch with CompressedStream). It commits only after every write succeeded.
//  - A file rolled by count or size in the middle of a batch is not closed at once: it is
//    "retiring" and is closed and renamed only after the commit. So when a write or the commit
//    fails, every file the batch touched is cut back (ftruncate) to the bytes of committed
//    batches, then closed (renamed, or removed when it holds no committed event), and the rolled
//    back events are delivered again into new files: nothing is lost, no batch is split, and a
//    failed batch leaves no duplicate behind.
//  - rollInterval and idleTimeout are checked at the start of each process() call, so their
//    precision is bounded by how often the runner calls process() (at least every 5 s when the
//    channel is idle, the runner's maximum back-off).
//  - All state is touched only by the sink runner thread (process()) and by start()/stop() on
//    the control thread, which the host never runs at the same time as process(): no locks.

#include <zlib.h>
#include <zstd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "file_output.hpp"
#include "net/log_throttle.hpp"
#include "path_escape.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/serializer.hpp"
#include "sluice/sdk/sink.hpp"
#include "time_zone.hpp"

namespace sluice::plugins::hdfs {

const sdk::Schema& hdfsSinkSchema();

enum class FileType { DataStream, CompressedStream };
enum class Codec { None, Gzip, Zstd };
using Serializer = file_output::Serializer;
// What happens to an event whose time escapes have no usable timestamp header
// (hdfs.missingTimestampPolicy).
enum class MissingTimestampPolicy {
  Drop,      // counted, logged (rate-limited) and dropped; the rest of the batch is written
  Fallback,  // written under hdfs.fallbackPath
  Fail,      // Flume's: the batch fails and is retried
};

// Set by configure() from every key; the defaults live in hdfsSinkSchema() only.
struct HdfsSettings {
  std::string path;  // template, file:// removed
  std::string filePrefix;
  std::string fileSuffix;
  std::string inUsePrefix;
  std::string inUseSuffix;
  int64_t rollIntervalSec = 0;
  int64_t rollSize = 0;
  int64_t rollCount = 0;
  int64_t idleTimeoutSec = 0;
  std::size_t batchSize = 0;
  FileType fileType = FileType::DataStream;
  Codec codec = Codec::None;
  std::size_t maxOpenFiles = 0;
  bool round = false;
  int roundValue = 0;
  RoundUnit roundUnit = RoundUnit::Second;
  std::string timeZone;  // "" = local time
  bool useLocalTimeStamp = false;
  Serializer serializer = Serializer::Text;
  // `serializer` named a serializer plugin: it writes the files; serializer and appendNewline
  // are unused.
  std::shared_ptr<sdk::EventSerializerBuilder> custom;
  bool appendNewline = false;
  std::string fallbackPath;  // set only with MissingTimestampPolicy::Fallback
  MissingTimestampPolicy missingTimestampPolicy = MissingTimestampPolicy::Drop;
  bool recoverInUseFiles = true;
};

class HdfsSink final : public sdk::AbstractSink {
 public:
  using Clock = std::chrono::steady_clock;

  HdfsSink();
  ~HdfsSink() override;

  void configure(const sdk::Context& context) override;
  // Closes out in-use files left by a crash (see recoverInUseFiles()).
  void start() override;
  // Closes and renames every open file. Safe to repeat.
  void stop() override;
  sdk::Status process() override;

  const HdfsSettings& settings() const noexcept { return s_; }
  std::size_t openFiles() const noexcept { return buckets_.size(); }
  // For tests: the clock rollInterval and idleTimeout are measured with.
  void setClockForTest(Clock::time_point (*now)()) noexcept { now_ = now; }
  // Renames leftover in-use files under the template's static directory; returns how many.
  std::size_t recoverInUseFiles();

 private:
  struct OpenFile {
    int fd = -1;
    std::string tmpPath;
    std::string finalPath;
    uint64_t committedBytes = 0;  // bytes of committed batches
    uint64_t writtenBytes = 0;    // bytes written (committed + this batch so far)
    int64_t committedEvents = 0;
    int64_t events = 0;     // events in the file incl. this batch (rollCount)
    int64_t bodyBytes = 0;  // body bytes incl. this batch (rollSize)
    Clock::time_point openedAt{};
    std::string head;     // avro_event: the container header, written with the first batch
    std::string pending;  // serialized bytes (avro_event: records) of this batch, not yet written
    int64_t pendingEvents = 0;
    bool touched = false;
    std::array<char, 16> sync{};  // avro_event
    std::unique_ptr<sdk::EventSerializer> custom;  // a serializer plugin's, for this file
  };
  struct Bucket {
    std::string key;     // directory + '/' + prefix
    std::string dir;     // expanded path
    std::string prefix;  // expanded filePrefix
    uint64_t counter = 0;
    std::unique_ptr<OpenFile> file;
    Clock::time_point lastWrite{};
    std::list<Bucket*>::iterator lru;
    bool dirReady = false;
  };

  sdk::Status processBatch();
  Bucket* bucketFor(const std::string& key, std::size_t dirLen);
  bool openFile(Bucket& b, std::string* error);
  // Moves the bucket's open file to retiring_ (closed after commit).
  void retire(Bucket& b);
  bool writePending(OpenFile& f, std::string* error);
  bool shouldRotate(const OpenFile& f) const noexcept;
  // Cuts f back to committed bytes, closes it, renames it (or removes it when it holds nothing).
  void abortFile(OpenFile& f) noexcept;
  void closeFile(OpenFile& f) noexcept;
  void evictBucket(Bucket* b) noexcept;
  void closeAll() noexcept;
  void checkTimers();
  void abortBatch() noexcept;
  sdk::Status fail(sdk::SinkBatch& tx, const std::string& why);
  // The log line for an event whose timestamp is missing or bad (st), rate-limited.
  void reportMissingTimestamp(const sdk::Event& e, PathTemplate::Status st);
  // Appends the event to f.pending; false (with *error) when a serializer plugin failed.
  bool serialize(OpenFile& f, const sdk::Event& e, std::string* error);
  bool compress(const std::string& in, std::string* error);

  HdfsSettings s_;
  bool configured_ = false;
  std::string pathKey_ = "hdfs.path";
  std::optional<PathTemplate> pathT_, prefixT_, fallbackT_;
  std::optional<TimeZone> zone_;
  TimeSettings time_{};

  std::unordered_map<std::string, std::unique_ptr<Bucket>> buckets_;
  std::list<Bucket*> lru_;  // most recently used first
  std::vector<OpenFile*> touched_;
  std::vector<std::unique_ptr<OpenFile>> retiring_;
  std::string key_;               // reused per event
  Bucket* lastBucket_ = nullptr;  // the previous event's bucket: most events share it
  std::string compressed_;        // reused per write
  std::string scratch_;           // avro
  z_stream zs_{};
  bool zsReady_ = false;
  ZSTD_CCtx* zctx_ = nullptr;
  std::mt19937_64 rng_;
  // Counters beyond Flume's SinkCounter (indices into sinkCounter()).
  std::size_t cntTimestampMissing_ = 0;
  std::size_t cntRecovered_ = 0;
  std::size_t cntCloseFail_ = 0;
  Clock::time_point (*now_)() = &Clock::now;
  Clock::time_point nextTimerCheck_{};
  // A flood of bad timestamps costs a counter increment each, not a log line each.
  net::LogThrottle timestampLog_{std::chrono::seconds(10)};
};

}  // namespace sluice::plugins::hdfs
