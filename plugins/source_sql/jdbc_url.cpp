#include "jdbc_url.hpp"

#include <charconv>
#include <stdexcept>

#include "text.hpp"

namespace sluice::plugins::sql {
namespace {

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; `what` names the part for the error ("the password" is never echoed).
std::string decode(std::string_view s, const char* what) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    const int hi = i + 2 < s.size() ? hexDigit(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? hexDigit(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) throw std::invalid_argument(std::string("bad percent-escape in ") + what);
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace

std::string JdbcUrl::redacted() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "jdbc:" + scheme + "://" + h + ":" + std::to_string(port) + "/" + database;
}

std::string JdbcUrl::display() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(dialect == Dialect::MySql ? "mysql" : "postgresql") + "://" + h + ":" +
         std::to_string(port) + "/" + database;
}

const std::string* JdbcUrl::param(std::string_view name) const {
  const std::string want = lowerAscii(name);
  for (const auto& [k, v] : params)
    if (lowerAscii(k) == want) return &v;
  return nullptr;
}

JdbcUrl parseJdbcUrl(std::string_view url) {
  JdbcUrl u;
  std::string_view rest = url;
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  if (!startsWith(lowerAscii(rest.substr(0, 5)), "jdbc:"))
    throw std::invalid_argument(
        "expected a JDBC URL such as jdbc:mysql://host:3306/database or "
        "jdbc:postgresql://host:5432/database");
  rest.remove_prefix(5);
  const auto colon = rest.find(':');
  if (colon == std::string_view::npos) throw std::invalid_argument("no database type after jdbc:");
  u.scheme = lowerAscii(rest.substr(0, colon));
  rest.remove_prefix(colon + 1);
  if (u.scheme == "mysql" || u.scheme == "mariadb") {
    u.dialect = Dialect::MySql;
    u.port = 3306;
  } else if (u.scheme == "postgresql") {
    u.dialect = Dialect::Postgres;
    u.port = 5432;
  } else {
    throw std::invalid_argument("jdbc:" + u.scheme +
                                " is not supported; the SQL source reads MySQL/MariaDB "
                                "(jdbc:mysql:, jdbc:mariadb:) and PostgreSQL (jdbc:postgresql:)");
  }

  // Query parameters first: everything after '?'.
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    std::string_view query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    while (!query.empty()) {
      const auto amp = query.find('&');
      std::string_view item = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (item.empty()) continue;
      const auto eq = item.find('=');
      std::string key = decode(item.substr(0, eq), "a parameter name");
      const bool secret = lowerAscii(key) == "password";
      std::string value =
          eq == std::string_view::npos
              ? std::string()
              : decode(item.substr(eq + 1), secret ? "the password" : "a parameter");
      if (lowerAscii(key) == "user")
        u.user = std::move(value);
      else if (secret)
        u.password = std::move(value);
      else
        u.params.emplace_back(std::move(key), std::move(value));
    }
  }

  if (!startsWith(rest, "//")) {
    // jdbc:postgresql:database means localhost:5432.
    if (u.dialect == Dialect::Postgres && !rest.empty() &&
        rest.find('/') == std::string_view::npos) {
      u.host = "localhost";
      u.database = decode(rest, "the database name");
      return u;
    }
    const auto colon2 = rest.find(':');
    if (colon2 != std::string_view::npos && rest.substr(0, 2) != "//")
      throw std::invalid_argument("jdbc:" + u.scheme + ":" + std::string(rest.substr(0, colon2)) +
                                  ": connection modes (loadbalance, replication, ...) are not "
                                  "supported; give one host as jdbc:" +
                                  u.scheme + "://host/db");
    throw std::invalid_argument("expected // after jdbc:" + u.scheme + ":");
  }
  rest.remove_prefix(2);
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos)
    u.database = decode(rest.substr(slash + 1), "the database name");
  if (u.database.find('/') != std::string::npos)
    throw std::invalid_argument("the database name may not contain '/'");

  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view info = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    const auto c = info.find(':');
    u.user = decode(info.substr(0, c), "the user name");
    if (c != std::string_view::npos) u.password = decode(info.substr(c + 1), "the password");
  }
  if (authority.find(',') != std::string_view::npos)
    throw std::invalid_argument("several hosts (failover lists) are not supported; give one host");
  if (authority.empty()) throw std::invalid_argument("no host in the URL");
  std::string_view portText;
  if (authority.front() == '[') {  // [::1]:3306
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("unclosed '[' in the host");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw std::invalid_argument("expected ':port' after the host");
      portText = after.substr(1);
    }
  } else {
    const auto c = authority.rfind(':');
    u.host = std::string(authority.substr(0, c));
    if (c != std::string_view::npos) portText = authority.substr(c + 1);
  }
  if (u.host.empty()) throw std::invalid_argument("no host in the URL");
  if (!portText.empty()) {
    int port = 0;
    const auto [p, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
    if (ec != std::errc() || p != portText.data() + portText.size() || port < 1 || port > 65535)
      throw std::invalid_argument("bad port '" + std::string(portText) + "' (expected 1 to 65535)");
    u.port = port;
  }
  if (u.dialect == Dialect::Postgres && u.database.empty())
    throw std::invalid_argument("no database in the URL (jdbc:postgresql://host:5432/database)");
  return u;
}

std::optional<Dialect> dialectOfHibernateDialect(std::string_view className) {
  const std::string c = lowerAscii(className);
  if (c.find("mysql") != std::string::npos || c.find("mariadb") != std::string::npos)
    return Dialect::MySql;
  if (c.find("postgres") != std::string::npos) return Dialect::Postgres;
  return std::nullopt;
}

std::optional<Dialect> dialectOfDriverClass(std::string_view className) {
  const std::string c = lowerAscii(className);
  if (c == "com.mysql.jdbc.driver" || c == "com.mysql.cj.jdbc.driver" ||
      c == "org.mariadb.jdbc.driver" || c == "org.gjt.mm.mysql.driver")
    return Dialect::MySql;
  if (c == "org.postgresql.driver") return Dialect::Postgres;
  return std::nullopt;
}

}  // namespace sluice::plugins::sql
