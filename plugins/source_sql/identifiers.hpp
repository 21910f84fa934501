#pragma once
// Table and column names from the configuration, checked before any SQL is built from them.
//
// A name is either plain (letters, digits, _ and $, not starting with a digit; bytes of UTF-8
// letters included) or quoted the way one of the servers quotes it ("order lines", `order-id`),
// and a table may carry its database/schema (shop.orders). Anything else - spaces, operators,
// semicolons, comments, parentheses - is rejected here, at configure time. The names are then
// looked up in the server's catalog (catalog.cpp), and only the catalog's spelling, quoted for the
// dialect, ever reaches a statement. The offset travels only as a bound parameter.
// Pure functions; errors are std::invalid_argument with the reason.

#include <string>
#include <string_view>
#include <vector>

#include "sql_backend.hpp"

namespace sluice::plugins::sql {

struct Identifier {
  std::string text;     // without quotes
  bool quoted = false;  // written in quotes: matched exactly, otherwise case-insensitively
  bool operator==(const Identifier&) const = default;
};

struct TableName {
  Identifier schema;  // empty text: the connection's database (MySQL) or current schema
  Identifier name;
};

Identifier parseIdentifier(std::string_view text, const char* what);
TableName parseTableName(std::string_view text);
// "*" gives an empty list (every column); otherwise a comma-separated list of names.
std::vector<Identifier> parseColumnList(std::string_view text);

// Whether two configured names denote the same column (exact when either is quoted).
bool sameName(const Identifier& a, std::string_view catalogName);

// A custom query with each keedio placeholder $@$ replaced by a bound parameter (placeholder 1
// for PostgreSQL; one "?" per occurrence for MySQL), trailing semicolons removed. `count` gets
// the number of occurrences. Throws when the query is empty or has no $@$.
std::string bindCustomQuery(Dialect dialect, std::string_view query, int& count);

}  // namespace sluice::plugins::sql
