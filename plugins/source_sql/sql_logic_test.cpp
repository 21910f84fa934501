// Unit tests of the SQL source's pure logic, no server: JDBC URLs, the keys, name checks (the
// injection attempts), the page queries, CSV/JSON/body formatting and the status file.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "catalog.hpp"
#include "identifiers.hpp"
#include "jdbc_url.hpp"
#include "offset_store.hpp"
#include "readme_schema_check.hpp"
#include "row_format.hpp"
#include "settings.hpp"
#include "source_test_support.hpp"
#include "status_file.hpp"

namespace sdk = sluice::sdk;
using namespace sluice::plugins::sql;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::checkReadmeMatchesSchema;

namespace {

using KV = std::vector<std::pair<std::string, std::string>>;

sdk::Context contextOf(const KV& kv, sdk::Logger* log = nullptr) {
  sdk::Context ctx("a1.sources.r1");
  for (const auto& [k, v] : kv) ctx.put(k, v, sdk::Location{"conf/a.properties", 7});
  if (log) ctx.setLogger(log);
  return ctx;
}

const KV kBase{{"hibernate.connection.url", "jdbc:mysql://db1:3307/shop"},
               {"hibernate.connection.user", "app"},
               {"connection.password.file", "/etc/sluice/db.pw"},
               {"table", "orders"},
               {"incremental.column.name", "id"},
               {"status.file.name", "orders.status"}};

KV with(KV kv, const KV& changes) {
  for (const auto& [k, v] : changes) {
    bool found = false;
    for (auto& [k2, v2] : kv)
      if (k2 == k) {
        v2 = v;
        found = true;
      }
    if (!found) kv.emplace_back(k, v);
  }
  return kv;
}

KV without(KV kv, const std::string& key) {
  std::erase_if(kv, [&](const auto& p) { return p.first == key; });
  return kv;
}

std::string settingsError(const KV& kv) {
  try {
    (void)parseSettings(contextOf(kv));
  } catch (const sdk::ConfigError& e) {
    return e.what();
  }
  return "";
}

bool startsWith(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

Cell cell(const char* s) { return Cell{s, std::strlen(s), false}; }
Cell bytes(const std::string& s) { return Cell{s.data(), s.size(), false}; }
Cell null() { return Cell{}; }

std::string format(const FormatOptions& o, const std::vector<ColumnMeta>& cols, const Row& row,
                   sdk::Event* out = nullptr) {
  RowFormatter f(o, cols);
  sdk::Event e;
  f.format(row, e);
  std::string body = e.body;
  if (out) *out = std::move(e);
  return body;
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(sqlSourceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("JDBC URLs: MySQL, MariaDB and PostgreSQL forms") {
  JdbcUrl u = parseJdbcUrl("jdbc:mysql://db1:3307/shop?useSSL=true&characterEncoding=UTF-8");
  CHECK(u.dialect == Dialect::MySql);
  CHECK(u.host == "db1");
  CHECK(u.port == 3307);
  CHECK(u.database == "shop");
  REQUIRE(u.params.size() == 2);
  CHECK(*u.param("usessl") == "true");
  CHECK(u.redacted() == "jdbc:mysql://db1:3307/shop");
  CHECK(u.display() == "mysql://db1:3307/shop");

  u = parseJdbcUrl("jdbc:mariadb://app:s%40cret@db2/shop");
  CHECK(u.scheme == "mariadb");
  CHECK(u.port == 3306);
  CHECK(*u.user == "app");
  CHECK(*u.password == "s@cret");
  CHECK(u.redacted() == "jdbc:mariadb://db2:3306/shop");  // no user info, no password

  u = parseJdbcUrl("jdbc:mysql://db3:3306/?user=u&password=p");
  CHECK(u.database.empty());
  CHECK(*u.user == "u");
  CHECK(*u.password == "p");
  CHECK(u.params.empty());

  u = parseJdbcUrl("jdbc:postgresql://[::1]:6543/app?sslmode=verify-full");
  CHECK(u.dialect == Dialect::Postgres);
  CHECK(u.host == "::1");
  CHECK(u.port == 6543);
  CHECK(u.redacted() == "jdbc:postgresql://[::1]:6543/app");

  u = parseJdbcUrl("jdbc:postgresql:app");
  CHECK(u.host == "localhost");
  CHECK(u.port == 5432);
  CHECK(u.database == "app");

  auto error = [](const char* url) {
    try {
      (void)parseJdbcUrl(url);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error("mysql://h/db").find("expected a JDBC URL") == 0);
  CHECK(error("jdbc:oracle:thin:@h:1521/x").find("jdbc:oracle is not supported") == 0);
  CHECK(error("jdbc:mysql://h1,h2/db").find("several hosts") == 0);
  CHECK(error("jdbc:mysql:loadbalance://h/db").find("connection modes") != std::string::npos);
  CHECK(error("jdbc:postgresql://h:5432/").find("no database") == 0);
  // A bad URL's message never carries its password.
  const std::string e = error("jdbc:mysql://u:hunter2@h:99999/db");
  CHECK(e.find("bad port") == 0);
  CHECK(e.find("hunter2") == std::string::npos);
  CHECK(error("jdbc:mysql://h/db?password=%zzhunter2").find("hunter2") == std::string::npos);

  CHECK(dialectOfHibernateDialect("org.hibernate.dialect.MySQL5Dialect") == Dialect::MySql);
  CHECK(dialectOfHibernateDialect("org.hibernate.dialect.MariaDB103Dialect") == Dialect::MySql);
  CHECK(dialectOfHibernateDialect("org.hibernate.dialect.PostgreSQL95Dialect") ==
        Dialect::Postgres);
  CHECK_FALSE(dialectOfHibernateDialect("org.hibernate.dialect.Oracle10gDialect"));
  CHECK(dialectOfDriverClass("com.mysql.cj.jdbc.Driver") == Dialect::MySql);
  CHECK(dialectOfDriverClass("org.postgresql.Driver") == Dialect::Postgres);
  CHECK_FALSE(dialectOfDriverClass("oracle.jdbc.OracleDriver"));
}

TEST_CASE("valid config: keedio's keys, the tutorial's spellings, defaults") {
  SqlSettings s = parseSettings(contextOf(kBase));
  CHECK(s.url.dialect == Dialect::MySql);
  CHECK(s.connect.host == "db1");
  CHECK(s.connect.port == 3307);
  CHECK(s.connect.database == "shop");
  CHECK(s.connect.user == "app");
  CHECK(s.connect.charset == "utf8mb4");
  CHECK(s.passwordFile == "/etc/sluice/db.pw");
  CHECK(s.useTable);
  CHECK(s.table.name.text == "orders");
  CHECK(s.columns.empty());  // *
  CHECK(s.incremental->text == "id");
  CHECK(s.startFromBeginning);
  CHECK(s.runQueryDelayMs == 10000);
  CHECK(s.batchSize == 100);
  CHECK(s.maxRows == 10000);
  CHECK(s.format.format == OutputFormat::Csv);
  CHECK(s.format.delimiter == ",");
  CHECK(s.format.encloseByQuotes);
  CHECK(s.statusDir == "/var/lib/flume");
  CHECK(s.sourceName == "r1");
  CHECK_FALSE(s.connect.ssl);

  s = parseSettings(contextOf({{"connection.url", "jdbc:postgresql://pg:5432/app?ssl=true"},
                               {"connection.user", "reader"},
                               {"connection.password", "pw"},
                               {"hibernate.dialect", "org.hibernate.dialect.PostgreSQL10Dialect"},
                               {"hibernate.connection.driver_class", "org.postgresql.Driver"},
                               {"custom.query", "SELECT id, v FROM t WHERE id > $@$ ORDER BY id;"},
                               {"start.from", "100"},
                               {"format", "json"},
                               {"default.charset.resultset", "ISO-8859-1"},
                               {"batch.size", "500"},
                               {"max.rows", "2000"},
                               {"run.query.delay", "250"},
                               {"offset.table", "flume_meta"},
                               {"ssl.ca", "/etc/ssl/ca.pem"},
                               {"hibernate.connection.autocommit", "true"}}));
  CHECK(s.url.dialect == Dialect::Postgres);
  CHECK(s.connect.ssl);
  CHECK(s.connect.sslVerify);
  CHECK(s.connect.sslCa == "/etc/ssl/ca.pem");
  CHECK(*s.password == "pw");
  CHECK_FALSE(s.useTable);
  CHECK(s.customQuery == "SELECT id, v FROM t WHERE id > $1 ORDER BY id");
  CHECK(s.startFrom == "100");
  CHECK_FALSE(s.startFromBeginning);
  CHECK(s.format.format == OutputFormat::Json);
  CHECK(s.connect.charset == "LATIN1");
  CHECK(s.offsetTable->name.text == "flume_meta");
  CHECK(s.batchSize == 500);

  // format body when body.column is set; the tie-breaker; quoted names.
  s = parseSettings(
      contextOf(with(kBase, {{"incremental.column.name", "updated_at"},
                             {"tiebreaker.column.name", "id"},
                             {"columns.to.select", "id, updated_at, \"message text\""},
                             {"body.column", "\"message text\""}})));
  CHECK(s.format.format == OutputFormat::Body);
  CHECK(s.bodyColumn->text == "message text");
  CHECK(s.bodyColumn->quoted);
  CHECK(s.tieBreaker->text == "id");
  REQUIRE(s.columns.size() == 3);
  CHECK(s.columns[2].text == "message text");
}

TEST_CASE("JDBC URL parameters map onto the keys; unknown ones are reported") {
  CaptureLogger log;
  SqlSettings s = parseSettings(contextOf(
      with(kBase, {{"hibernate.connection.url",
                    "jdbc:mysql://db1/shop?sslMode=REQUIRED&connectTimeout=2500&"
                    "socketTimeout=60000&characterEncoding=windows-1252&serverTimezone=UTC"}}),
      &log));
  CHECK(s.connect.ssl);
  CHECK_FALSE(s.connect.sslVerify);
  CHECK(s.connect.connectTimeoutMs == 2500);
  CHECK(s.connect.readTimeoutMs == 60000);
  CHECK(s.connect.charset == "latin1");
  CHECK(
      log.has("a1.sources.r1.hibernate.connection.url (conf/a.properties:7): URL parameter "
              "serverTimezone is not used by sluice; ignored"));
  // Explicit keys win over the URL.
  s = parseSettings(contextOf(
      with(kBase, {{"hibernate.connection.url", "jdbc:mysql://db1/shop?connectTimeout=2500"},
                   {"connect.timeout", "4000"}})));
  CHECK(s.connect.connectTimeoutMs == 4000);
  // A password in the URL works, with a warning that does not repeat it.
  CaptureLogger log2;
  s = parseSettings(
      contextOf(with(without(kBase, "connection.password.file"),
                     {{"hibernate.connection.url", "jdbc:mysql://db1/shop?password=hunter2"}}),
                &log2));
  CHECK(*s.password == "hunter2");
  CHECK(log2.has("the URL carries a password"));
  CHECK_FALSE(log2.has("hunter2"));
}

TEST_CASE("configure errors name the key, say what was expected, and never show a password") {
  CHECK(settingsError(without(kBase, "hibernate.connection.url")) ==
        "a1.sources.r1.hibernate.connection.url: is required but missing (or connection.url)");
  CHECK(startsWith(settingsError(with(kBase, {{"connection.url", "jdbc:mysql://other/x"}})),
                   "a1.sources.r1.connection.url: conflicts with hibernate.connection.url"));
  CHECK(startsWith(settingsError(with(kBase, {{"hibernate.connection.url", "jdbc:db2://h/x"}})),
                   "a1.sources.r1.hibernate.connection.url: jdbc:db2 is not supported"));
  CHECK(settingsError(
            with(kBase, {{"hibernate.dialect", "org.hibernate.dialect.PostgreSQLDialect"}})) ==
        "a1.sources.r1.hibernate.dialect: 'org.hibernate.dialect.PostgreSQLDialect' does not match "
        "hibernate.connection.url (jdbc:mysql://db1:3307/shop) (conf/a.properties:7)");
  CHECK(startsWith(
      settingsError(with(kBase, {{"hibernate.connection.driver_class", "org.postgresql.Driver"}})),
      "a1.sources.r1.hibernate.connection.driver_class: 'org.postgresql.Driver' does "
      "not match"));
  CHECK(startsWith(
      settingsError(with(kBase, {{"hibernate.dialect", "org.hibernate.dialect.OracleDialect"}})),
      "a1.sources.r1.hibernate.dialect: 'org.hibernate.dialect.OracleDialect' is not a "
      "MySQL, MariaDB or PostgreSQL dialect"));
  CHECK(startsWith(settingsError(without(kBase, "hibernate.connection.user")),
                   "a1.sources.r1.hibernate.connection.user: is required but missing"));
  const std::string twice =
      settingsError(with(kBase, {{"hibernate.connection.password", "hunter2"}}));
  CHECK(startsWith(twice,
                   "a1.sources.r1.connection.password.file: the password is given more "
                   "than once"));
  CHECK(twice.find("hunter2") == std::string::npos);
  CHECK(settingsError(without(kBase, "table")) ==
        "a1.sources.r1.table: is required but missing (or custom.query)");
  CHECK(startsWith(settingsError(with(kBase, {{"custom.query", "SELECT 1 WHERE 1 > $@$"}})),
                   "a1.sources.r1.custom.query: set either table or custom.query"));
  CHECK(startsWith(settingsError(without(kBase, "incremental.column.name")),
                   "a1.sources.r1.incremental.column.name: is required with table"));
  CHECK(startsWith(
      settingsError(with(without(kBase, "table"), {{"custom.query", "SELECT id FROM t"}})),
      "a1.sources.r1.custom.query: the query has no $@$"));
  CHECK(startsWith(settingsError(with(kBase, {{"columns.to.select", "name, email"}})),
                   "a1.sources.r1.columns.to.select: must include the incremental column 'id'"));
  CHECK(startsWith(settingsError(without(kBase, "status.file.name")),
                   "a1.sources.r1.status.file.name: is required but missing (or offset.table)"));
  CHECK(startsWith(settingsError(with(kBase, {{"offset.table", "meta"}})),
                   "a1.sources.r1.status.file.name: set either status.file.name or offset.table"));
  CHECK(startsWith(settingsError(with(kBase, {{"status.file.name", "../x"}})),
                   "a1.sources.r1.status.file.name: must be a file name"));
  CHECK(startsWith(settingsError(with(kBase, {{"default.charset.resultset", "EBCDIC"}})),
                   "a1.sources.r1.default.charset.resultset: unknown character set 'EBCDIC'"));
  CHECK(startsWith(settingsError(with(kBase, {{"format", "body"}})),
                   "a1.sources.r1.body.column: is required with format = body"));
  CHECK(startsWith(settingsError(with(kBase, {{"format", "json"}, {"body.column", "id"}})),
                   "a1.sources.r1.body.column: applies to format = body only"));
  CHECK(startsWith(settingsError(with(kBase, {{"delimiter.entry", "\""}})),
                   "a1.sources.r1.delimiter.entry: must not contain a double quote"));
  CHECK(startsWith(settingsError(with(kBase, {{"tiebreaker.column.name", "ID"}})),
                   "a1.sources.r1.tiebreaker.column.name: must differ"));
  CHECK(startsWith(settingsError(with(kBase, {{"read.only", "true"}, {"offset.table", "m"}})),
                   "a1.sources.r1.offset.table: cannot be written in a read.only session"));
  CHECK(startsWith(settingsError(with(kBase, {{"hibernate.connection.url", "jdbc:mysql://h/"},
                                              {"table", "orders"}})),
                   "a1.sources.r1.table: names no database"));
  CHECK(startsWith(settingsError(with(kBase, {{"ssl.cert", "/c.pem"}})),
                   "a1.sources.r1.ssl.cert: ssl.cert and ssl.key go together"));
}

TEST_CASE("injection attempts in table and columns.to.select are rejected at configure time") {
  for (const char* table : {"orders; DROP TABLE users", "orders --", "orders/*x*/", "(SELECT 1) t",
                            "orders o", "orders WHERE 1=1", "`orders`; DROP", "\"a\"\"",
                            "shop.orders.x", "1orders", "", "ord\x01ers", "orders'"}) {
    const std::string e = settingsError(with(kBase, {{"table", table}}));
    CHECK_MESSAGE(startsWith(e, "a1.sources.r1.table: "), table);
    if (*table) CHECK_MESSAGE(e.find("is not a table name") != std::string::npos, e);
  }
  for (const char* cols :
       {"id, name FROM users --", "id, (SELECT password FROM users)", "id, name; DROP TABLE t",
        "id, COUNT(*)", "id name", "id,,name", "id, name AS n", "id, `x` y", "id, id"}) {
    const std::string e = settingsError(with(kBase, {{"columns.to.select", cols}}));
    CHECK_MESSAGE(startsWith(e, "a1.sources.r1.columns.to.select: '"), e);
    CHECK_MESSAGE(e.find("is not a column list") != std::string::npos, e);
  }
  for (const char* key : {"incremental.column.name", "tiebreaker.column.name", "body.column"}) {
    const std::string e = settingsError(with(kBase, {{key, "id) OR (1=1"}}));
    CHECK_MESSAGE(e.find("is not a column name") != std::string::npos, e);
  }
  CHECK(
      settingsError(with(kBase, {{"offset.table", "meta; DROP TABLE x"}, {"status.file.name", ""}}))
          .find("is not a table name") != std::string::npos);
  CHECK(settingsError(with(kBase, {{"hibernate.connection.url",
                                    "jdbc:postgresql://h/db?currentSchema=x -c y"}}))
            .find("is not a schema name") != std::string::npos);

  // What is accepted, and how it comes out quoted.
  TableName t = parseTableName("shop.`order lines`");
  CHECK(t.schema.text == "shop");
  CHECK(t.name.text == "order lines");
  CHECK(t.name.quoted);
  t = parseTableName("\"we\"\"ird\"");
  CHECK(t.name.text == "we\"ird");
  CHECK(quoteIdentifier(Dialect::Postgres, t.name.text) == "\"we\"\"ird\"");
  CHECK(quoteIdentifier(Dialect::MySql, "a`b") == "`a``b`");
  CHECK(parseColumnList(" id , name,\"e-mail\" ").size() == 3);
  CHECK(parseColumnList("*").empty());
  CHECK(parseIdentifier("größe", "column name").text == "größe");
}

TEST_CASE("page queries: the offset is always a placeholder, names always quoted") {
  ResolvedTable t{"shop", "orders", {"id", "name", "ts"}, "`shop`.`orders`"};
  PageQuery q = tablePageQuery(Dialect::MySql, t, {}, "id", std::nullopt, false, 500);
  CHECK(q.sql == "SELECT * FROM `shop`.`orders` WHERE `id` IS NOT NULL ORDER BY `id` LIMIT 500");
  CHECK(q.bindings.empty());
  q = tablePageQuery(Dialect::MySql, t, {"id", "name"}, "id", std::nullopt, true, 10);
  CHECK(q.sql == "SELECT `id`, `name` FROM `shop`.`orders` WHERE `id` > ? ORDER BY `id` LIMIT 10");
  CHECK(q.bindings == std::vector<int>{0});
  q = tablePageQuery(Dialect::MySql, t, {}, "ts", std::string("id"), true, 10);
  CHECK(q.sql ==
        "SELECT * FROM `shop`.`orders` WHERE (`ts` > ? OR (`ts` = ? AND `id` > ?)) "
        "ORDER BY `ts`, `id` LIMIT 10");
  CHECK(q.bindings == std::vector<int>{0, 0, 1});
  t.quoted = "\"public\".\"orders\"";
  q = tablePageQuery(Dialect::Postgres, t, {}, "ts", std::string("id"), true, 10);
  CHECK(q.sql ==
        "SELECT * FROM \"public\".\"orders\" WHERE (\"ts\" > $1 OR (\"ts\" = $1 AND "
        "\"id\" > $2)) ORDER BY \"ts\", \"id\" LIMIT 10");
  CHECK(q.bindings == std::vector<int>{0, 1});

  int n = 0;
  const std::string my =
      bindCustomQuery(Dialect::MySql, "SELECT * FROM a WHERE x > $@$ OR y > $@$ ;", n);
  CHECK(my == "SELECT * FROM a WHERE x > ? OR y > ?");
  CHECK(n == 2);
  q = customPageQuery(Dialect::MySql, my, n, std::nullopt, 100);
  CHECK(q.sql ==
        "SELECT * FROM (SELECT * FROM a WHERE x > ? OR y > ?) sluice_page ORDER BY 1 LIMIT 100");
  CHECK(q.bindings == std::vector<int>{0, 0});
  const std::string pg =
      bindCustomQuery(Dialect::Postgres, "SELECT * FROM a WHERE x > $@$ OR y > $@$", n);
  CHECK(pg == "SELECT * FROM a WHERE x > $1 OR y > $1");
  q = customPageQuery(Dialect::Postgres, pg, n, std::string("x"), 100);
  CHECK(q.sql ==
        "SELECT * FROM (SELECT * FROM a WHERE x > $1 OR y > $1) sluice_page ORDER BY \"x\" LIMIT "
        "100");
  CHECK(q.bindings == std::vector<int>{0});
}

TEST_CASE("csv: RFC 4180 quoting, NULL distinct from the empty string, keedio's keys") {
  const std::vector<ColumnMeta> cols{{"id", ColumnKind::Integer},
                                     {"s", ColumnKind::Text},
                                     {"n", ColumnKind::Text},
                                     {"b", ColumnKind::Binary}};
  const std::string bin("\x00\xff\x10", 3);
  FormatOptions o;  // csv, ",", enclose.by.quotes = true
  CHECK(format(o, cols, {cell("1"), cell("a \"q\", b"), null(), bytes(bin)}) ==
        "\"1\",\"a \"\"q\"\", b\",,\"AP8Q\"");
  CHECK(format(o, cols, {cell("2"), cell(""), null(), null()}) == "\"2\",\"\",,");
  o.encloseByQuotes = false;  // quotes only where needed; "" still marks the empty string
  CHECK(format(o, cols, {cell("3"), cell("plain"), null(), bytes(bin)}) == "3,plain,,AP8Q");
  CHECK(format(o, cols, {cell("4"), cell(""), null(), null()}) == "4,\"\",,");
  CHECK(format(o, cols, {cell("5"), cell("line1\nline2"), cell("a,b"), null()}) ==
        "5,\"line1\nline2\",\"a,b\",");
  CHECK(format(o, cols, {cell("6"), cell("say \"hi\""), cell("x\ry"), null()}) ==
        "6,\"say \"\"hi\"\"\",\"x\ry\",");
  o.delimiter = std::string(1, '|');  // (GCC 12 warns falsely on assigning a literal here)
  CHECK(format(o, cols, {cell("7"), cell("a,b"), cell("c|d"), null()}) == "7|a,b|\"c|d\"|");
  o.delimiter = std::string(1, '\t');
  CHECK(format(o, cols, {cell("8"), cell("tab\there"), cell("ünï 😀"), null()}) ==
        "8\t\"tab\there\"\tünï 😀\t");
}

TEST_CASE("json: typed values, null, base64, escaping") {
  const std::vector<ColumnMeta> cols{{"id", ColumnKind::Integer},  {"price", ColumnKind::Decimal},
                                     {"score", ColumnKind::Float}, {"ok", ColumnKind::Boolean},
                                     {"name", ColumnKind::Text},   {"at", ColumnKind::Temporal},
                                     {"raw", ColumnKind::Binary},  {"note", ColumnKind::Text}};
  FormatOptions o;
  o.format = OutputFormat::Json;
  const std::string bin("\x01\x02\x03\x04", 4);
  CHECK(
      format(o, cols,
             {cell("-12"), cell("10.50"), cell("1.5e-07"), cell("t"), cell("a\"b\\c\n\x01 é 😀"),
              cell("2024-01-31 12:00:00.123"), bytes(bin), null()}) ==
      "{\"id\":-12,\"price\":10.50,\"score\":1.5e-07,\"ok\":true,\"name\":\"a\\\"b\\\\c\\n\\u0001 "
      "é 😀\",\"at\":\"2024-01-31 12:00:00.123\",\"raw\":\"AQIDBA==\",\"note\":null}");
  CHECK(
      format(o, cols,
             {cell("0"), cell("NaN"), cell("-Infinity"), cell("f"), cell(""), null(), bytes(""),
              cell("")}) ==
      "{\"id\":0,\"price\":\"NaN\",\"score\":\"-Infinity\",\"ok\":false,\"name\":\"\",\"at\":null,"
      "\"raw\":\"\",\"note\":\"\"}");
  CHECK(isJsonNumber("0"));
  CHECK(isJsonNumber("-0.5"));
  CHECK(isJsonNumber("1E+5"));
  CHECK_FALSE(isJsonNumber("01"));
  CHECK_FALSE(isJsonNumber(".5"));
  CHECK_FALSE(isJsonNumber("1."));
  CHECK_FALSE(isJsonNumber("inf"));
  CHECK_FALSE(isJsonNumber(""));
}

TEST_CASE("body: one column is the body, the others headers; NULLs stay visible") {
  const std::vector<ColumnMeta> cols{{"id", ColumnKind::Integer},
                                     {"msg", ColumnKind::Text},
                                     {"level", ColumnKind::Text},
                                     {"blob", ColumnKind::Binary}};
  FormatOptions o;
  o.format = OutputFormat::Body;
  o.bodyColumn = 1;
  sdk::Event e;
  CHECK(format(o, cols, {cell("7"), cell("disk full"), cell(""), bytes("\xfb\xff")}, &e) ==
        "disk full");
  CHECK(e.headers.get("id") == "7");
  CHECK(e.headers.contains("level"));  // the empty string: present, empty
  CHECK(e.headers.get("level").empty());
  CHECK(e.headers.get("blob") == "+/8=");
  CHECK_FALSE(e.headers.contains("sql.null"));
  CHECK(format(o, cols, {cell("8"), null(), null(), null()}, &e).empty());
  CHECK(e.headers.get("sql.null") == "msg");  // a NULL body, not an empty one
  CHECK_FALSE(e.headers.contains("level"));   // NULL headers are left out
  o.bodyColumn = 3;                           // a binary body is the raw bytes
  CHECK(format(o, cols, {cell("9"), cell("m"), null(), bytes("\xfb\xff")}, &e) == "\xfb\xff");
}

TEST_CASE("base64 vectors (RFC 4648)") {
  for (const auto& [in, out] :
       std::vector<std::pair<std::string, std::string>>{{"", ""},
                                                        {"f", "Zg=="},
                                                        {"fo", "Zm8="},
                                                        {"foo", "Zm9v"},
                                                        {"foob", "Zm9vYg=="},
                                                        {"fooba", "Zm9vYmE="},
                                                        {"foobar", "Zm9vYmFy"}}) {
    std::string s;
    appendBase64(s, in);
    CHECK(s == out);
  }
}

TEST_CASE("status file: keedio's layout, atomic replace, errors name the file") {
  const StatusRecord keedio = StatusRecord::parse(
      R"({"SourceName":"r1","URL":"jdbc:mysql://db:3306/shop","LastIndex":"1234",)"
      R"("Table":"orders","ColumnsToSelect":"*", "n": 5, "b": true, "z": null})");
  CHECK(*keedio.find("LastIndex") == "1234");
  CHECK(*keedio.find("n") == "5");
  CHECK(keedio.find("z")->empty());
  StatusRecord r;
  r.set("LastIndex", "2024-01-01 00:00:00 \"q\" \\ é\n");
  r.set("Table", "orders");
  CHECK(StatusRecord::parse(r.toJson()).fields() == r.fields());
  CHECK(*StatusRecord::parse(R"({"a":"\u00e9\ud83d\ude00"})").find("a") == "é😀");
  for (const char* bad :
       {"", "{", "{\"a\":}", "{\"a\":\"x\"} trailing", "[1]", "{\"a\":x}", "{\"a\":\"\\ud800\"}"})
    CHECK_THROWS_AS(StatusRecord::parse(bad), std::runtime_error);

  char tmpl[] = "/tmp/sluice-sql-status-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  const std::string dir = std::string(tmpl) + "/sub/dir";
  StatusFile f(dir, "s.status");
  f.openDirectory();  // creates the directories
  CHECK_FALSE(f.read());
  f.write(r);
  CHECK(f.read()->fields() == r.fields());
  CHECK_FALSE(std::filesystem::exists(f.path() + ".tmp"));
  // A crash between prepare() and commit() leaves the old content in place.
  StatusRecord next = r;
  next.set("LastIndex", "99");
  f.prepare(next);
  CHECK(*f.read()->find("LastIndex") == *r.find("LastIndex"));
  f.commit();
  CHECK(*f.read()->find("LastIndex") == "99");
  { std::ofstream(f.path()) << "{\"LastIndex\": 12"; }
  try {
    (void)f.read();
    FAIL("a truncated file must not read");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("the status file '" + f.path() + "' is not valid JSON") == 0);
  }
  std::filesystem::remove_all(tmpl);
}

TEST_CASE("the offset state a batch carries into the channels: the status file's JSON, checked") {
  const SqlSettings s = parseSettings(contextOf(kBase));
  StatusRecord ours = offsetIdentity(s);
  const std::string state = encodeOffsetState(ours, Offset{"1234", ""});
  // The same record a status file would hold.
  const StatusRecord parsed = StatusRecord::parse(state);
  CHECK(*parsed.find("LastIndex") == "1234");
  CHECK(*parsed.find("Table") == "orders");
  CHECK(*parsed.find("IncrementalColumn") == "id");
  CHECK(parsed.find("URL")->find("pw") == std::string::npos);
  std::string why;
  CHECK(decodeOffsetState(ours, state, why) == std::optional<Offset>(Offset{"1234", ""}));

  // Written for another reading (another table): not used.
  const SqlSettings other = parseSettings(contextOf(with(kBase, {{"table", "customers"}})));
  CHECK_FALSE(decodeOffsetState(offsetIdentity(other), state, why).has_value());
  CHECK(why.find("Table") != std::string::npos);
  // A case-only difference in a name is the same table (the catalog decides the spelling).
  const SqlSettings upper = parseSettings(contextOf(with(kBase, {{"table", "ORDERS"}})));
  CHECK(decodeOffsetState(offsetIdentity(upper), state, why).has_value());
  // Not a status record, or one without LastIndex.
  CHECK_FALSE(decodeOffsetState(ours, "offset=7", why).has_value());
  CHECK(why.find("not a status record") != std::string::npos);
  CHECK_FALSE(decodeOffsetState(ours, "{\"Table\":\"orders\"}", why).has_value());
  CHECK(why.find("LastIndex") != std::string::npos);

  // With a tie-breaker, both parts travel.
  const SqlSettings tie = parseSettings(contextOf(with(
      kBase, {{"incremental.column.name", "updated_at"}, {"tiebreaker.column.name", "id"}})));
  StatusRecord tieId = offsetIdentity(tie);
  const std::string tieState = encodeOffsetState(tieId, Offset{"2024-01-31 12:00:00", "77"});
  CHECK(decodeOffsetState(tieId, tieState, why) ==
        std::optional<Offset>(Offset{"2024-01-31 12:00:00", "77"}));
}
