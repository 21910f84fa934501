// The SQL source against real servers: MariaDB and PostgreSQL, started by
// tests/support/sql_servers.py --run, which passes their addresses in SLUICE_TEST_MYSQL_* and
// SLUICE_TEST_PG_*. Each case runs on both. What reaches the channels (a RecordingProcessor) is
// compared with what the tables hold: counts, contents, nothing lost, nothing twice.
#include "sql_source.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "source_test_support.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using namespace sluice::plugins::sql;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::RecordingProcessor;
using namespace std::chrono_literals;

namespace {

using KV = std::vector<std::pair<std::string, std::string>>;

struct Server {
  Dialect dialect;
  std::string name, url, user, password, database;
  bool mysql() const { return dialect == Dialect::MySql; }
};

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::vector<Server> servers() {
  std::vector<Server> out;
  for (auto [prefix, d] : {std::pair{"SLUICE_TEST_MYSQL", Dialect::MySql},
                           std::pair{"SLUICE_TEST_PG", Dialect::Postgres}}) {
    const std::string p = prefix;
    const std::string url = env((p + "_URL").c_str());
    REQUIRE_MESSAGE(!url.empty(), p << "_URL is not set: run this test through "
                                       "tests/support/sql_servers.py --run (meson test does)");
    out.push_back(Server{d, d == Dialect::MySql ? "mariadb" : "postgresql", url,
                         env((p + "_USER").c_str()), env((p + "_PASSWORD").c_str()),
                         env((p + "_DATABASE").c_str())});
  }
  return out;
}

// A connection of the test's own (the app user), for DDL and data.
struct Db {
  std::unique_ptr<Connection> conn;
  explicit Db(const Server& s) : conn(makeConnection(s.dialect)) {
    JdbcUrl u = parseJdbcUrl(s.url);
    ConnectOptions o;
    o.host = u.host;
    o.port = u.port;
    o.database = u.database;
    o.user = s.user;
    o.password = s.password;
    o.charset = s.mysql() ? "utf8mb4" : "UTF8";
    conn->connect(o);
  }
  void exec(const std::string& sql) {
    auto st = conn->prepare(sql);
    st->execute({});
    Row r;
    while (st->next(r)) {
    }
  }
  std::vector<std::vector<std::string>> query(const std::string& sql) {
    auto st = conn->prepare(sql);
    st->execute({});
    std::vector<std::vector<std::string>> out;
    Row r;
    while (st->next(r)) {
      out.emplace_back();
      for (const Cell& c : r) out.back().push_back(c.null ? "<NULL>" : std::string(c.view()));
    }
    return out;
  }
};

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/sluice-sql-test-XXXXXX";
    REQUIRE(::mkdtemp(t));
    path = t;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// A source wired to a RecordingProcessor.
struct Harness {
  RecordingProcessor processor;
  CaptureLogger log;
  SqlSource source;

  Harness(const Server& s, const KV& extra, bool start = true) {
    KV kv{{"hibernate.connection.url", s.url},
          {"hibernate.connection.user", s.user},
          {"hibernate.connection.password", s.password},
          {"run.query.delay", "10"}};
    for (const auto& p : extra) {
      std::erase_if(kv, [&](const auto& q) { return q.first == p.first; });
      kv.push_back(p);
    }
    sdk::Context ctx("a1.sources.r1");
    for (const auto& [k, v] : kv) ctx.put(k, v);
    ctx.setLogger(&log);
    sdk::HostAccess::attach(source, "r1", &log);
    sdk::HostAccess::setChannelProcessor(source, &processor);
    sdk::Result r = sdk::HostAccess::configure(source, ctx);
    REQUIRE_MESSAGE(r.ok(), r.error());
    if (start) {
      r = sdk::HostAccess::start(source);
      REQUIRE_MESSAGE(r.ok(), r.error());
    }
  }
  ~Harness() { (void)sdk::HostAccess::stop(source); }

  int64_t counter(const char* name) {
    auto v = source.sourceCounter().get(name);
    REQUIRE_MESSAGE(v.has_value(), name);
    return *v;
  }
  // Calls process() until `n` events were accepted (60 s at most).
  void pumpUntil(std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (processor.count() < n) {
      (void)sdk::HostAccess::process(source);
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                      "only " << processor.count() << " of " << n << " events:\n"
                              << log.text());
    }
  }
  // Calls process() until a poll finds nothing new (the table is drained).
  void drain() {
    const int64_t before = counter("EmptyPollCount");
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (counter("EmptyPollCount") == before) {
      (void)sdk::HostAccess::process(source);
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, log.text());
    }
  }
};

KV plus(KV kv, const KV& more) {
  kv.insert(kv.end(), more.begin(), more.end());
  return kv;
}

// The numbers 1..n as strings.
std::vector<std::string> ids(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back(std::to_string(i));
  return out;
}

// The first CSV field of every body, unquoted (the id in these tests).
std::vector<std::string> firstFields(const std::vector<std::string>& bodies) {
  std::vector<std::string> out;
  for (const std::string& b : bodies) {
    std::string f = b.substr(0, b.find(','));
    if (f.size() >= 2 && f.front() == '"') f = f.substr(1, f.size() - 2);
    out.push_back(f);
  }
  return out;
}

void numbers(Db& db, const Server& s, const std::string& table, int from, int to) {
  if (s.mysql())
    db.exec("INSERT INTO " + table + " SELECT seq, CONCAT('name-', seq) FROM seq_" +
            std::to_string(from) + "_to_" + std::to_string(to));
  else
    db.exec("INSERT INTO " + table + " SELECT g, 'name-' || g FROM generate_series(" +
            std::to_string(from) + ", " + std::to_string(to) + ") g");
}

}  // namespace

TEST_CASE("a table is imported exactly, in batches, and new rows follow") {
  for (const Server& s : servers()) {
    CAPTURE(s.name);
    Db db(s);
    db.exec("DROP TABLE IF EXISTS imp");
    db.exec("CREATE TABLE imp (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)");
    numbers(db, s, "imp", 1, 2500);
    TempDir dir;
    Harness h(s, {{"table", "imp"},
                  {"incremental.column.name", "id"},
                  {"batch.size", "100"},
                  {"max.rows", "700"},
                  {"status.file.path", dir.path},
                  {"status.file.name", "imp.status"}});
    // A page with rows asks to be called again at once; only an empty one waits
    // run.query.delay.
    CHECK(sdk::HostAccess::process(h.source).status == sdk::Status::READY);
    h.pumpUntil(2500);
    h.drain();
    CHECK(h.source.getBackOffSleepIncrement() == 10);
    CHECK(h.source.getMaxBackOffSleepInterval() == 10);
    CHECK(firstFields(h.processor.snapshot()) == ids(1, 2500));  // in order, once each
    CHECK(h.processor.snapshot()[0] == "\"1\",\"name-1\"");
    for (std::size_t b : h.processor.batchSizes()) CHECK(b <= 100);
    CHECK(h.counter("RowsReadCount") == 2500);
    CHECK(h.counter("EventAcceptedCount") == 2500);
    CHECK(h.counter("PollCount") >= 4);  // pages of 700
    CHECK(h.counter("CurrentOffsetGauge") == 2500);
    CHECK(h.counter("ConnectedGauge") == 1);
    CHECK(h.log.has("connected to "));
    // keedio's status file layout, with the last committed id.
    std::ifstream in(dir.path + "/imp.status");
    std::string status((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(status.find("\"SourceName\":\"r1\"") != std::string::npos);
    CHECK(status.find("\"Table\":\"imp\"") != std::string::npos);
    CHECK(status.find("\"LastIndex\":\"2500\"") != std::string::npos);
    CHECK(status.find(s.password) == std::string::npos);

    numbers(db, s, "imp", 2501, 2600);  // rows inserted while it runs arrive
    h.pumpUntil(2600);
    h.drain();
    CHECK(firstFields(h.processor.snapshot()) == ids(1, 2600));

    // A new source (a restart) resumes after the status file's offset.
    numbers(db, s, "imp", 2601, 2650);
    Harness again(s, {{"table", "imp"},
                      {"incremental.column.name", "id"},
                      {"status.file.path", dir.path},
                      {"status.file.name", "imp.status"}});
    again.pumpUntil(50);
    again.drain();
    CHECK(firstFields(again.processor.snapshot()) == ids(2601, 2650));
    CHECK(again.log.has("reading after id 2600"));
  }
}

TEST_CASE("a batch the channels refuse is read again: nothing lost, nothing twice") {
  for (const Server& s : servers()) {
    CAPTURE(s.name);
    Db db(s);
    db.exec("DROP TABLE IF EXISTS refuse");
    db.exec("CREATE TABLE refuse (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)");
    numbers(db, s, "refuse", 1, 1000);
    TempDir dir;
    Harness h(s, {{"table", "refuse"},
                  {"incremental.column.name", "id"},
                  {"batch.size", "50"},
                  {"max.rows", "400"},
                  {"status.file.path", dir.path},
                  {"status.file.name", "r.status"}});
    int accepted = 0;
    h.processor.onBatch = [&] {
      if (++accepted == 3) h.processor.refuse = true;  // full after 150 rows, mid-page
    };
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (h.processor.refusedCalls < 3) {
      (void)sdk::HostAccess::process(h.source);
      REQUIRE(std::chrono::steady_clock::now() < deadline);
    }
    CHECK(h.processor.count() == 150);
    CHECK(h.source.committedOffset()->value == "150");
    CHECK(
        h.log.has("the channels refused a batch of 50 rows (channel c1 is full); reading them "
                  "again after id 150"));
    h.processor.refuse = false;
    h.pumpUntil(1000);
    h.drain();
    CHECK(firstFields(h.processor.snapshot()) == ids(1, 1000));
    CHECK(h.counter("ChannelWriteFail") == 3);
  }
}

TEST_CASE("timestamps with ties: a tie-breaker keeps every row across batch boundaries") {
  for (const Server& s : servers()) {
    CAPTURE(s.name);
    Db db(s);
    db.exec("DROP TABLE IF EXISTS ties");
    db.exec(std::string("CREATE TABLE ties (id INT PRIMARY KEY, ts ") +
            (s.mysql() ? "DATETIME(3)" : "TIMESTAMP(3)") + " NOT NULL, v VARCHAR(10))");
    // Groups of 7 rows share a timestamp; batches of 3 and pages of 10 cut through them.
    db.exec(s.mysql()
                ? "INSERT INTO ties SELECT seq, TIMESTAMP('2024-01-01 00:00:00.123') + INTERVAL "
                  "(seq DIV 7) SECOND, 'x' FROM seq_1_to_50"
                : "INSERT INTO ties SELECT g, TIMESTAMP '2024-01-01 00:00:00.123' + (g / 7) * "
                  "INTERVAL '1 second', 'x' FROM generate_series(1, 50) g");
    TempDir dir;
    KV kv{{"table", "ties"},
          {"incremental.column.name", "ts"},
          {"tiebreaker.column.name", "id"},
          {"columns.to.select", "id, ts, v"},
          {"batch.size", "3"},
          {"max.rows", "10"},
          {"status.file.path", dir.path},
          {"status.file.name", "t.status"},
          {"enclose.by.quotes", "false"}};
    {
      Harness h(s, kv);
      h.pumpUntil(50);
      h.drain();
      CHECK(firstFields(h.processor.snapshot()) == ids(1, 50));
      CHECK(h.processor.snapshot()[0] == "1,2024-01-01 00:00:00.123,x");
      CHECK(h.source.committedOffset()->value == "2024-01-01 00:00:07.123");
      CHECK(h.source.committedOffset()->tie == "50");
      CHECK(h.counter("CurrentOffsetGauge") == 1704067207123);
      CHECK_FALSE(h.log.has("no tiebreaker.column.name is set"));
    }
    // After a restart, a new row with the last timestamp but a higher id arrives; none repeats.
    db.exec("INSERT INTO ties VALUES (51, '2024-01-01 00:00:07.123', 'y')");
    Harness h(s, kv);
    h.pumpUntil(1);
    h.drain();
    CHECK(h.processor.snapshot() == std::vector<std::string>{"51,2024-01-01 00:00:07.123,y"});
    std::ifstream in(dir.path + "/t.status");
    std::string status((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(status.find("\"LastTieBreaker\":\"51\"") != std::string::npos);
    // Without a tie-breaker the source warns at start.
    Harness warned(s, {{"table", "ties"},
                       {"incremental.column.name", "ts"},
                       {"status.file.path", dir.path},
                       {"status.file.name", "w.status"}});
    warned.pumpUntil(51);
    CHECK(warned.log.has("no tiebreaker.column.name is set"));
  }
}

TEST_CASE("NULLs, unicode, emoji, binary and a 1 MB text column, in csv, json and body") {
  for (const Server& s : servers()) {
    CAPTURE(s.name);
    Db db(s);
    db.exec("DROP TABLE IF EXISTS types");
    if (s.mysql())
      db.exec(
          "CREATE TABLE types (id INT PRIMARY KEY, s VARCHAR(100), b VARBINARY(20), "
          "d DECIMAL(10,2), f DOUBLE, ts DATETIME(3), big LONGTEXT) CHARSET utf8mb4");
    else
      db.exec(
          "CREATE TABLE types (id INT PRIMARY KEY, s VARCHAR(100), b BYTEA, d NUMERIC(10,2), "
          "f DOUBLE PRECISION, ts TIMESTAMP(3), big TEXT)");
    const std::string bin = s.mysql() ? "x'00FF10'" : "decode('00ff10', 'hex')";
    const std::string big = s.mysql() ? "REPEAT('x', 1048576)" : "repeat('x', 1048576)";
    db.exec("INSERT INTO types VALUES (1, '', " + bin +
            ", 10.50, 1.5, '2024-01-31 12:00:00.123', NULL)");
    db.exec(
        "INSERT INTO types VALUES (2, 'h\u00e9llo w\u00f6rld \U0001F600 \u65e5\u672c, "
        "\"q\"\nline2', "
        "NULL, -0.01, NULL, NULL, " +
        big + ")");
    db.exec("INSERT INTO types VALUES (3, NULL, NULL, NULL, NULL, NULL, '')");
    TempDir dir;
    KV base{{"table", "types"}, {"incremental.column.name", "id"}, {"status.file.path", dir.path}};

    Harness csv(s, plus(base, {{"status.file.name", "csv.status"}}));
    csv.pumpUntil(3);
    auto rows = csv.processor.snapshot();
    CHECK(rows[0] == "\"1\",\"\",\"AP8Q\",\"10.50\",\"1.5\",\"2024-01-31 12:00:00.123\",");
    CHECK(rows[1] ==
          "\"2\",\"h\u00e9llo w\u00f6rld \U0001F600 \u65e5\u672c, "
          "\"\"q\"\"\nline2\",,\"-0.01\",,,\"" +
              std::string(1048576, 'x') + "\"");
    CHECK(rows[2] == "\"3\",,,,,,\"\"");  // NULLs empty, the empty string ""

    Harness json(s, plus(base, {{"status.file.name", "json.status"}, {"format", "json"}}));
    json.pumpUntil(3);
    rows = json.processor.snapshot();
    CHECK(rows[0] ==
          "{\"id\":1,\"s\":\"\",\"b\":\"AP8Q\",\"d\":10.50,\"f\":1.5,"
          "\"ts\":\"2024-01-31 12:00:00.123\",\"big\":null}");
    CHECK(rows[1] ==
          "{\"id\":2,\"s\":\"h\u00e9llo w\u00f6rld \U0001F600 \u65e5\u672c, \\\"q\\\"\\nline2\","
          "\"b\":null,\"d\":-0.01,\"f\":null,\"ts\":null,\"big\":\"" +
              std::string(1048576, 'x') + "\"}");
    CHECK(rows[2] ==
          "{\"id\":3,\"s\":null,\"b\":null,\"d\":null,\"f\":null,\"ts\":null,\"big\":\"\"}");

    Harness body(s, plus(base, {{"status.file.name", "body.status"}, {"body.column", "big"}}));
    body.pumpUntil(3);
    rows = body.processor.snapshot();
    CHECK(rows[0].empty());
    CHECK(body.processor.headersOf(0).get("sql.null") == "big");
    CHECK(body.processor.headersOf(0).get("b") == "AP8Q");
    CHECK(body.processor.headersOf(0).get("s").empty());
    CHECK(body.processor.headersOf(0).contains("s"));
    CHECK(rows[1] == std::string(1048576, 'x'));
    CHECK_FALSE(body.processor.headersOf(1).contains("b"));
    CHECK(rows[2].empty());
    CHECK_FALSE(body.processor.headersOf(2).contains("sql.null"));  // '' is not NULL
  }
}

TEST_CASE("default.charset.resultset: text arrives in the configured character set") {
  for (const Server& s : servers()) {
    CAPTURE(s.name);
    Db db(s);
    db.exec("DROP TABLE IF EXISTS latin");
    db.exec("CREATE TABLE latin (id INT PRIMARY KEY, s VARCHAR(20))");
    db.exec("INSERT INTO latin VALUES (1, 'h\u00e9llo \u00fc')");  // stored as UTF-8
    TempDir dir;
    Harness h(s, {{"table", "latin"},
                  {"incremental.column.name", "id"},
                  {"default.charset.resultset", "ISO-8859-1"},
                  {"status.file.path", dir.path},
                  {"status.file.name", "l.status"},
                  {"enclose.by.quotes", "false"}});
    h.pumpUntil(1);
    CHECK(h.processor.snapshot() == std::vector<std::string>{"1,h\xe9llo \xfc"});
  }
}

TEST_CASE("custom.query with $@$ as a bound parameter, and the offset kept in a table") {
  for (const Server& s : servers()) {
    CAPTURE(s.name);
    Db db(s);
    db.exec("DROP TABLE IF EXISTS cq");
    db.exec("DROP TABLE IF EXISTS sluice_offsets");
    db.exec("CREATE TABLE cq (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)");
    numbers(db, s, "cq", 1, 300);
    KV kv{{"custom.query", "SELECT name, id FROM cq WHERE id > $@$ AND name <> 'name-7'"},
          {"incremental.column.name", "id"},
          {"offset.table", "sluice_offsets"},
          {"batch.size", "40"},
          {"max.rows", "100"},
          {"format", "json"}};
    {
      Harness h(s, kv);
      h.pumpUntil(299);
      h.drain();
      auto rows = h.processor.snapshot();
      REQUIRE(rows.size() == 299);
      CHECK(rows[0] == "{\"name\":\"name-1\",\"id\":1}");
      CHECK(rows[6] == "{\"name\":\"name-8\",\"id\":8}");
      CHECK(rows.back() == "{\"name\":\"name-300\",\"id\":300}");
      CHECK(db.query("SELECT last_index FROM sluice_offsets WHERE source_name = 'a1.sources.r1'") ==
            std::vector<std::vector<std::string>>{{"300"}});
    }
    numbers(db, s, "cq", 301, 310);
    Harness h(s, kv);
    h.pumpUntil(10);
    h.drain();
    CHECK(h.processor.count() == 10);
    CHECK(h.processor.snapshot().front() == "{\"name\":\"name-301\",\"id\":301}");
  }
}

TEST_CASE("connection killed by the server, table dropped: reconnect, log, continue") {
  for (const Server& s : servers()) {
    CAPTURE(s.name);
    Db db(s);
    db.exec("DROP TABLE IF EXISTS lost");
    db.exec("CREATE TABLE lost (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)");
    numbers(db, s, "lost", 1, 500);
    TempDir dir;
    Harness h(s, {{"table", "lost"},
                  {"incremental.column.name", "id"},
                  {"batch.size", "100"},
                  {"status.file.path", dir.path},
                  {"status.file.name", "l.status"}});
    h.pumpUntil(500);
    h.drain();
    // The server ends the source's session.
    if (s.mysql()) {
      for (const auto& row : db.query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = "
                                      "'app' AND ID <> CONNECTION_ID()"))
        db.exec("KILL " + row[0]);
    } else {
      db.exec(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
          "'sluice' AND pid <> pg_backend_pid()");
    }
    numbers(db, s, "lost", 501, 600);
    h.pumpUntil(600);
    h.drain();
    CHECK(firstFields(h.processor.snapshot()) == ids(1, 600));
    CHECK(h.log.has("lost the connection to "));
    CHECK(h.log.has("reading resumes after id 500"));
    CHECK(h.counter("ReconnectCount") == 1);

    // The table is dropped: errors, not ready, no crash; it comes back and reading resumes.
    db.exec("DROP TABLE lost");
    for (int i = 0; i < 3; ++i) (void)sdk::HostAccess::process(h.source);
    CHECK(h.counter("ConnectedGauge") == 0);
    CHECK(h.log.has("table 'lost' does not exist"));
    db.exec("CREATE TABLE lost (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)");
    numbers(db, s, "lost", 590, 650);  // ids up to 600 were read before: only 601.. are new
    h.pumpUntil(650);
    h.drain();
    CHECK(firstFields(h.processor.snapshot()) == ids(1, 650));
    CHECK(h.counter("ConnectedGauge") == 1);
  }
}

TEST_CASE("names are looked up in the catalog and quoted; errors say what is wrong") {
  for (const Server& s : servers()) {
    CAPTURE(s.name);
    Db db(s);
    const char q = s.mysql() ? '`' : '"';
    auto quoted = [&](const std::string& n) { return std::string(1, q) + n + q; };
    db.exec("DROP TABLE IF EXISTS " + quoted("order lines"));
    db.exec("CREATE TABLE " + quoted("order lines") + " (" + quoted("line id") +
            " INT PRIMARY KEY, " + quoted("note-text") + " VARCHAR(20), Extra INT)");
    db.exec("INSERT INTO " + quoted("order lines") + " VALUES (1, 'a', 5), (2, 'b', 6)");
    TempDir dir;
    Harness h(s, {{"table", quoted("order lines")},
                  {"columns.to.select", quoted("line id") + ", " + quoted("note-text") + ", EXTRA"},
                  {"incremental.column.name", quoted("line id")},
                  {"status.file.path", dir.path},
                  {"status.file.name", "q.status"},
                  {"enclose.by.quotes", "false"}});
    h.pumpUntil(2);
    CHECK(h.processor.snapshot() == std::vector<std::string>{"1,a,5", "2,b,6"});

    Harness missing(s, {{"table", "no_such_table"},
                        {"incremental.column.name", "id"},
                        {"status.file.path", dir.path},
                        {"status.file.name", "m.status"}});
    (void)sdk::HostAccess::process(missing.source);
    CHECK(missing.log.has("table 'no_such_table' does not exist"));
    CHECK(missing.counter("ConnectedGauge") == 0);
    Harness badColumn(s, {{"table", "imp"},
                          {"incremental.column.name", "nope"},
                          {"status.file.path", dir.path},
                          {"status.file.name", "c.status"}});
    (void)sdk::HostAccess::process(badColumn.source);
    CHECK(badColumn.log.has("has no column 'nope'"));
  }
}

TEST_CASE("a wrong password: a clear error without the password, no crash, not ready") {
  for (const Server& s : servers()) {
    CAPTURE(s.name);
    TempDir dir;
    const std::string wrong = "Wr0ng-pa55word";
    { std::ofstream(dir.path + "/pw") << wrong << "\n"; }
    Harness h(s, {{"table", "imp"},
                  {"incremental.column.name", "id"},
                  {"hibernate.connection.password", ""},
                  {"connection.password.file", dir.path + "/pw"},
                  {"status.file.path", dir.path},
                  {"status.file.name", "p.status"}});
    for (int i = 0; i < 2; ++i) CHECK(sdk::HostAccess::process(h.source).status == sdk::Status::BACKOFF);
    CHECK(h.log.has("cannot log in to "));
    CHECK(h.log.has(s.mysql() ? "Access denied for user 'app'" : "password authentication failed"));
    CHECK_FALSE(h.log.has(wrong));
    CHECK(h.counter("ConnectedGauge") == 0);
    CHECK(h.counter("ErrorCount") == 2);
    CHECK(h.source.getMaxBackOffSleepInterval() == 1000);  // 0.5 s, then 1 s, ...
    // The password file is read at every attempt: fixing it needs no restart.
    { std::ofstream(dir.path + "/pw") << s.password << "\n"; }
    h.pumpUntil(1);
    CHECK(h.counter("ConnectedGauge") == 1);
  }
}

TEST_CASE("start and stop are safe to repeat; a status file for another table is refused") {
  for (const Server& s : servers()) {
    CAPTURE(s.name);
    TempDir dir;
    {
      Harness h(s,
                {{"table", "imp"},
                 {"incremental.column.name", "id"},
                 {"max.rows", "10"},
                 {"status.file.path", dir.path},
                 {"status.file.name", "s.status"}},
                false);
      CHECK(sdk::HostAccess::start(h.source).ok());
      CHECK(sdk::HostAccess::start(h.source).ok());
      h.pumpUntil(10);
      CHECK(sdk::HostAccess::stop(h.source).ok());
      CHECK(sdk::HostAccess::stop(h.source).ok());
      CHECK(sdk::HostAccess::start(h.source).ok());
      h.pumpUntil(20);
      CHECK(firstFields(h.processor.snapshot()) == ids(1, 20));
    }
    Harness other(s,
                  {{"table", "types"},
                   {"incremental.column.name", "id"},
                   {"status.file.path", dir.path},
                   {"status.file.name", "s.status"}},
                  false);
    sdk::Result r = sdk::HostAccess::start(other.source);
    CHECK_FALSE(r.ok());
    CHECK(r.error().find("was written for another reading: its Table is 'imp', this source's "
                         "is 'types'") != std::string::npos);
    // keedio's table mode counted rows: its file is refused too.
    {
      std::ofstream(dir.path + "/k.status")
          << R"({"SourceName":"r1","URL":"x","LastIndex":"40","Table":"imp","ColumnsToSelect":"*"})";
    }
    Harness keedio(s,
                   {{"table", "imp"},
                    {"incremental.column.name", "id"},
                    {"status.file.path", dir.path},
                    {"status.file.name", "k.status"}},
                   false);
    r = sdk::HostAccess::start(keedio.source);
    CHECK(r.error().find("comes from keedio's table mode") != std::string::npos);
  }
}
