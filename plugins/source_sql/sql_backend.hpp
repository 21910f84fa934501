#pragma once
// The small internal interface between the SQL source and its two client libraries: libmariadb
// (MySQL/MariaDB, mysql_backend.cpp) and libpq (PostgreSQL, pg_backend.cpp). The source's logic
// (sql_source.cpp) is written once against it.
//
// Contract: one Connection and its Statements are used by one thread at a time (the source's
// runner thread, or start()/stop() on the control thread, never both at once). Failures throw
// SqlError, classified so that the source knows whether to run the query again, reconnect, or
// report a configuration problem. Nothing here throws across the plugin boundary: the source
// catches everything in process().

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::plugins::sql {

enum class Dialect { MySql, Postgres };

inline const char* nameOf(Dialect d) noexcept {
  return d == Dialect::MySql ? "mysql" : "postgresql";
}

// What a column holds, as far as formatting cares. Every value reaches the formatter as text in
// the server's own notation (numbers as digits, timestamps as "2024-01-31 12:00:00.123"), except
// Binary, which is the raw bytes.
enum class ColumnKind { Integer, Decimal, Float, Boolean, Text, Binary, Temporal };

struct ColumnMeta {
  std::string name;
  ColumnKind kind = ColumnKind::Text;
};

// One value of the current row. `data` points into the backend's buffers and stays valid until
// the next call on the statement.
struct Cell {
  const char* data = nullptr;
  std::size_t size = 0;
  bool null = true;
  std::string_view view() const noexcept { return {data ? data : "", size}; }
};
using Row = std::vector<Cell>;

enum class ErrorKind {
  Connection,     // refused, lost, timed out, server shutting down: reconnect with back-off
  Transient,      // lock wait timeout, deadlock, serialization failure: run the query again
  MissingObject,  // the table, a column or the database does not exist (any more)
  Auth,           // wrong user or password, or a missing privilege
  Query,          // anything else the server refused
};

inline const char* nameOf(ErrorKind k) noexcept {
  switch (k) {
    case ErrorKind::Connection:
      return "connection";
    case ErrorKind::Transient:
      return "transient";
    case ErrorKind::MissingObject:
      return "missing object";
    case ErrorKind::Auth:
      return "authentication";
    case ErrorKind::Query:
      return "query";
  }
  return "?";
}

class SqlError : public std::runtime_error {
 public:
  // code: the server's error number or SQLSTATE ("1205", "40P01"), empty for client errors.
  SqlError(ErrorKind kind, const std::string& message, std::string code = {})
      : std::runtime_error(message), kind_(kind), code_(std::move(code)) {}
  ErrorKind kind() const noexcept { return kind_; }
  const std::string& code() const noexcept { return code_; }

 private:
  ErrorKind kind_;
  std::string code_;
};

struct ConnectOptions {
  std::string host;
  int port = 0;
  std::string database;
  std::string user;
  std::string password;  // never logged; the backends keep it only for the connect call
  std::string charset;   // the server's name for it: utf8mb4 (MySQL), UTF8 (PostgreSQL)
  bool ssl = false;
  bool sslVerify = true;  // verify the certificate chain and the host name
  std::string sslCa, sslCert, sslKey;
  int connectTimeoutMs = 10000;
  int readTimeoutMs = 300000;
  bool readOnly = false;
  std::string schema;  // PostgreSQL: search_path (JDBC's currentSchema); MySQL: unused
};

// A bound parameter: its text, and whether the server should see an integer (MySQL binds it as
// a 64-bit integer; PostgreSQL infers every parameter's type from the statement).
struct Param {
  std::string value;
  bool integer = false;
};

class Statement {
 public:
  virtual ~Statement() = default;
  // The result's columns, known once the statement is prepared.
  virtual const std::vector<ColumnMeta>& columns() const noexcept = 0;
  // Runs the statement with one value per placeholder, in order. The rows are then read with
  // next(), streaming: a row at a time, never the whole result in memory.
  virtual void execute(const std::vector<Param>& params) = 0;
  // The next row into `row` (resized to columns().size()); false after the last one.
  virtual bool next(Row& row) = 0;
  // Ends the current execution, discarding rows not read. Safe to call at any time.
  virtual void finish() noexcept = 0;
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const noexcept = 0;
  virtual void connect(const ConnectOptions& options) = 0;
  virtual void close() noexcept = 0;
  virtual bool isOpen() const noexcept = 0;
  // "MariaDB 10.11.19", "PostgreSQL 15.20": for the log line after connecting.
  virtual std::string serverVersion() const = 0;
  // Prepares a statement (on the server). Placeholders are placeholder(dialect, i) for i = 1...
  virtual std::unique_ptr<Statement> prepare(const std::string& sql) = 0;
};

std::unique_ptr<Connection> makeMySqlConnection();
std::unique_ptr<Connection> makePostgresConnection();

inline std::unique_ptr<Connection> makeConnection(Dialect d) {
  return d == Dialect::MySql ? makeMySqlConnection() : makePostgresConnection();
}

// The i-th (from 1) parameter placeholder: "?" for MySQL (each occurrence is its own parameter),
// "$i" for PostgreSQL (the same number may appear several times).
inline std::string placeholder(Dialect d, int index) {
  std::string p(1, d == Dialect::MySql ? '?' : '$');
  if (d == Dialect::Postgres) p += std::to_string(index);
  return p;
}

// Quotes one identifier for the dialect: `name` (MySQL) or "name" (PostgreSQL), doubling the
// quote character inside. The name has been checked against the catalog before.
inline std::string quoteIdentifier(Dialect d, std::string_view name) {
  const char q = d == Dialect::MySql ? '`' : '"';
  std::string out(1, q);
  for (char c : name) {
    out += c;
    if (c == q) out += q;
  }
  out += q;
  return out;
}

}  // namespace sluice::plugins::sql
