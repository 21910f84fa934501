#pragma once
// JDBC connection URLs as keedio's users write them, and the Hibernate dialect and driver class
// names that come with them:
//   jdbc:mysql://host[:port]/[database][?key=value&...]      (also jdbc:mariadb://)
//   jdbc:postgresql://host[:port]/database[?key=value&...]   (also jdbc:postgresql:database)
//   jdbc:mysql://user:password@host/database                 (Connector/J's user info)
// Pure functions: no I/O. Errors are std::invalid_argument whose text never contains a password.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sql_backend.hpp"

namespace sluice::plugins::sql {

struct JdbcUrl {
  Dialect dialect = Dialect::MySql;
  std::string scheme;  // mysql, mariadb, postgresql
  std::string host;
  int port = 0;
  std::string database;  // may be empty for MySQL (then the table names its database)
  std::optional<std::string> user;
  std::optional<std::string> password;  // from the user info or a password= parameter
  // The other query parameters, percent-decoded, in order.
  std::vector<std::pair<std::string, std::string>> params;

  // The URL without user info and parameters, for logs, errors and the status file:
  // "jdbc:mysql://db1:3306/shop".
  std::string redacted() const;
  // "mysql://db1:3306/shop": how log lines name the server.
  std::string display() const;
  const std::string* param(std::string_view name) const;  // case-insensitive
};

JdbcUrl parseJdbcUrl(std::string_view url);

// The dialect a Hibernate dialect class (org.hibernate.dialect.MySQL5Dialect, ...) or a JDBC
// driver class (com.mysql.cj.jdbc.Driver, ...) stands for; nullopt for other databases.
std::optional<Dialect> dialectOfHibernateDialect(std::string_view className);
std::optional<Dialect> dialectOfDriverClass(std::string_view className);

}  // namespace sluice::plugins::sql
