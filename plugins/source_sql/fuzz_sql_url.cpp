// libFuzzer target: the JDBC URL parser and the identifier checks over arbitrary text. Neither
// may crash; a parsed URL's error-free redacted form parses again to the same place and does not
// depend on the user, password or parameters; an accepted table or column name holds no control
// character, and its quoted form is one quoted token.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "identifiers.hpp"
#include "jdbc_url.hpp"

using namespace sluice::plugins::sql;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    const JdbcUrl u = parseJdbcUrl(input);
    const JdbcUrl back = parseJdbcUrl(u.redacted());
    if (back.host != u.host || back.port != u.port || back.dialect != u.dialect) std::abort();
    // The redacted form depends on the public parts only: without user, password and
    // parameters it is the same. (Searching it for the password text found "dbc:" in "jdbc:".)
    JdbcUrl open = u;
    open.user.reset();
    open.password.reset();
    open.params.clear();
    if (open.redacted() != u.redacted()) std::abort();
  } catch (const std::invalid_argument&) {
  }
  for (auto parse : {+[](std::string_view s) { return parseTableName(s).name; },
                     +[](std::string_view s) { return parseIdentifier(s, "column name"); }}) {
    try {
      const Identifier id = parse(input);
      for (char c : id.text)
        if (static_cast<unsigned char>(c) < 0x20) std::abort();
      for (Dialect d : {Dialect::MySql, Dialect::Postgres}) {
        const std::string q = quoteIdentifier(d, id.text);
        const char quote = q.front();
        // Inside, every quote character comes in pairs: the token cannot end early.
        for (std::size_t i = 1; i + 1 < q.size(); ++i)
          if (q[i] == quote) {
            if (q[i + 1] != quote) std::abort();
            ++i;
          }
      }
    } catch (const std::invalid_argument&) {
    }
  }
  return 0;
}
