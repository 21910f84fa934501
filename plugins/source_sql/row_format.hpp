#pragma once
// Turns one result row into one event, in the format the source is configured for:
//
//  csv   RFC 4180: fields separated by delimiter.entry; a field is enclosed in double quotes
//        (inner quotes doubled) when enclose.by.quotes is true, or when it must be (it holds a
//        quote, a delimiter character, CR or LF). NULL is an empty unquoted field; an empty
//        string is always "" - so the two stay distinguishable. Binary values are base64.
//  json  one object, column names as keys in column order; integers, decimals and finite floats
//        as JSON numbers, booleans as true/false, NULL as null, binary as base64 strings, the
//        rest (text, timestamps, NaN) as strings.
//  body  the body column's value is the body (binary: the raw bytes); every other non-NULL
//        column becomes a header named after it (binary: base64). A NULL body is an empty body
//        with the header `sql.null` naming the column; NULL headers are left out.
//
// The formatter is built once per prepared statement (it precomputes the JSON keys) and reuses
// its scratch buffer; the only allocations per row are the event's own body and headers.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/sdk/event.hpp"
#include "sql_backend.hpp"
#include "text.hpp"

namespace sluice::plugins::sql {

enum class OutputFormat { Csv, Json, Body };

struct FormatOptions {
  OutputFormat format = OutputFormat::Csv;
  std::string delimiter = ",";
  bool encloseByQuotes = true;
  std::size_t bodyColumn = 0;  // format Body: index of the body column
};

class RowFormatter {
 public:
  RowFormatter(FormatOptions options, const std::vector<ColumnMeta>& columns);

  // Fills event.body (and, for Body, the headers) from the row. The event must be empty.
  void format(const Row& row, sdk::Event& event);

 private:
  void csv(const Row& row, std::string& out) const;
  void json(const Row& row, std::string& out) const;

  FormatOptions options_;
  std::vector<ColumnMeta> columns_;
  std::vector<std::string> jsonKeys_;  // "\"name\":" with the leading comma for all but the first
  std::string scratch_;
};

// Helpers, public for the unit tests.
void appendBase64(std::string& out, std::string_view bytes);
// Whether text is a JSON number as-is (so "1e5" and "-0.5" are, "NaN", ".5" and "1." are not).
bool isJsonNumber(std::string_view text);

}  // namespace sluice::plugins::sql
