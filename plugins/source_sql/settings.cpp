#include "settings.hpp"

#include <charconv>
#include <stdexcept>

#include "text.hpp"

namespace sluice::plugins::sql {
namespace {

constexpr int64_t kDefaultConnectTimeout = 10000;
constexpr int64_t kDefaultReadTimeout = 300000;

std::string trimCopy(std::string_view s) { return std::string(trimmed(s)); }

// keedio's spelling or the tutorial's: at most one of them, returned with the key it came from.
std::optional<std::pair<std::string, std::string>> either(const sdk::Context& ctx, const char* a,
                                                          const char* b) {
  auto va = ctx.getString(a);
  auto vb = ctx.getString(b);
  if (va && vb && trimCopy(*va) != trimCopy(*vb))
    ctx.fail(b, std::string("conflicts with ") + a + "; set only one of them");
  if (va && !trimCopy(*va).empty()) return std::make_pair(std::string(a), *va);
  if (vb && !trimCopy(*vb).empty()) return std::make_pair(std::string(b), *vb);
  return std::nullopt;
}

struct CharsetName {
  const char* java;  // lower case, without '-' and '_'
  const char* mysql;
  const char* postgres;
};
constexpr CharsetName kCharsets[] = {
    {"utf8", "utf8mb4", "UTF8"},          {"iso88591", "latin1", "LATIN1"},
    {"latin1", "latin1", "LATIN1"},       {"usascii", "ascii", "SQL_ASCII"},
    {"ascii", "ascii", "SQL_ASCII"},      {"windows1252", "latin1", "WIN1252"},
    {"cp1252", "latin1", "WIN1252"},      {"iso88592", "latin2", "LATIN2"},
    {"iso88597", "greek", "ISO_8859_7"},  {"iso88599", "latin5", "LATIN5"},
    {"windows1250", "cp1250", "WIN1250"}, {"windows1251", "cp1251", "WIN1251"},
    {"koi8r", "koi8r", "KOI8R"},          {"gbk", "gbk", "GBK"},
    {"gb2312", "gb2312", "EUC_CN"},       {"big5", "big5", "BIG5"},
    {"shiftjis", "sjis", "SJIS"},         {"sjis", "sjis", "SJIS"},
    {"eucjp", "ujis", "EUC_JP"},          {"euckr", "euckr", "EUC_KR"},
};

// JDBC URL parameters sluice understands; the others are reported and ignored.
void applyUrlParams(const sdk::Context& ctx, SqlSettings& s) {
  ConnectOptions& c = s.connect;
  const JdbcUrl& u = s.url;
  const bool mysql = u.dialect == Dialect::MySql;
  auto isTrue = [](const std::string& v) { return lowerAscii(v) == "true" || v == "1"; };
  auto millis = [&](const std::string& key, const std::string& v, int scale) {
    int n = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || n < 0)
      ctx.fail(s.urlKey, "URL parameter " + key + ": expected a number, got '" + v + "'");
    return n * scale;
  };
  for (const auto& [key, value] : u.params) {
    const std::string k = lowerAscii(key);
    const std::string v = lowerAscii(value);
    if (k == "usessl" || k == "requiressl" || (!mysql && k == "ssl")) {
      if (isTrue(value)) c.ssl = true;
    } else if (k == "sslmode") {
      if (v == "required" || v == "require") {
        c.ssl = true;
        c.sslVerify = false;
      } else if (v == "verify_ca" || v == "verify_identity" || v == "verify-ca" ||
                 v == "verify-full") {
        c.ssl = true;
      } else if (v != "disabled" && v != "disable" && v != "preferred" && v != "prefer" &&
                 v != "allow") {
        ctx.fail(s.urlKey, "URL parameter sslMode: unknown mode '" + value + "'");
      }
    } else if (k == "verifyservercertificate") {
      if (!isTrue(value)) c.sslVerify = false;
    } else if (k == "sslrootcert" || k == "trustcertificatekeystoreurl" || k == "serversslcert") {
      c.sslCa = value;
    } else if (k == "sslcert") {
      c.sslCert = value;
    } else if (k == "sslkey") {
      c.sslKey = value;
    } else if (k == "characterencoding" || k == "charset") {
      s.charset = value;
    } else if (k == "connecttimeout") {
      c.connectTimeoutMs = millis(key, value, mysql ? 1 : 1000);  // Connector/J: ms; pgJDBC: s
    } else if (k == "sockettimeout") {
      c.readTimeoutMs = millis(key, value, mysql ? 1 : 1000);
    } else if (!mysql && k == "currentschema") {
      try {  // a plain or quoted name, nothing else: it ends up in the session's options
        c.schema = parseIdentifier(value, "schema name").text;
      } catch (const std::invalid_argument& e) {
        ctx.fail(s.urlKey, std::string("URL parameter currentSchema: ") + e.what());
      }
    } else {
      ctx.logger().warn(ctx.describe(s.urlKey), ": URL parameter ", key,
                        " is not used by sluice; ignored");
    }
  }
}

}  // namespace

const sdk::Schema& sqlSourceSchema() {
  static const sdk::Schema schema{
      sdk::Key("hibernate.connection.url")
          .string()
          .doc("JDBC URL: jdbc:mysql://host:3306/db, jdbc:mariadb://..., or "
               "jdbc:postgresql://host:5432/db"),
      sdk::Key("connection.url").string().doc("Same as hibernate.connection.url"),
      sdk::Key("hibernate.connection.user").string().doc("User to connect as"),
      sdk::Key("connection.user").string().doc("Same as hibernate.connection.user"),
      sdk::Key("connection.password.file")
          .string()
          .doc("File holding the password (trailing newline dropped), read at every connect; "
               "preferred over the password keys"),
      sdk::Key("hibernate.connection.password")
          .string()
          .isSecret()
          .doc("The password (prefer connection.password.file)"),
      sdk::Key("connection.password")
          .string()
          .isSecret()
          .doc("Same as hibernate.connection.password"),
      sdk::Key("hibernate.dialect")
          .string()
          .doc("Hibernate dialect class; must name the URL's database (MySQL, MariaDB or "
               "PostgreSQL)"),
      sdk::Key("hibernate.connection.driver_class")
          .string()
          .doc("JDBC driver class; must be the URL's database's driver"),
      sdk::Key("hibernate.connection.autocommit")
          .boolean()
          .flumeIgnored("every read is one statement; the offset table upsert commits itself"),
      sdk::Key("hibernate.connection.provider_class")
          .string()
          .flumeIgnored("one connection per source, no pool"),
      sdk::Key("hibernate.c3p0.*").string().flumeIgnored("one connection per source, no pool"),
      sdk::Key("ssl").boolean().def("false").doc("Connect over TLS"),
      sdk::Key("ssl.ca").string().doc(
          "CA certificates (PEM file) the server's certificate must chain to (default: the "
          "system's)"),
      sdk::Key("ssl.cert").string().doc("Client certificate (PEM file), for servers that ask"),
      sdk::Key("ssl.key").string().doc("Client certificate's private key (PEM file)"),
      sdk::Key("ssl.verify")
          .boolean()
          .def("true")
          .doc("With ssl: verify the server's certificate and host name"),
      sdk::Key("connect.timeout")
          .integer()
          .def("10000")
          .range(1000, 600000)
          .doc("Milliseconds to wait for a connection"),
      sdk::Key("read.timeout")
          .integer()
          .def("300000")
          .range(0, 86400000)
          .doc("Milliseconds without an answer before the connection counts as lost (0: never)"),
      sdk::Key("read.only").boolean().def("false").doc("Open a read-only session"),
      sdk::Key("table").string().doc(
          "Table to read, name or schema.name (checked against the server's catalog)"),
      sdk::Key("columns.to.select")
          .string()
          .def("*")
          .doc("Comma-separated columns to read, or * for all"),
      sdk::Key("custom.query")
          .string()
          .doc("Query to run instead of table; $@$ is the last offset (a bound parameter), the "
               "first column the incremental value"),
      sdk::Key("incremental.column.name")
          .string()
          .doc("Column whose last value is the offset: an integer id or a timestamp (required "
               "with table)"),
      sdk::Key("tiebreaker.column.name")
          .string()
          .doc("Unique column ordering rows with equal incremental values (for timestamps)"),
      sdk::Key("start.from")
          .string()
          .def("0")
          .doc("Offset to start after when there is none saved; 0 reads a table from its "
               "first row"),
      sdk::Key("run.query.delay")
          .integer()
          .def("10000")
          .range(1, 86400000)
          .doc("Milliseconds to wait after a poll that found no new rows"),
      sdk::Key("batch.size")
          .integer()
          .def("100")
          .range(1, 1000000)
          .doc("Rows handed to the channels in one transaction"),
      sdk::Key("max.rows")
          .integer()
          .def("10000")
          .range(1, 100000000)
          .doc("Rows read per query (one page)"),
      sdk::Key("status.file.path")
          .string()
          .def("/var/lib/flume")
          .doc("Directory of the status file"),
      sdk::Key("status.file.name")
          .string()
          .doc("Status file name (required unless offset.table is set)"),
      sdk::Key("offset.table")
          .string()
          .doc("Keep the offset in this table on the server instead of a status file (created "
               "if missing)"),
      sdk::Key("format")
          .oneOf({"csv", "json", "body"})
          .doc("Event body: csv, json or body (default: body when body.column is set, else csv)"),
      sdk::Key("body.column")
          .string()
          .doc("Column that becomes the body (format body); the other columns become headers"),
      sdk::Key("delimiter.entry").string().def(",").doc("Field separator of the csv format"),
      sdk::Key("enclose.by.quotes")
          .boolean()
          .def("true")
          .doc("csv: quote every non-NULL value (false: only those that need it)"),
      sdk::Key("default.charset.resultset")
          .string()
          .def("UTF-8")
          .doc("Character set of the values read: UTF-8, ISO-8859-1, windows-1252, ..."),
  };
  return schema;
}

std::optional<std::string> serverCharset(Dialect dialect, const std::string& javaName) {
  std::string key;
  for (char c : lowerAscii(javaName))
    if (c != '-' && c != '_' && c != ' ') key += c;
  for (const auto& cs : kCharsets)
    if (key == cs.java) return std::string(dialect == Dialect::MySql ? cs.mysql : cs.postgres);
  return std::nullopt;
}

SqlSettings parseSettings(const sdk::Context& ctx) {
  SqlSettings s;
  s.path = ctx.path();
  const auto dot = s.path.rfind('.');
  s.sourceName = dot == std::string::npos ? s.path : s.path.substr(dot + 1);

  // ---- where ----
  auto url = either(ctx, "hibernate.connection.url", "connection.url");
  if (!url) ctx.fail("hibernate.connection.url", "is required but missing (or connection.url)");
  s.urlKey = url->first;
  try {
    s.url = parseJdbcUrl(url->second);
  } catch (const std::invalid_argument& e) {
    ctx.fail(s.urlKey, e.what());
  }
  const Dialect d = s.url.dialect;
  if (auto dialect = ctx.getString("hibernate.dialect"); dialect && !trimCopy(*dialect).empty()) {
    auto dd = dialectOfHibernateDialect(*dialect);
    if (!dd)
      ctx.fail("hibernate.dialect", "'" + *dialect +
                                        "' is not a MySQL, MariaDB or PostgreSQL "
                                        "dialect; the SQL source reads only those");
    if (*dd != d)
      ctx.fail("hibernate.dialect",
               "'" + *dialect + "' does not match " + s.urlKey + " (" + s.url.redacted() + ")");
  }
  if (auto driver = ctx.getString("hibernate.connection.driver_class");
      driver && !trimCopy(*driver).empty()) {
    auto dd = dialectOfDriverClass(trimCopy(*driver));
    if (!dd)
      ctx.fail("hibernate.connection.driver_class",
               "'" + *driver +
                   "' is not a MySQL, MariaDB or PostgreSQL JDBC driver (expected "
                   "com.mysql.cj.jdbc.Driver, com.mysql.jdbc.Driver, org.mariadb.jdbc.Driver or "
                   "org.postgresql.Driver)");
    if (*dd != d)
      ctx.fail("hibernate.connection.driver_class",
               "'" + *driver + "' does not match " + s.urlKey + " (" + s.url.redacted() + ")");
  }
  ConnectOptions& c = s.connect;
  c.host = s.url.host;
  c.port = s.url.port;
  c.database = s.url.database;
  auto user = either(ctx, "hibernate.connection.user", "connection.user");
  if (user)
    c.user = trimCopy(user->second);
  else if (s.url.user)
    c.user = *s.url.user;
  else
    ctx.fail("hibernate.connection.user",
             "is required but missing (or connection.user, or "
             "user= in the URL)");

  // The password: a file (preferred), a key, or the URL; never more than one of them.
  auto password = either(ctx, "hibernate.connection.password", "connection.password");
  s.passwordFile = trimCopy(ctx.getString("connection.password.file", ""));
  int sources = (password ? 1 : 0) + (s.url.password ? 1 : 0) + (s.passwordFile.empty() ? 0 : 1);
  if (sources > 1)
    ctx.fail(!s.passwordFile.empty() ? "connection.password.file" : password->first,
             "the password is given more than once (connection.password.file, a password key, "
             "the URL); keep one");
  if (password) s.password = password->second;
  if (s.url.password) {
    s.password = s.url.password;
    ctx.logger().warn(ctx.describe(s.urlKey),
                      ": the URL carries a password, which shows wherever the URL does; use "
                      "connection.password.file instead");
  }

  c.connectTimeoutMs = static_cast<int>(kDefaultConnectTimeout);
  c.readTimeoutMs = static_cast<int>(kDefaultReadTimeout);
  applyUrlParams(ctx, s);  // then the keys, which win over the URL
  if (ctx.getBoolean("ssl", false)) c.ssl = true;
  if (!ctx.getBoolean("ssl.verify", true)) c.sslVerify = false;
  if (auto v = ctx.getString("ssl.ca"); v && !v->empty()) c.sslCa = trimCopy(*v);
  if (auto v = ctx.getString("ssl.cert"); v && !v->empty()) c.sslCert = trimCopy(*v);
  if (auto v = ctx.getString("ssl.key"); v && !v->empty()) c.sslKey = trimCopy(*v);
  if (c.sslCert.empty() != c.sslKey.empty())
    ctx.fail(c.sslCert.empty() ? "ssl.key" : "ssl.cert", "ssl.cert and ssl.key go together");
  if (const int64_t t = ctx.getInteger("connect.timeout", kDefaultConnectTimeout);
      t != kDefaultConnectTimeout)
    c.connectTimeoutMs = static_cast<int>(t);
  if (const int64_t t = ctx.getInteger("read.timeout", kDefaultReadTimeout);
      t != kDefaultReadTimeout)
    c.readTimeoutMs = static_cast<int>(t);
  c.readOnly = ctx.getBoolean("read.only", false);
  // The key wins over the URL's characterEncoding unless it is left at its default.
  if (const std::string cs = trimCopy(ctx.getString("default.charset.resultset", "UTF-8"));
      lowerAscii(cs) != "utf-8" || s.charset.empty())
    s.charset = cs;
  auto serverName = serverCharset(d, s.charset);
  if (!serverName)
    ctx.fail("default.charset.resultset",
             "unknown character set '" + s.charset +
                 "' (expected UTF-8, ISO-8859-1, US-ASCII, "
                 "windows-1252, windows-1250, windows-1251, ISO-8859-2, ISO-8859-7, ISO-8859-9, "
                 "KOI8-R, GBK, GB2312, Big5, Shift_JIS, EUC-JP or EUC-KR)");
  c.charset = *serverName;

  // ---- what ----
  const std::string table = trimCopy(ctx.getString("table", ""));
  s.customQueryText = trimCopy(ctx.getString("custom.query", ""));
  if (table.empty() == s.customQueryText.empty())
    ctx.fail(table.empty() ? "table" : "custom.query",
             table.empty() ? "is required but missing (or custom.query)"
                           : "set either table or custom.query, not both");
  auto identifier = [&](const char* key, const char* what) -> std::optional<Identifier> {
    const std::string v = trimCopy(ctx.getString(key, ""));
    if (v.empty()) return std::nullopt;
    try {
      return parseIdentifier(v, what);
    } catch (const std::invalid_argument& e) {
      ctx.fail(key, e.what());
    }
  };
  s.incremental = identifier("incremental.column.name", "column name");
  s.tieBreaker = identifier("tiebreaker.column.name", "column name");
  s.bodyColumn = identifier("body.column", "column name");
  if (s.tieBreaker && s.incremental && sameName(*s.tieBreaker, s.incremental->text))
    ctx.fail("tiebreaker.column.name", "must differ from incremental.column.name");
  if (!table.empty()) {
    s.useTable = true;
    s.tableText = table;
    s.columnsText = trimCopy(ctx.getString("columns.to.select", "*"));
    try {
      s.table = parseTableName(table);
    } catch (const std::invalid_argument& e) {
      ctx.fail("table", e.what());
    }
    try {
      s.columns = parseColumnList(s.columnsText);
    } catch (const std::invalid_argument& e) {
      ctx.fail("columns.to.select", e.what());
    }
    if (!s.incremental)
      ctx.fail("incremental.column.name",
               "is required with table: sluice resumes after the last value of this column "
               "(an id or a timestamp), never by counting rows");
    if (s.table.schema.text.empty() && c.database.empty() && d == Dialect::MySql)
      ctx.fail("table", "names no database and " + s.urlKey +
                            " has none either: write database.table or add /database to the URL");
    auto listed = [&](const Identifier& id) {
      if (s.columns.empty()) return true;
      for (const Identifier& col : s.columns)
        if (sameName(id, col.text) || sameName(col, id.text)) return true;
      return false;
    };
    if (!listed(*s.incremental))
      ctx.fail("columns.to.select", "must include the incremental column '" + s.incremental->text +
                                        "' (its value is the offset)");
    if (s.tieBreaker && !listed(*s.tieBreaker))
      ctx.fail("columns.to.select",
               "must include the tie-breaker column '" + s.tieBreaker->text + "'");
    if (s.bodyColumn && !listed(*s.bodyColumn))
      ctx.fail("columns.to.select", "must include the body column '" + s.bodyColumn->text + "'");
  } else {
    if (ctx.containsKey("columns.to.select") &&
        trimCopy(ctx.getString("columns.to.select", "*")) != "*")
      ctx.fail("columns.to.select",
               "does not apply to custom.query (its SELECT names the columns)");
    if (s.tieBreaker)
      ctx.fail("tiebreaker.column.name",
               "applies to table only; a custom query orders its own rows (first column)");
    try {
      s.customQuery = bindCustomQuery(d, s.customQueryText, s.customPlaceholders);
    } catch (const std::invalid_argument& e) {
      ctx.fail("custom.query", e.what());
    }
  }
  s.startFrom = trimCopy(ctx.getString("start.from", "0"));
  if (s.startFrom.empty()) s.startFrom = "0";
  s.startFromBeginning = s.startFrom == "0";

  s.runQueryDelayMs = ctx.getInteger("run.query.delay", 10000);
  s.batchSize = static_cast<std::size_t>(ctx.getInteger("batch.size", 100));
  s.maxRows = static_cast<std::size_t>(ctx.getInteger("max.rows", 10000));
  if (s.runQueryDelayMs < 1) ctx.fail("run.query.delay", "must be >= 1");
  if (s.batchSize < 1) ctx.fail("batch.size", "must be >= 1");
  if (s.maxRows < 1) ctx.fail("max.rows", "must be >= 1");

  // ---- how it looks ----
  const std::string format = lowerAscii(trimCopy(ctx.getString("format", "")));
  if (format.empty())
    s.format.format = s.bodyColumn ? OutputFormat::Body : OutputFormat::Csv;
  else if (format == "csv")
    s.format.format = OutputFormat::Csv;
  else if (format == "json")
    s.format.format = OutputFormat::Json;
  else if (format == "body")
    s.format.format = OutputFormat::Body;
  else
    ctx.fail("format", "expected csv, json or body, got '" + format + "'");
  if (s.format.format == OutputFormat::Body && !s.bodyColumn)
    ctx.fail("body.column", "is required with format = body");
  if (s.format.format != OutputFormat::Body && s.bodyColumn)
    ctx.fail("body.column", "applies to format = body only");
  s.format.delimiter = ctx.getString("delimiter.entry", ",");
  if (s.format.delimiter.empty()) ctx.fail("delimiter.entry", "must not be empty");
  for (char ch : s.format.delimiter)
    if (ch == '"' || ch == '\r' || ch == '\n')
      ctx.fail("delimiter.entry", "must not contain a double quote, CR or LF");
  s.format.encloseByQuotes = ctx.getBoolean("enclose.by.quotes", true);

  // ---- where the offset lives ----
  s.statusDir = trimCopy(ctx.getString("status.file.path", "/var/lib/flume"));
  s.statusName = trimCopy(ctx.getString("status.file.name", ""));
  s.offsetTableText = trimCopy(ctx.getString("offset.table", ""));
  if (!s.offsetTableText.empty()) {
    try {
      s.offsetTable = parseTableName(s.offsetTableText);
    } catch (const std::invalid_argument& e) {
      ctx.fail("offset.table", e.what());
    }
    if (c.readOnly) ctx.fail("offset.table", "cannot be written in a read.only session");
    if (!s.statusName.empty())
      ctx.fail("status.file.name", "set either status.file.name or offset.table, not both");
  } else {
    if (s.statusName.empty())
      ctx.fail("status.file.name", "is required but missing (or offset.table)");
    if (s.statusName.find('/') != std::string::npos || s.statusName == "." || s.statusName == "..")
      ctx.fail("status.file.name", "must be a file name; the directory is status.file.path");
    if (s.statusDir.empty()) ctx.fail("status.file.path", "must not be empty");
  }
  return s;
}

}  // namespace sluice::plugins::sql
