#pragma once
// Flume's RollingFileSink (type file_roll): writes events to files in one directory, starting a
// new file every sink.rollInterval seconds.
//
// Design (README.md describes the behaviour users see):
//  - process() takes up to sink.batchSize events in one transaction (a view of events the
//    transaction keeps, so nothing is copied or moved), serializes them into a reused buffer,
//    writes the buffer with write(2) (one call unless the kernel writes less), and commits only
//    after the whole batch is in the file. No per-event allocation: the buffer keeps its
//    capacity from batch to batch.
//  - The sink remembers the file offset after its last committed batch. A failed write rolls the
//    transaction back, cuts the file back to that offset with ftruncate and closes it, so a
//    file never holds part of a batch, and the events, delivered again, go to a new file. A
//    failed commit after a good write cuts the batch off the same way.
//  - Rolling happens only between batches, at the start of process(), so a roll never splits a
//    batch or an event. As in Flume, the next file is opened right away, even when no event
//    follows.
//  - Crash repair: while a file is open the sink holds a flock on it and marks it with the
//    extended attribute user.sluice.open (set when the file is opened, removed when it is
//    closed: once per file, not per batch). A kill -9 can leave the start of an uncommitted
//    batch at the end of the file, cut anywhere; start() finds marked files that nobody holds
//    locked and cuts them back to their last whole event (file_output::cutTornTail), since the
//    channel delivers the cut events again.
//  - All file state is touched only by the sink runner thread (process()) and by start()/stop()
//    on the control thread, which the host never runs at the same time as process().

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>

#include "avro_container.hpp"
#include "file_output.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/serializer.hpp"
#include "sluice/sdk/sink.hpp"

namespace sluice::plugins::file_roll {

// The keys this sink accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& rollingFileSinkSchema();

using SerializerType = file_output::Serializer;
enum class PathManagerType { Default, RollTime };

// Set by configure() from every key; the defaults live in rollingFileSinkSchema() only.
struct RollingFileSettings {
  std::string directory;
  std::chrono::seconds rollInterval{};  // 0 = never roll
  std::size_t batchSize = 0;
  SerializerType serializer = SerializerType::Text;
  // sink.serializer named a serializer plugin: it writes the files, and `serializer`,
  // appendNewline and syncIntervalBytes are unused.
  std::shared_ptr<sdk::EventSerializerBuilder> custom;
  bool appendNewline = false;         // TEXT, HEADER_AND_TEXT
  std::size_t syncIntervalBytes = 0;  // avro_event: block size before a new block starts
  PathManagerType pathManager = PathManagerType::Default;
  std::string prefix;
  std::string extension;
};

class RollingFileSink final : public sdk::AbstractSink {
 public:
  using Clock = std::chrono::steady_clock;

  RollingFileSink();
  ~RollingFileSink() override;

  // Control thread. A new configuration starts a new file series (new start time, counter 1).
  void configure(const sdk::Context& context) override;
  // Creates sink.directory when missing; throws naming the key, the path and the reason.
  void start() override;
  // Closes the current file; the next start() writes to a new file. Safe to repeat.
  void stop() override;
  // Runner thread.
  sdk::Status process() override;

  const RollingFileSettings& settings() const noexcept { return s_; }
  // The file being written, or "" between files.
  const std::string& currentFile() const noexcept { return path_; }

 private:
  std::string nextFileName();
  // Opens the next file of the series (and writes the avro header). On failure sets *error.
  bool openNext(std::string* error);
  // Writes buf_ at the current offset (file_output::writeAll).
  bool writeBuffer(std::string* error);
  // Cuts the current file back to the last committed offset (file_output::cutBack).
  bool truncateToCommitted(std::string* error);
  // Locks and marks the new file (see the crash repair above).
  void markOpen();
  void closeFile() noexcept;
  // start(): cuts files that a crashed writer left open back to their last whole event.
  void repairCrashedFiles();
  file_output::RecordFormat recordFormat() const noexcept;
  // Fills buf_ with the batch's bytes; false (with *error) when a serializer plugin failed.
  bool serializeBatch(std::span<const sdk::Event> events, std::string* error);

  RollingFileSettings s_;
  std::string directoryKey_ = "sink.directory";  // full key and location, for errors
  bool configured_ = false;

  // File series (Flume's PathManager).
  int64_t seriesMillis_ = 0;
  uint64_t fileIndex_ = 0;
  std::string lastRollStamp_;  // ROLLTIME: the second the index counts within

  // Current file.
  int fd_ = -1;
  std::string path_;
  bool marked_ = false;       // the current file carries the in-use attribute
  bool warnedNoMark_ = false;  // said once that files cannot be marked
  uint64_t committed_ = 0;  // bytes of the file that belong to committed batches
  Clock::time_point rollAt_{};
  avro::SyncMarker sync_{};
  std::unique_ptr<sdk::EventSerializer> custom_;  // the current file's, for a serializer plugin

  // Reused per batch.
  std::string buf_;
  std::string scratch_;
  std::mt19937_64 rng_;
};

}  // namespace sluice::plugins::file_roll
