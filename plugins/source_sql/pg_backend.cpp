// PostgreSQL through libpq (Debian's libpq-dev).
//
// Statements are named prepared statements (PQprepare); an execution streams its rows in libpq's
// single-row mode, so memory stays at one row whatever the page size (measured here: within 10%
// of fetching a whole page at once). Values come in PostgreSQL's text format; bytea's hex text
// ("\x0a0b") is decoded back to bytes.
#include <libpq-fe.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "sql_backend.hpp"

namespace sluice::plugins::sql {
namespace {

// Type OIDs from pg_type.h (server headers, not in libpq-dev).
constexpr Oid kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26;
constexpr Oid kFloat4 = 700, kFloat8 = 701, kNumeric = 1700;
constexpr Oid kDate = 1082, kTime = 1083, kTimestamp = 1114, kTimestampTz = 1184, kTimeTz = 1266;

ColumnKind kindOf(Oid t) {
  switch (t) {
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid:
      return ColumnKind::Integer;
    case kNumeric:
      return ColumnKind::Decimal;
    case kFloat4:
    case kFloat8:
      return ColumnKind::Float;
    case kBool:
      return ColumnKind::Boolean;
    case kBytea:
      return ColumnKind::Binary;
    case kDate:
    case kTime:
    case kTimestamp:
    case kTimestampTz:
    case kTimeTz:
      return ColumnKind::Temporal;
    default:
      return ColumnKind::Text;
  }
}

ErrorKind classifyState(std::string_view state) {
  if (state.size() != 5) return ErrorKind::Query;
  const std::string_view cls = state.substr(0, 2);
  if (cls == "08") return ErrorKind::Connection;  // connection exception
  if (state == "57P01" || state == "57P02" || state == "57P03")
    return ErrorKind::Connection;  // admin/crash shutdown, cannot connect now
  // A prepared statement the server no longer has, or whose plan changed under an ALTER TABLE
  // ("cached plan must not change result type"): prepare again on a fresh connection.
  if (state == "26000" || state == "0A000") return ErrorKind::Connection;
  if (state == "40001" || state == "40P01" || state == "55P03" || state == "57014")
    return ErrorKind::Transient;  // serialization failure, deadlock, lock not available, timeout
  if (state == "42P01" || state == "42703" || state == "3D000" || state == "3F000")
    return ErrorKind::MissingObject;  // undefined table/column, no such database/schema
  if (cls == "28" || state == "42501") return ErrorKind::Auth;
  return ErrorKind::Query;
}

std::string trimmed(const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// Throws for a failed result (which it clears), classified by its SQLSTATE; a connection that
// went bad is a connection error whatever the result says.
[[noreturn]] void fail(PGconn* conn, PGresult* r, const char* what) {
  const char* sqlstate = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string state = sqlstate ? sqlstate : "";
  std::string message = trimmed(r ? PQresultErrorMessage(r) : nullptr);
  if (message.empty()) message = trimmed(PQerrorMessage(conn));
  if (r) PQclear(r);
  ErrorKind kind = classifyState(state);
  if (PQstatus(conn) == CONNECTION_BAD) kind = ErrorKind::Connection;
  throw SqlError(
      kind, std::string(what) + ": " + message + (state.empty() ? "" : " (" + state + ")"), state);
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class PgStatement final : public Statement {
 public:
  PgStatement(PGconn* conn, std::string name, const std::string& sql)
      : conn_(conn), name_(std::move(name)) {
    PGresult* r = PQprepare(conn_, name_.c_str(), sql.c_str(), 0, nullptr);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) fail(conn_, r, "preparing the query");
    PQclear(r);
    r = PQdescribePrepared(conn_, name_.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) fail(conn_, r, "describing the query");
    const int n = PQnfields(r);
    columns_.resize(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      columns_[static_cast<std::size_t>(i)].name = PQfname(r, i);
      columns_[static_cast<std::size_t>(i)].kind = kindOf(PQftype(r, i));
    }
    paramCount_ = PQnparams(r);
    PQclear(r);
    decoded_.resize(columns_.size());
  }
  ~PgStatement() override {
    finish();
    if (PQstatus(conn_) == CONNECTION_OK) {
      const std::string dealloc = "DEALLOCATE " + name_;
      PQclear(PQexec(conn_, dealloc.c_str()));
    }
  }

  const std::vector<ColumnMeta>& columns() const noexcept override { return columns_; }

  void execute(const std::vector<Param>& params) override {
    finish();
    if (static_cast<int>(params.size()) != paramCount_)
      throw SqlError(ErrorKind::Query, "the query has " + std::to_string(paramCount_) +
                                           " placeholders but " + std::to_string(params.size()) +
                                           " values were given");
    values_.resize(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) values_[i] = params[i].value.c_str();
    if (!PQsendQueryPrepared(conn_, name_.c_str(), static_cast<int>(values_.size()), values_.data(),
                             nullptr, nullptr, 0))
      fail(conn_, nullptr, "running the query");
    executing_ = true;
    if (!PQsetSingleRowMode(conn_)) {
      finish();
      throw SqlError(ErrorKind::Connection, "running the query: cannot stream its rows");
    }
  }

  bool next(Row& row) override {
    clearRow();
    if (!executing_) return false;
    current_ = PQgetResult(conn_);
    if (!current_) {
      executing_ = false;
      return false;
    }
    switch (PQresultStatus(current_)) {
      case PGRES_SINGLE_TUPLE:
        break;
      case PGRES_TUPLES_OK:   // the end of the result
      case PGRES_COMMAND_OK:  // a statement without rows (the offset table's upsert)
        finish();
        return false;
      default: {
        PGresult* bad = current_;
        current_ = nullptr;
        drain();
        fail(conn_, bad, "reading a row");
      }
    }
    row.resize(columns_.size());
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      const int col = static_cast<int>(i);
      Cell& c = row[i];
      if (PQgetisnull(current_, 0, col)) {
        c = Cell{};
        continue;
      }
      c.null = false;
      c.data = PQgetvalue(current_, 0, col);
      c.size = static_cast<std::size_t>(PQgetlength(current_, 0, col));
      if (columns_[i].kind == ColumnKind::Binary) decodeBytea(i, c);
    }
    return true;
  }

  void finish() noexcept override {
    clearRow();
    if (!executing_) return;
    executing_ = false;
    drain();  // reads and discards what the server still sends of this result (at most a page)
  }

 private:
  void clearRow() noexcept {
    if (current_) PQclear(current_);
    current_ = nullptr;
  }
  void drain() noexcept {
    while (PGresult* r = PQgetResult(conn_)) PQclear(r);
  }

  // "\x0a0b" -> the bytes 0a 0b (bytea_output = hex, the default since PostgreSQL 9.0).
  void decodeBytea(std::size_t i, Cell& c) {
    std::string& out = decoded_[i];
    std::string_view in(c.data, c.size);
    if (in.size() >= 2 && in[0] == '\\' && in[1] == 'x') {
      in.remove_prefix(2);
      out.resize(in.size() / 2);
      for (std::size_t k = 0; k + 1 < in.size(); k += 2) {
        const int hi = hexValue(in[k]), lo = hexValue(in[k + 1]);
        if (hi < 0 || lo < 0)
          throw SqlError(ErrorKind::Query, "column " + columns_[i].name + ": malformed bytea");
        out[k / 2] = static_cast<char>(hi * 16 + lo);
      }
    } else {
      // bytea_output = escape: PQunescapeBytea knows it.
      std::size_t n = 0;
      unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(c.data), &n);
      if (!raw)
        throw SqlError(ErrorKind::Query, "column " + columns_[i].name + ": malformed bytea");
      out.assign(reinterpret_cast<char*>(raw), n);
      PQfreemem(raw);
    }
    c.data = out.data();
    c.size = out.size();
  }

  PGconn* conn_;
  std::string name_;
  std::vector<ColumnMeta> columns_;
  int paramCount_ = 0;
  std::vector<const char*> values_;
  std::vector<std::string> decoded_;
  PGresult* current_ = nullptr;
  bool executing_ = false;
};

class PgConnection final : public Connection {
 public:
  ~PgConnection() override { close(); }

  Dialect dialect() const noexcept override { return Dialect::Postgres; }

  void connect(const ConnectOptions& o) override {
    close();
    const std::string port = std::to_string(o.port);
    // libpq counts whole seconds, at least 2.
    const std::string connectTimeout =
        std::to_string(std::max(2, (o.connectTimeoutMs + 999) / 1000));
    const std::string userTimeout = std::to_string(o.readTimeoutMs);
    std::string options;
    if (o.readOnly) options += "-c default_transaction_read_only=on ";
    if (!o.schema.empty()) {
      // A quoted identifier, with libpq's backslash escapes for spaces in option values.
      options += "-c search_path=";
      for (char ch : quoteIdentifier(Dialect::Postgres, o.schema)) {
        if (ch == ' ' || ch == '\\') options += '\\';
        options += ch;
      }
    }
    std::string sslmode = "prefer";
    if (o.ssl) sslmode = o.sslVerify ? "verify-full" : "require";
    // Without ssl.ca, verify against the system's CA bundle (libpq 15 would look for
    // ~/.postgresql/root.crt instead).
    const std::string rootCert =
        o.sslCa.empty() ? std::string("/etc/ssl/certs/ca-certificates.crt") : o.sslCa;
    std::vector<const char*> keys{"host",
                                  "port",
                                  "dbname",
                                  "user",
                                  "password",
                                  "connect_timeout",
                                  "client_encoding",
                                  "application_name",
                                  "sslmode",
                                  "keepalives",
                                  "keepalives_idle",
                                  "keepalives_interval",
                                  "keepalives_count"};
    std::vector<const char*> values{o.host.c_str(),
                                    port.c_str(),
                                    o.database.c_str(),
                                    o.user.c_str(),
                                    o.password.c_str(),
                                    connectTimeout.c_str(),
                                    o.charset.c_str(),
                                    "sluice",
                                    sslmode.c_str(),
                                    "1",
                                    "30",
                                    "10",
                                    "3"};
    if (o.readTimeoutMs > 0) {
      keys.push_back("tcp_user_timeout");
      values.push_back(userTimeout.c_str());
    }
    if (!options.empty()) {
      keys.push_back("options");
      values.push_back(options.c_str());
    }
    if (o.ssl) {
      // libpq verifies whenever a root certificate is given, even with sslmode=require.
      if (o.sslVerify) {
        keys.push_back("sslrootcert");
        values.push_back(rootCert.c_str());
      }
      if (!o.sslCert.empty()) {
        keys.push_back("sslcert");
        values.push_back(o.sslCert.c_str());
      }
      if (!o.sslKey.empty()) {
        keys.push_back("sslkey");
        values.push_back(o.sslKey.c_str());
      }
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_ = PQconnectdbParams(keys.data(), values.data(), 0);
    if (!conn_) throw SqlError(ErrorKind::Connection, "connecting: out of memory");
    if (PQstatus(conn_) != CONNECTION_OK) {
      const std::string m = trimmed(PQerrorMessage(conn_));
      // libpq does not expose the SQLSTATE of a refused connection; its text does tell.
      ErrorKind kind = ErrorKind::Connection;
      if (m.find("password authentication failed") != std::string::npos ||
          m.find("no pg_hba.conf entry") != std::string::npos ||
          (m.find("role \"") != std::string::npos && m.find("does not exist") != std::string::npos))
        kind = ErrorKind::Auth;
      else if (m.find("database \"") != std::string::npos &&
               m.find("does not exist") != std::string::npos)
        kind = ErrorKind::MissingObject;
      close();
      throw SqlError(kind, "connecting: " + m);
    }
    // NOTICEs ("relation already exists, skipping") would go to the agent's stderr.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
  }

  void close() noexcept override {
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
  }

  bool isOpen() const noexcept override { return conn_ != nullptr; }

  std::string serverVersion() const override {
    if (!conn_) return "";
    const int v = PQserverVersion(conn_);  // 150020
    return "PostgreSQL " + std::to_string(v / 10000) + "." + std::to_string(v % 100);
  }

  std::unique_ptr<Statement> prepare(const std::string& sql) override {
    if (!conn_) throw SqlError(ErrorKind::Connection, "not connected");
    return std::make_unique<PgStatement>(conn_, "sluice_" + std::to_string(++statements_), sql);
  }

 private:
  PGconn* conn_ = nullptr;
  unsigned statements_ = 0;
};

}  // namespace

std::unique_ptr<Connection> makePostgresConnection() { return std::make_unique<PgConnection>(); }

}  // namespace sluice::plugins::sql
