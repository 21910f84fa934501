#pragma once
// The SQL source's keys (its schema) and their parsing into settings, done once in configure()
// without touching the network or the disk (so `sluice validate` runs anywhere).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "identifiers.hpp"
#include "jdbc_url.hpp"
#include "row_format.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sql_backend.hpp"

namespace sluice::plugins::sql {

// README.md's key table must match it (a unit test checks).
const sdk::Schema& sqlSourceSchema();

struct SqlSettings {
  std::string path;        // a1.sources.r1, for messages
  std::string sourceName;  // r1: keedio's SourceName in the status file
  JdbcUrl url;
  std::string urlKey;                   // the key the URL came from
  ConnectOptions connect;               // everything but the password
  std::optional<std::string> password;  // from a password key or the URL
  std::string passwordFile;             // connection.password.file
  std::string passwordFileKey = "connection.password.file";

  // What it reads: a table (with its columns) or a custom query.
  bool useTable = false;
  TableName table;
  std::string tableText, columnsText;
  std::vector<Identifier> columns;  // empty: all (*)
  std::string customQueryText;      // as configured
  std::string customQuery;          // $@$ bound
  int customPlaceholders = 0;
  std::optional<Identifier> incremental;  // required with a table; custom: default 1st column
  std::optional<Identifier> tieBreaker;
  std::string startFrom = "0";
  bool startFromBeginning = true;  // start.from is 0: a table is read from its first row

  int64_t runQueryDelayMs = 10000;
  std::size_t batchSize = 100;
  std::size_t maxRows = 10000;

  FormatOptions format;
  std::optional<Identifier> bodyColumn;
  std::string charset = "UTF-8";  // as configured (Java name)

  // Where the offset lives: the status file, or a table on the server.
  std::string statusDir = "/var/lib/flume";
  std::string statusName;
  std::optional<TableName> offsetTable;
  std::string offsetTableText;
};

// Throws sdk::ConfigError naming the key. Warnings (ignored URL parameters, a password in the
// URL) go to the context's logger.
SqlSettings parseSettings(const sdk::Context& context);

// The server's name for a Java charset name ("UTF-8" -> utf8mb4 / UTF8), or nullopt.
std::optional<std::string> serverCharset(Dialect dialect, const std::string& javaName);

}  // namespace sluice::plugins::sql
