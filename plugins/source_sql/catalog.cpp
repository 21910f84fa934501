#include "catalog.hpp"

namespace sluice::plugins::sql {
namespace {

struct Candidate {
  std::string schema, name;
  std::vector<std::string> columns;
};

std::string describe(const TableName& t) {
  return t.schema.text.empty() ? t.name.text : t.schema.text + "." + t.name.text;
}

}  // namespace

ResolvedTable resolveTable(Connection& conn, const TableName& table,
                           const std::string& defaultSchema) {
  const Dialect d = conn.dialect();
  const std::string schemaValue = table.schema.text.empty() ? defaultSchema : table.schema.text;
  const bool bySchema = !schemaValue.empty();
  // Case-insensitive candidates; the exact one (or the only one) is chosen below.
  std::string sql;
  if (d == Dialect::MySql) {
    sql = "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE ";
    sql += bySchema ? "LOWER(TABLE_SCHEMA) = LOWER(?)" : "TABLE_SCHEMA = DATABASE()";
    sql += " AND LOWER(TABLE_NAME) = LOWER(?) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION";
  } else {
    sql =
        "SELECT table_schema::text, table_name::text, column_name::text FROM "
        "information_schema.columns WHERE ";
    sql += bySchema ? "lower(table_schema) = lower($1) AND lower(table_name) = lower($2)"
                    : "table_schema = current_schema() AND lower(table_name) = lower($1)";
    sql += " ORDER BY table_schema, table_name, ordinal_position";
  }
  std::vector<Param> params;
  if (bySchema) params.push_back(Param{schemaValue, false});
  params.push_back(Param{table.name.text, false});
  std::unique_ptr<Statement> st = conn.prepare(sql);
  st->execute(params);
  std::vector<Candidate> found;
  Row row;
  while (st->next(row)) {
    const std::string schema(row[0].view()), name(row[1].view());
    if (found.empty() || found.back().schema != schema || found.back().name != name)
      found.push_back(Candidate{schema, name, {}});
    found.back().columns.emplace_back(row[2].view());
  }
  st.reset();

  auto matches = [&](const Candidate& c, bool exact) {
    const bool schemaOk = table.schema.text.empty() ||
                          (exact || table.schema.quoted ? c.schema == table.schema.text
                                                        : sameName(table.schema, c.schema));
    const bool nameOk =
        exact || table.name.quoted ? c.name == table.name.text : sameName(table.name, c.name);
    return schemaOk && nameOk;
  };
  const Candidate* pick = nullptr;
  for (const Candidate& c : found)
    if (matches(c, true)) pick = &c;
  if (!pick) {
    std::vector<const Candidate*> loose;
    for (const Candidate& c : found)
      if (matches(c, false)) loose.push_back(&c);
    if (loose.size() > 1) {
      std::string names;
      for (const Candidate* c : loose)
        names += (names.empty() ? "" : ", ") + c->schema + "." + c->name;
      throw SqlError(ErrorKind::Query, "table '" + describe(table) + "' matches several tables (" +
                                           names + "); quote the name to pick one");
    }
    if (!loose.empty()) pick = loose.front();
  }
  if (!pick)
    throw SqlError(ErrorKind::MissingObject,
                   "table '" + describe(table) + "' does not exist in " +
                       (bySchema ? "'" + schemaValue + "'" : std::string("the current schema")) +
                       " (or the user may not read it)");
  ResolvedTable r;
  r.schema = pick->schema;
  r.name = pick->name;
  r.columns = pick->columns;
  r.quoted = quoteIdentifier(d, r.schema) + "." + quoteIdentifier(d, r.name);
  return r;
}

std::string resolveColumn(const ResolvedTable& table, const Identifier& column) {
  for (const std::string& c : table.columns)
    if (c == column.text) return c;
  const std::string* pick = nullptr;
  if (!column.quoted)
    for (const std::string& c : table.columns)
      if (sameName(column, c)) {
        if (pick)
          throw SqlError(ErrorKind::Query, "column '" + column.text + "' of " + table.schema + "." +
                                               table.name +
                                               " matches several columns; quote the name");
        pick = &c;
      }
  if (!pick)
    throw SqlError(ErrorKind::MissingObject, "table " + table.schema + "." + table.name +
                                                 " has no column '" + column.text + "'");
  return *pick;
}

PageQuery tablePageQuery(Dialect d, const ResolvedTable& table,
                         const std::vector<std::string>& columns, const std::string& incremental,
                         const std::optional<std::string>& tieBreaker, bool afterOffset,
                         std::size_t limit) {
  PageQuery q;
  const std::string inc = quoteIdentifier(d, incremental);
  std::string list;
  for (const std::string& c : columns) list += (list.empty() ? "" : ", ") + quoteIdentifier(d, c);
  q.sql =
      "SELECT " + (list.empty() ? std::string("*") : list) + " FROM " + table.quoted + " WHERE ";
  if (!afterOffset) {
    q.sql += inc + " IS NOT NULL";
  } else if (!tieBreaker) {
    q.sql += inc + " > " + placeholder(d, 1);
    q.bindings = {0};
  } else {
    // (inc, tie) > (offset, tie offset), spelled out so that both servers use the index.
    const std::string tie = quoteIdentifier(d, *tieBreaker);
    if (d == Dialect::MySql) {
      q.sql += "(" + inc + " > ? OR (" + inc + " = ? AND " + tie + " > ?))";
      q.bindings = {0, 0, 1};
    } else {
      q.sql += "(" + inc + " > $1 OR (" + inc + " = $1 AND " + tie + " > $2))";
      q.bindings = {0, 1};
    }
  }
  q.sql += " ORDER BY " + inc;
  if (tieBreaker) q.sql += ", " + quoteIdentifier(d, *tieBreaker);
  q.sql += " LIMIT " + std::to_string(limit);
  return q;
}

PageQuery customPageQuery(Dialect d, const std::string& boundQuery, int placeholders,
                          const std::optional<std::string>& incrementalName, std::size_t limit) {
  PageQuery q;
  q.sql = "SELECT * FROM (" + boundQuery + ") sluice_page ORDER BY " +
          (incrementalName ? quoteIdentifier(d, *incrementalName) : std::string("1")) + " LIMIT " +
          std::to_string(limit);
  // MySQL: one value per "?"; PostgreSQL: every $@$ became $1.
  q.bindings.assign(d == Dialect::MySql ? static_cast<std::size_t>(placeholders) : 1, 0);
  return q;
}

}  // namespace sluice::plugins::sql
