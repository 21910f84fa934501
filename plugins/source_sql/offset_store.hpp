#pragma once
// Where the source keeps its offset - the last incremental value (and tie-breaker value) of the
// rows the channels committed: keedio's status file, or a row of a table on the server
// (offset.table, the tutorial's flume_meta done with prepared statements).
//
// The source calls prepare() with a batch's last offset before handing the batch to the channels
// and commit() only after they committed it; a refused batch is simply never committed.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "settings.hpp"
#include "sql_backend.hpp"
#include "status_file.hpp"

namespace sluice::plugins::sql {

struct Offset {
  std::string value;  // the incremental column's value, in the server's text form
  std::string tie;    // the tie-breaker column's value ("" without a tie-breaker)
  bool operator==(const Offset&) const = default;
};

class OffsetStore {
 public:
  virtual ~OffsetStore() = default;
  // "status file /var/lib/flume/orders.status", "table app.sluice_offsets (key a1.sources.r1)"
  virtual std::string describe() const = 0;
  // Called once in start(): checks the file (throws std::runtime_error when it cannot be used).
  virtual void open() = 0;
  // Called after every (re)connect of the source, before load(), prepare() and commit(). The
  // table store opens a connection of its own with these options: the source's connection is
  // busy streaming a page while batches commit, and neither protocol runs a second statement
  // in the middle of a result. detach() closes it.
  virtual void attach(const ConnectOptions& options) = 0;
  virtual void detach() noexcept = 0;
  // The saved offset, nullopt when there is none. Needs attach() for the table store.
  virtual std::optional<Offset> load() = 0;
  virtual void prepare(const Offset& offset) = 0;
  // Throws std::runtime_error or SqlError; the source logs it and goes on (the offset is then
  // saved with a later batch).
  virtual void commit() = 0;
  virtual bool usesConnection() const noexcept = 0;
};

// What an offset means, as keedio's status file says it: SourceName, URL (redacted), Table and
// ColumnsToSelect or Query, IncrementalColumn, TieBreakerColumn.
StatusRecord offsetIdentity(const SqlSettings& settings);
// Sets LastIndex (and LastTieBreaker when there is a tie-breaker) in a status record.
void setOffset(StatusRecord& record, const Offset& offset);
// The first of Table, Query, IncrementalColumn, TieBreakerColumn whose value differs between the
// two records (names case-insensitively, the query exactly), or nullptr when they agree.
const char* differingField(const StatusRecord& ours, const StatusRecord& theirs);

// The source state a batch carries into the channels (sdk::Transaction::putSourceState): the
// status file's JSON for the offset after the batch, so a channel holds the same record the
// status file would. decodeOffsetState reads it back; nullopt with `why` when it is no status
// record, has no LastIndex, or was written for another reading (a changed table or column).
std::string encodeOffsetState(StatusRecord& identity, const Offset& offset);
std::optional<Offset> decodeOffsetState(const StatusRecord& identity, std::string_view state,
                                        std::string& why);

// identity: what the offset means (table, columns, query, incremental and tie-breaker column),
// as written into the status file and checked when it is read back.
std::unique_ptr<OffsetStore> makeOffsetStore(const SqlSettings& settings);

}  // namespace sluice::plugins::sql
