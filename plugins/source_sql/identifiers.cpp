#include "identifiers.hpp"

#include <stdexcept>

#include "text.hpp"

namespace sluice::plugins::sql {
namespace {

constexpr std::size_t kMaxNameBytes = 128;

bool plainStart(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}
bool plainPart(unsigned char c) { return plainStart(c) || (c >= '0' && c <= '9') || c == '$'; }

[[noreturn]] void reject(std::string_view text, const char* what, const std::string& why) {
  throw std::invalid_argument("'" + std::string(text) + "' is not a " + what + ": " + why);
}

// Reads one identifier from the front of `s` (advancing it); `whole` is for the message.
Identifier take(std::string_view& s, std::string_view whole, const char* what) {
  Identifier id;
  if (s.empty()) reject(whole, what, "a name is missing");
  const char q = s.front();
  if (q == '"' || q == '`') {
    id.quoted = true;
    std::size_t i = 1;
    for (;; ++i) {
      if (i >= s.size()) reject(whole, what, std::string("the quote ") + q + " is not closed");
      const auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c == 0x7f) reject(whole, what, "control characters are not allowed");
      if (s[i] == q) {
        if (i + 1 < s.size() && s[i + 1] == q) {  // a doubled quote stands for itself
          id.text += q;
          ++i;
          continue;
        }
        break;
      }
      id.text += s[i];
    }
    s.remove_prefix(i + 1);
    if (id.text.empty()) reject(whole, what, "an empty quoted name");
  } else {
    std::size_t i = 0;
    while (i < s.size() && plainPart(static_cast<unsigned char>(s[i]))) ++i;
    if (i == 0 || !plainStart(static_cast<unsigned char>(s[0])))
      reject(whole, what,
             "names are letters, digits, _ and $ (not starting with a digit), or quoted in \"\" "
             "or ``; use custom.query for expressions");
    id.text = std::string(s.substr(0, i));
    s.remove_prefix(i);
  }
  if (id.text.size() > kMaxNameBytes) reject(whole, what, "longer than 128 bytes");
  return id;
}

[[noreturn]] void junk(std::string_view whole, const char* what, std::string_view rest) {
  reject(whole, what,
         "unexpected '" + std::string(rest.substr(0, 20)) +
             "' after the name (names are letters, digits, _ and $, or quoted in \"\" or ``; use "
             "custom.query for anything else)");
}

}  // namespace

Identifier parseIdentifier(std::string_view text, const char* what) {
  const std::string_view whole = trimmed(text);
  std::string_view s = whole;
  Identifier id = take(s, whole, what);
  if (!s.empty()) junk(whole, what, s);
  return id;
}

TableName parseTableName(std::string_view text) {
  const std::string_view whole = trimmed(text);
  std::string_view s = whole;
  TableName t;
  t.name = take(s, whole, "table name");
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    t.schema = t.name;
    t.name = take(s, whole, "table name");
  }
  if (!s.empty()) junk(whole, "table name", s);
  return t;
}

std::vector<Identifier> parseColumnList(std::string_view text) {
  const std::string_view whole = trimmed(text);
  std::vector<Identifier> out;
  if (whole == "*") return out;
  std::string_view s = whole;
  for (;;) {
    s = trimmed(s);
    out.push_back(take(s, whole, "column list"));
    s = trimmed(s);
    if (s.empty()) break;
    if (s.front() != ',') junk(whole, "column list", s);
    s.remove_prefix(1);
  }
  for (std::size_t i = 0; i < out.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (sameName(out[i], out[j].text) && sameName(out[j], out[i].text))
        reject(whole, "column list", "'" + out[i].text + "' is listed twice");
  return out;
}

bool sameName(const Identifier& a, std::string_view catalogName) {
  return a.quoted ? a.text == catalogName : lowerAscii(a.text) == lowerAscii(catalogName);
}

std::string bindCustomQuery(Dialect dialect, std::string_view query, int& count) {
  std::string_view q = trimmed(query);
  while (!q.empty() && (q.back() == ';' || q.back() == ' ' || q.back() == '\t' ||
                        q.back() == '\n' || q.back() == '\r'))
    q.remove_suffix(1);
  if (q.empty()) throw std::invalid_argument("the query is empty");
  static constexpr std::string_view kMarker = "$@$";
  std::string out;
  count = 0;
  for (std::size_t i = 0; i < q.size();) {
    if (q.compare(i, kMarker.size(), kMarker) == 0) {
      out += placeholder(dialect, 1);
      ++count;
      i += kMarker.size();
    } else {
      out += q[i++];
    }
  }
  if (count == 0)
    throw std::invalid_argument(
        "the query has no $@$: without it every poll would read the same rows again. Write "
        "e.g. SELECT id, name FROM t WHERE id > $@$ ORDER BY id");
  return out;
}

}  // namespace sluice::plugins::sql
