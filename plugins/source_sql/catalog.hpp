#pragma once
// The server's catalog (information_schema) as the source of truth for names, and the page
// queries built from what it returned.
//
// A configured table or column name is looked up with a prepared statement (the name is a bound
// parameter); the catalog's own spelling, quoted for the dialect, is what goes into the page
// query. Plain names match case-insensitively when that is unambiguous, quoted ones exactly.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "identifiers.hpp"
#include "sql_backend.hpp"

namespace sluice::plugins::sql {

struct ResolvedTable {
  std::string schema, name;          // the catalog's spelling
  std::vector<std::string> columns;  // in the table's order
  std::string quoted;                // `shop`.`orders` / "public"."orders"
};

// Throws SqlError: MissingObject when there is no such table (or the user may not see it).
// defaultSchema: the URL's database for MySQL; empty means the connection's current schema.
ResolvedTable resolveTable(Connection& conn, const TableName& table,
                           const std::string& defaultSchema);
// The catalog's spelling of a configured column of the table; throws SqlError MissingObject.
std::string resolveColumn(const ResolvedTable& table, const Identifier& column);

// A page query and which offset part each of its placeholders takes (0: the incremental value,
// 1: the tie-breaker value), in placeholder order.
struct PageQuery {
  std::string sql;
  std::vector<int> bindings;
};

// SELECT <columns> FROM <table> [WHERE after the offset] ORDER BY <inc>[, <tie>] LIMIT <n>.
// Every name is a quoted catalog name; columns empty means *.
PageQuery tablePageQuery(Dialect dialect, const ResolvedTable& table,
                         const std::vector<std::string>& columns, const std::string& incremental,
                         const std::optional<std::string>& tieBreaker, bool afterOffset,
                         std::size_t limit);
// SELECT * FROM (<custom query>) sluice_page ORDER BY <incremental> LIMIT <n>: ordered on the
// incremental value (the first column unless named) and limited to one page.
PageQuery customPageQuery(Dialect dialect, const std::string& boundQuery, int placeholders,
                          const std::optional<std::string>& incrementalName, std::size_t limit);

}  // namespace sluice::plugins::sql
