#include "offset_store.hpp"

#include <stdexcept>

#include "catalog.hpp"
#include "text.hpp"

namespace sluice::plugins::sql {
namespace {

class FileOffsetStore final : public OffsetStore {
 public:
  explicit FileOffsetStore(const SqlSettings& s)
      : file_(s.statusDir, s.statusName), base_(offsetIdentity(s)), useTable_(s.useTable) {}

  std::string describe() const override { return "status file " + file_.path(); }

  void open() override {
    file_.openDirectory();
    loaded_ = file_.read();
    if (!loaded_) return;
    const StatusRecord& r = *loaded_;
    auto field = [&](const StatusRecord& rec, const char* name) {
      const std::string* v = rec.find(name);
      return v ? *v : std::string();
    };
    if (!r.find("LastIndex"))
      throw std::runtime_error("the status file '" + file_.path() + "' has no LastIndex");
    const char* differs = differingField(base_, r);
    // A keedio table-mode file has no IncrementalColumn (checked where the loop of fields
    // reaches it, so a differing Table is reported first).
    if (useTable_ && base_.find("IncrementalColumn") && !r.find("IncrementalColumn") &&
        (!differs || std::string_view(differs) == "IncrementalColumn"))
      throw std::runtime_error(
          "the status file '" + file_.path() +
          "' comes from keedio's table mode, whose "
          "LastIndex (" +
          field(r, "LastIndex") + ") counts rows instead of naming a value of " +
          field(base_, "IncrementalColumn") +
          ". Set start.from to the value to resume after and move the file away");
    if (const char* name = differs)
      throw std::runtime_error(
          "the status file '" + file_.path() + "' was written for another reading: its " + name +
          " is '" + field(r, name) + "', this source's is '" + field(base_, name) +
          "'. Move the file away to start from start.from, or restore the configuration");
  }

  void attach(const ConnectOptions&) override {}
  void detach() noexcept override {}

  std::optional<Offset> load() override {
    if (!loaded_) return std::nullopt;
    Offset o;
    o.value = *loaded_->find("LastIndex");
    if (const std::string* t = loaded_->find("LastTieBreaker")) o.tie = *t;
    return o;
  }

  void prepare(const Offset& offset) override {
    setOffset(base_, offset);
    file_.prepare(base_);
  }

  void commit() override { file_.commit(); }
  bool usesConnection() const noexcept override { return false; }

 private:
  StatusFile file_;
  StatusRecord base_;
  std::optional<StatusRecord> loaded_;
  bool useTable_ = false;
};

class TableOffsetStore final : public OffsetStore {
 public:
  explicit TableOffsetStore(const SqlSettings& s)
      : table_(*s.offsetTable),
        tableText_(s.offsetTableText),
        key_(s.path),
        defaultSchema_(s.url.dialect == Dialect::MySql ? s.url.database : std::string()),
        dialect_(s.url.dialect) {}

  std::string describe() const override { return "table " + tableText_ + " (row '" + key_ + "')"; }
  void open() override {}

  void attach(const ConnectOptions& options) override {
    detach();
    conn_ = makeConnection(dialect_);
    conn_->connect(options);
    Connection& conn = *conn_;
    const Dialect d = dialect_;
    // The configured name was checked lexically (identifiers.cpp); quoting makes it one name.
    std::string name = quoteIdentifier(d, table_.name.text);
    if (!table_.schema.text.empty()) name = quoteIdentifier(d, table_.schema.text) + "." + name;
    const std::string create =
        d == Dialect::MySql
            ? "CREATE TABLE IF NOT EXISTS " + name +
                  " (source_name VARCHAR(255) NOT NULL PRIMARY KEY, last_index VARCHAR(1024) NOT "
                  "NULL, last_tiebreaker VARCHAR(1024) NOT NULL DEFAULT '', updated_at "
                  "TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))"
            : "CREATE TABLE IF NOT EXISTS " + name +
                  " (source_name VARCHAR(255) PRIMARY KEY, last_index VARCHAR(1024) NOT NULL, "
                  "last_tiebreaker VARCHAR(1024) NOT NULL DEFAULT '', updated_at TIMESTAMPTZ NOT "
                  "NULL DEFAULT now())";
    conn.prepare(create)->execute({});
    // It must now be in the catalog, with the columns this store writes.
    const ResolvedTable t = resolveTable(conn, table_, defaultSchema_);
    for (const char* col : {"source_name", "last_index", "last_tiebreaker"})
      (void)resolveColumn(t, Identifier{col, false});
    const std::string& q = t.quoted;
    select_ = conn.prepare("SELECT last_index, last_tiebreaker FROM " + q +
                           " WHERE source_name = " + placeholder(d, 1));
    upsert_ = conn.prepare(
        d == Dialect::MySql
            ? "INSERT INTO " + q +
                  " (source_name, last_index, last_tiebreaker, updated_at) VALUES (?, ?, ?, "
                  "CURRENT_TIMESTAMP(3)) ON DUPLICATE KEY UPDATE last_index = VALUES(last_index), "
                  "last_tiebreaker = VALUES(last_tiebreaker), updated_at = VALUES(updated_at)"
            : "INSERT INTO " + q +
                  " (source_name, last_index, last_tiebreaker, updated_at) VALUES ($1, $2, $3, "
                  "now()) ON CONFLICT (source_name) DO UPDATE SET last_index = "
                  "EXCLUDED.last_index, last_tiebreaker = EXCLUDED.last_tiebreaker, updated_at = "
                  "EXCLUDED.updated_at");
  }

  void detach() noexcept override {
    select_.reset();
    upsert_.reset();
    conn_.reset();
  }

  std::optional<Offset> load() override {
    if (!select_) throw SqlError(ErrorKind::Connection, "not connected");
    select_->execute({Param{key_, false}});
    Row row;
    std::optional<Offset> out;
    while (select_->next(row)) out = Offset{std::string(row[0].view()), std::string(row[1].view())};
    return out;
  }

  void prepare(const Offset& offset) override { pending_ = offset; }

  void commit() override {
    if (!upsert_) throw SqlError(ErrorKind::Connection, "not connected");
    upsert_->execute(
        {Param{key_, false}, Param{pending_.value, false}, Param{pending_.tie, false}});
    Row row;
    while (upsert_->next(row)) {
    }
  }
  bool usesConnection() const noexcept override { return true; }

 private:
  TableName table_;
  std::string tableText_, key_, defaultSchema_;
  Dialect dialect_;
  std::unique_ptr<Connection> conn_;  // declared before the statements: destroyed after them
  std::unique_ptr<Statement> select_, upsert_;
  Offset pending_;
};

}  // namespace

StatusRecord offsetIdentity(const SqlSettings& s) {
  // keedio's fields, in keedio's order, and sluice's additions.
  StatusRecord r;
  r.set("SourceName", s.sourceName);
  r.set("URL", s.url.redacted());
  if (s.useTable) {
    r.set("ColumnsToSelect", s.columnsText);
    r.set("Table", s.tableText);
  } else {
    r.set("Query", s.customQueryText);
  }
  if (s.incremental) r.set("IncrementalColumn", s.incremental->text);
  if (s.tieBreaker) r.set("TieBreakerColumn", s.tieBreaker->text);
  return r;
}

void setOffset(StatusRecord& record, const Offset& offset) {
  record.set("LastIndex", offset.value);
  if (!offset.tie.empty() || record.find("TieBreakerColumn"))
    record.set("LastTieBreaker", offset.tie);
}

const char* differingField(const StatusRecord& ours, const StatusRecord& theirs) {
  for (const char* name : {"Table", "Query", "IncrementalColumn", "TieBreakerColumn"}) {
    const std::string* mine = ours.find(name);
    const std::string* other = theirs.find(name);
    const std::string text = other ? *other : std::string();
    if (!mine && text.empty()) continue;
    // Table and column names compare case-insensitively (the catalog decides the spelling).
    const bool same = std::string_view(name) == "Query"
                          ? mine && text == *mine
                          : mine && lowerAscii(text) == lowerAscii(*mine);
    if (!same) return name;
  }
  return nullptr;
}

std::string encodeOffsetState(StatusRecord& identity, const Offset& offset) {
  setOffset(identity, offset);
  return identity.toJson();
}

std::optional<Offset> decodeOffsetState(const StatusRecord& identity, std::string_view state,
                                        std::string& why) {
  StatusRecord r;
  try {
    r = StatusRecord::parse(state);
  } catch (const std::exception& e) {
    why = std::string("not a status record (") + e.what() + ")";
    return std::nullopt;
  }
  const std::string* last = r.find("LastIndex");
  if (!last) {
    why = "it has no LastIndex";
    return std::nullopt;
  }
  if (const char* name = differingField(identity, r)) {
    why = std::string("it was written for another reading (its ") + name + " differs)";
    return std::nullopt;
  }
  Offset o;
  o.value = *last;
  if (const std::string* t = r.find("LastTieBreaker")) o.tie = *t;
  return o;
}

std::unique_ptr<OffsetStore> makeOffsetStore(const SqlSettings& settings) {
  if (settings.offsetTable) return std::make_unique<TableOffsetStore>(settings);
  return std::make_unique<FileOffsetStore>(settings);
}

}  // namespace sluice::plugins::sql
