// MySQL/MariaDB through libmariadb (Debian's libmariadb-dev, the MySQL protocol).
//
// Statements are server-side prepared statements (binary protocol); results are read without
// mysql_stmt_store_result, so rows stream from the socket one at a time and memory stays at one
// row whatever the page size. Integers and floating-point values are bound as such and printed
// here (std::to_chars); DECIMAL, temporal and string values are bound as strings, which
// libmariadb fills in the server's notation (a DATETIME(3) as "2024-01-31 12:00:00.123").
#include <errmsg.h>
#include <mysql.h>

#include <charconv>
#include <cstring>
#include <mutex>

#include "sql_backend.hpp"

namespace sluice::plugins::sql {
namespace {

// Server error numbers the source acts on (mysqld_error.h, not shipped by libmariadb-dev).
constexpr unsigned kServerShutdown = 1053;
constexpr unsigned kAccessDeniedDb = 1044;
constexpr unsigned kAccessDenied = 1045;
constexpr unsigned kBadDb = 1049;
constexpr unsigned kBadField = 1054;
constexpr unsigned kTableAccessDenied = 1142;
constexpr unsigned kColumnAccessDenied = 1143;
constexpr unsigned kNoSuchTable = 1146;
constexpr unsigned kLockWaitTimeout = 1205;
constexpr unsigned kLockDeadlock = 1213;
constexpr unsigned kUnknownStatement = 1243;
constexpr unsigned kNeedReprepare = 1615;
constexpr unsigned kConnectionKilled = 1927;
constexpr unsigned kQueryInterrupted = 1317;
constexpr unsigned kClientInteractionTimeout = 4031;

ErrorKind classify(unsigned code) {
  switch (code) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_IPSOCK_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_SERVER_HANDSHAKE_ERR:
    case CR_SSL_CONNECTION_ERROR:
    case CR_COMMANDS_OUT_OF_SYNC:
    case CR_ERR_NET_READ:
    case CR_ERR_NET_WRITE:
    case kServerShutdown:
    case kConnectionKilled:
    case kQueryInterrupted:
    case kClientInteractionTimeout:
    // A statement the server forgot (it restarted under a kept-alive socket, or a table's
    // definition changed): prepare it again on a fresh connection.
    case kUnknownStatement:
    case kNeedReprepare:
      return ErrorKind::Connection;
    case kLockWaitTimeout:
    case kLockDeadlock:
      return ErrorKind::Transient;
    case kNoSuchTable:
    case kBadField:
    case kBadDb:
      return ErrorKind::MissingObject;
    case kAccessDenied:
    case kAccessDeniedDb:
    case kTableAccessDenied:
    case kColumnAccessDenied:
      return ErrorKind::Auth;
    default:
      return ErrorKind::Query;
  }
}

[[noreturn]] void fail(MYSQL* m, const char* what) {
  const unsigned code = mysql_errno(m);
  throw SqlError(classify(code),
                 std::string(what) + ": " + mysql_error(m) + " (" + std::to_string(code) + ")",
                 std::to_string(code));
}

[[noreturn]] void fail(MYSQL_STMT* s, const char* what) {
  const unsigned code = mysql_stmt_errno(s);
  throw SqlError(classify(code),
                 std::string(what) + ": " + mysql_stmt_error(s) + " (" + std::to_string(code) + ")",
                 std::to_string(code));
}

// libmariadb initialises itself on the first mysql_init(), which is not thread-safe; two SQL
// sources may connect at once on their runner threads, so the first call is made once here.
void initLibrary() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

bool isBinaryCharset(const MYSQL_FIELD& f) { return f.charsetnr == 63; }

ColumnKind kindOf(const MYSQL_FIELD& f) {
  switch (f.type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR:
      return ColumnKind::Integer;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
      return ColumnKind::Decimal;
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
      return ColumnKind::Float;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP:
      return ColumnKind::Temporal;
    case MYSQL_TYPE_BIT:
    case MYSQL_TYPE_GEOMETRY:
      return ColumnKind::Binary;
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_VARCHAR:
      return isBinaryCharset(f) ? ColumnKind::Binary : ColumnKind::Text;
    default:
      return ColumnKind::Text;
  }
}

class MySqlStatement final : public Statement {
 public:
  MySqlStatement(MYSQL* mysql, const std::string& sql) : mysql_(mysql) {
    stmt_ = mysql_stmt_init(mysql);
    if (!stmt_) fail(mysql, "preparing a statement");
    if (mysql_stmt_prepare(stmt_, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
      SqlError e(classify(mysql_stmt_errno(stmt_)),
                 std::string("preparing the query: ") + mysql_stmt_error(stmt_) + " (" +
                     std::to_string(mysql_stmt_errno(stmt_)) + ")",
                 std::to_string(mysql_stmt_errno(stmt_)));
      mysql_stmt_close(stmt_);
      throw e;
    }
    paramCount_ = mysql_stmt_param_count(stmt_);
    if (MYSQL_RES* meta = mysql_stmt_result_metadata(stmt_)) {
      const unsigned n = mysql_num_fields(meta);
      const MYSQL_FIELD* fields = mysql_fetch_fields(meta);
      columns_.resize(n);
      slots_.resize(n);
      binds_.resize(n);
      for (unsigned i = 0; i < n; ++i) {
        columns_[i].name.assign(fields[i].name, fields[i].name_length);
        columns_[i].kind = kindOf(fields[i]);
        setUp(i, fields[i]);
      }
      mysql_free_result(meta);
    }
  }
  ~MySqlStatement() override {
    finish();
    if (stmt_) mysql_stmt_close(stmt_);
  }

  const std::vector<ColumnMeta>& columns() const noexcept override { return columns_; }

  void execute(const std::vector<Param>& params) override {
    finish();
    if (params.size() != paramCount_)
      throw SqlError(ErrorKind::Query, "the query has " + std::to_string(paramCount_) +
                                           " placeholders but " + std::to_string(params.size()) +
                                           " values were given");
    paramBinds_.assign(params.size(), MYSQL_BIND{});
    paramInts_.assign(params.size(), 0);
    paramLengths_.assign(params.size(), 0);
    for (std::size_t i = 0; i < params.size(); ++i) {
      MYSQL_BIND& b = paramBinds_[i];
      const std::string& v = params[i].value;
      int64_t n = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (params[i].integer && ec == std::errc() && end == v.data() + v.size()) {
        paramInts_[i] = n;
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.buffer = &paramInts_[i];
      } else {
        // Text (timestamps, strings, integers beyond 64 bits): the server converts it to the
        // compared column's type.
        paramLengths_[i] = static_cast<unsigned long>(v.size());
        b.buffer_type = MYSQL_TYPE_STRING;
        b.buffer = const_cast<char*>(v.data());
        b.buffer_length = paramLengths_[i];
        b.length = &paramLengths_[i];
      }
    }
    if (!paramBinds_.empty() && mysql_stmt_bind_param(stmt_, paramBinds_.data()) != 0)
      fail(stmt_, "binding the parameters");
    if (mysql_stmt_execute(stmt_) != 0) fail(stmt_, "running the query");
    executing_ = !binds_.empty();  // a statement without a result (an upsert) is done
    if (!binds_.empty() && mysql_stmt_bind_result(stmt_, binds_.data()) != 0)
      fail(stmt_, "binding the result");
  }

  bool next(Row& row) override {
    if (!executing_) return false;
    const int rc = mysql_stmt_fetch(stmt_);
    if (rc == MYSQL_NO_DATA) {
      finish();
      return false;
    }
    if (rc == 1) {
      executing_ = false;
      fail(stmt_, "reading a row");
    }
    if (rc == MYSQL_DATA_TRUNCATED) refetchTruncated();
    row.resize(slots_.size());
    for (std::size_t i = 0; i < slots_.size(); ++i) row[i] = cell(i);
    return true;
  }

  void finish() noexcept override {
    if (!executing_) return;
    executing_ = false;
    // Reads and discards what the server still sends of this result (at most one page).
    (void)mysql_stmt_free_result(stmt_);
  }

 private:
  enum class Slot { Signed, Unsigned, Float, Double, Bytes };
  struct Value {
    Slot slot = Slot::Bytes;
    std::vector<char> buffer;  // Bytes
    union {
      int64_t i;
      uint64_t u;
      float f;
      double d;
    } num{};
    char text[32];  // numbers printed
    unsigned long length = 0;
    my_bool isNull = 0;
    my_bool error = 0;
  };

  void setUp(unsigned i, const MYSQL_FIELD& f) {
    Value& v = slots_[i];
    MYSQL_BIND& b = binds_[i];
    b = MYSQL_BIND{};
    switch (columns_[i].kind) {
      case ColumnKind::Integer:
        v.slot = (f.flags & UNSIGNED_FLAG) ? Slot::Unsigned : Slot::Signed;
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.is_unsigned = (f.flags & UNSIGNED_FLAG) ? 1 : 0;
        b.buffer = &v.num;
        break;
      case ColumnKind::Float:
        v.slot = f.type == MYSQL_TYPE_FLOAT ? Slot::Float : Slot::Double;
        b.buffer_type = f.type == MYSQL_TYPE_FLOAT ? MYSQL_TYPE_FLOAT : MYSQL_TYPE_DOUBLE;
        b.buffer = &v.num;
        break;
      default:
        // Most values are short; a longer one is fetched again into a grown buffer.
        v.slot = Slot::Bytes;
        v.buffer.resize(f.length > 0 && f.length < 256 ? f.length + 1 : 256);
        b.buffer_type =
            columns_[i].kind == ColumnKind::Binary ? MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING;
        b.buffer = v.buffer.data();
        b.buffer_length = static_cast<unsigned long>(v.buffer.size());
        break;
    }
    b.length = &v.length;
    b.is_null = &v.isNull;
    b.error = &v.error;
  }

  void refetchTruncated() {
    bool rebind = false;
    for (unsigned i = 0; i < slots_.size(); ++i) {
      Value& v = slots_[i];
      if (v.slot != Slot::Bytes || !v.error || v.length <= v.buffer.size()) continue;
      v.buffer.resize(v.length);
      MYSQL_BIND& b = binds_[i];
      b.buffer = v.buffer.data();
      b.buffer_length = static_cast<unsigned long>(v.buffer.size());
      if (mysql_stmt_fetch_column(stmt_, &b, i, 0) != 0) fail(stmt_, "reading a long value");
      rebind = true;
    }
    if (rebind && mysql_stmt_bind_result(stmt_, binds_.data()) != 0)
      fail(stmt_, "binding the result");
  }

  Cell cell(std::size_t i) {
    Value& v = slots_[i];
    Cell c;
    if (v.isNull) return c;
    c.null = false;
    char* const first = v.text;
    char* const last = v.text + sizeof v.text;
    std::to_chars_result r{first, std::errc()};
    switch (v.slot) {
      case Slot::Signed:
        r = std::to_chars(first, last, v.num.i);
        break;
      case Slot::Unsigned:
        r = std::to_chars(first, last, v.num.u);
        break;
      case Slot::Float:
        r = std::to_chars(first, last, v.num.f);
        break;
      case Slot::Double:
        r = std::to_chars(first, last, v.num.d);
        break;
      case Slot::Bytes:
        c.data = v.buffer.data();
        c.size = v.length;
        return c;
    }
    c.data = first;
    c.size = static_cast<std::size_t>(r.ptr - first);
    return c;
  }

  MYSQL* mysql_;
  MYSQL_STMT* stmt_ = nullptr;
  unsigned long paramCount_ = 0;
  std::vector<ColumnMeta> columns_;
  std::vector<Value> slots_;
  std::vector<MYSQL_BIND> binds_;
  std::vector<MYSQL_BIND> paramBinds_;
  std::vector<int64_t> paramInts_;
  std::vector<unsigned long> paramLengths_;
  bool executing_ = false;
};

class MySqlConnection final : public Connection {
 public:
  MySqlConnection() { initLibrary(); }
  ~MySqlConnection() override { close(); }

  Dialect dialect() const noexcept override { return Dialect::MySql; }

  void connect(const ConnectOptions& o) override {
    close();
    mysql_ = mysql_init(nullptr);
    if (!mysql_) throw SqlError(ErrorKind::Connection, "mysql_init failed (out of memory)");
    const unsigned connectTimeout = static_cast<unsigned>((o.connectTimeoutMs + 999) / 1000);
    const unsigned readTimeout = static_cast<unsigned>((o.readTimeoutMs + 999) / 1000);
    const my_bool no = 0;
    const my_bool yes = 1;
    mysql_options(mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &connectTimeout);
    if (readTimeout > 0) {
      mysql_options(mysql_, MYSQL_OPT_READ_TIMEOUT, &readTimeout);
      mysql_options(mysql_, MYSQL_OPT_WRITE_TIMEOUT, &readTimeout);
    }
    // The source reconnects itself, so that it knows and logs it, and prepares again.
    mysql_options(mysql_, MYSQL_OPT_RECONNECT, &no);
    mysql_options(mysql_, MYSQL_SET_CHARSET_NAME, o.charset.c_str());
    mysql_optionsv(mysql_, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "sluice");
    if (o.ssl) {
      mysql_options(mysql_, MYSQL_OPT_SSL_ENFORCE, &yes);
      mysql_options(mysql_, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, o.sslVerify ? &yes : &no);
      if (!o.sslCa.empty()) mysql_options(mysql_, MYSQL_OPT_SSL_CA, o.sslCa.c_str());
      if (!o.sslCert.empty()) mysql_options(mysql_, MYSQL_OPT_SSL_CERT, o.sslCert.c_str());
      if (!o.sslKey.empty()) mysql_options(mysql_, MYSQL_OPT_SSL_KEY, o.sslKey.c_str());
    }
    if (!mysql_real_connect(mysql_, o.host.c_str(), o.user.c_str(), o.password.c_str(),
                            o.database.empty() ? nullptr : o.database.c_str(),
                            static_cast<unsigned>(o.port), nullptr, 0)) {
      const unsigned code = mysql_errno(mysql_);
      SqlError e(
          classify(code),
          std::string("connecting: ") + mysql_error(mysql_) + " (" + std::to_string(code) + ")",
          std::to_string(code));
      close();
      throw e;
    }
    if (o.readOnly) {
      const char* q = "SET SESSION TRANSACTION READ ONLY";
      if (mysql_real_query(mysql_, q, std::strlen(q)) != 0)
        fail(mysql_, "making the session read-only");
    }
  }

  void close() noexcept override {
    if (mysql_) mysql_close(mysql_);
    mysql_ = nullptr;
  }

  bool isOpen() const noexcept override { return mysql_ != nullptr; }

  std::string serverVersion() const override {
    if (!mysql_) return "";
    std::string v = mysql_get_server_info(mysql_);
    // MariaDB reports e.g. "10.11.19-MariaDB-0+deb12u1".
    const auto dash = v.find("-MariaDB");
    if (dash != std::string::npos) return "MariaDB " + v.substr(0, dash);
    return "MySQL " + v;
  }

  std::unique_ptr<Statement> prepare(const std::string& sql) override {
    if (!mysql_) throw SqlError(ErrorKind::Connection, "not connected");
    return std::make_unique<MySqlStatement>(mysql_, sql);
  }

 private:
  MYSQL* mysql_ = nullptr;
};

}  // namespace

std::unique_ptr<Connection> makeMySqlConnection() { return std::make_unique<MySqlConnection>(); }

}  // namespace sluice::plugins::sql
