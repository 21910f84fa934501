#pragma once
// The SQL source (type sql, alias org.keedio.flume.source.SQLSource): incremental, resumable
// import of a table or query from MySQL/MariaDB or PostgreSQL. README.md describes what users
// see; the design in short:
//
//  - A pollable source. process() runs on the runner thread and reads one page: a prepared
//    statement "rows after the committed offset, ordered by the incremental column, LIMIT
//    max.rows", streamed row by row. Rows become events in a reused batch, handed to the
//    channels every batch.size rows.
//  - The offset (the last row's incremental value, plus its tie-breaker value) is prepared
//    before each batch goes to the channels and committed (status file renamed into place, or
//    the offset table's row upserted) only after the channels committed the batch. A refused
//    batch ends the page; the next poll reads it again from the committed offset.
//  - Each batch also carries its offset into the channels as the source's state
//    (processEventBatchWithState, in the status file's JSON). A channel that keeps it (the file
//    channel) makes it durable in the same commit as the rows, and at start the channels' state
//    wins over the status file or offset table, which may be one batch behind after a kill -9
//    between the two: with a file channel no row is sent twice.
//  - Failures are classified (sql_backend.hpp): lock waits and deadlocks run the query again;
//    anything else closes the connection, and the next process() reconnects after a back-off
//    (0.5 s doubling to 30 s), checks the catalog and prepares again. Every such event is one
//    log line saying what happened and what comes next. The ConnectedGauge counter is 0 while the
//    server cannot be reached (so /ready says not ready).
//  - configure() touches neither the network nor the disk; start() opens the status file (and
//    refuses to start on one it cannot trust); the first connection happens in process(), so a
//    server that is down at start delays nothing else.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "catalog.hpp"
#include "offset_store.hpp"
#include "row_format.hpp"
#include "settings.hpp"
#include "sluice/sdk/source.hpp"
#include "sql_backend.hpp"

namespace sluice::plugins::sql {

class SqlSource final : public sdk::PollableSource {
 public:
  // Counters added after Flume's SourceCounter.
  static constexpr std::size_t kRowsRead = sdk::SourceCounter::GenericProcessingFail + 1;
  static constexpr std::size_t kPolls = kRowsRead + 1;
  static constexpr std::size_t kEmptyPolls = kRowsRead + 2;
  static constexpr std::size_t kErrors = kRowsRead + 3;
  static constexpr std::size_t kReconnects = kRowsRead + 4;
  static constexpr std::size_t kOffsetWriteFails = kRowsRead + 5;
  static constexpr std::size_t kCurrentOffset = kRowsRead + 6;
  static constexpr std::size_t kConnected = kRowsRead + 7;

  SqlSource();
  ~SqlSource() override;

  void configure(const sdk::Context& context) override;
  void start() override;
  void stop() override;
  sdk::Status process() override;
  // After an empty poll: run.query.delay; after a failure: the reconnect back-off; after a
  // refused batch: the pollable source's back-off (Flume's 1-5 s, or the back-off keys).
  int64_t getBackOffSleepIncrement() const noexcept override;
  int64_t getMaxBackOffSleepInterval() const noexcept override;

  const SqlSettings& settings() const noexcept { return s_; }
  // The offset of the last row the channels committed (runner thread, or tests between calls).
  const std::optional<Offset>& committedOffset() const noexcept { return committed_; }

 private:
  enum class Wait { None, Empty, Refused, Retry, Reconnect };

  bool connect();
  void disconnect() noexcept;
  void preparePageStatements();
  Statement& pageStatement();
  sdk::Status poll();
  bool deliver();
  sdk::Status failed(const SqlError& e);
  void scheduleReconnect();
  // Both back-off getters: the wait the last process() asked for (equal increment and maximum
  // make the runner sleep exactly that), or the pollable source's own after a refused batch.
  int64_t waitMs(int64_t pollableDefault) const noexcept;
  std::string offsetText(const std::optional<Offset>& o) const;
  void updateOffsetGauge();
  std::string readPassword() const;

  SqlSettings s_;
  bool configured_ = false;
  std::unique_ptr<OffsetStore> store_;
  std::unique_ptr<Connection> conn_;
  // The page queries: from the first row, after an offset, after an offset with a tie-breaker
  // value. Prepared on each connection, as needed.
  std::unique_ptr<Statement> first_, after_, afterTie_;
  std::optional<ResolvedTable> table_;
  std::vector<std::string> selected_;  // catalog names of columns.to.select (empty: *)
  std::string incName_;
  std::optional<std::string> tieName_;
  std::unique_ptr<RowFormatter> formatter_;
  std::vector<ColumnMeta> formatterColumns_;
  std::vector<int> afterTieBindings_;  // which offset part each placeholder of afterTie_ takes
  std::size_t incIndex_ = 0;
  std::optional<std::size_t> tieIndex_;
  ColumnKind incKind_ = ColumnKind::Integer;

  std::optional<Offset> committed_;  // the channels have every row up to here
  StatusRecord identity_;            // what the offset means, for the state the batches carry
  // Test seam (README, "Offsets"): SLUICE_TEST_SQL_KILL_AFTER_COMMITS=N, read once in start(),
  // makes the process kill itself (SIGKILL) right after the N-th channel commit, before the
  // offset is saved: the crash window, hit on purpose. 0: off (one compare per batch).
  int64_t killAfterCommits_ = 0;
  int64_t commits_ = 0;
  bool offsetLoaded_ = false;
  Offset pending_;  // the last row in batch_
  std::size_t rowsNotCounted_ = 0;
  sdk::EventBatch batch_;
  Row row_;

  Wait wait_ = Wait::None;
  int64_t reconnectDelayMs_;    // the next reconnect's delay
  int64_t currentDelayMs_ = 0;  // the delay before the reconnect scheduled now
  bool everConnected_ = false;
  bool nullOffsetLogged_ = false;
};

}  // namespace sluice::plugins::sql
