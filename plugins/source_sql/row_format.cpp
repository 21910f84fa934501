#include "row_format.hpp"

#include <utility>

namespace sluice::plugins::sql {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

void appendBase64(std::string& out, std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  out.reserve(out.size() + (n + 2) / 3 * 4);
  for (; n >= 3; n -= 3, p += 3) {
    const unsigned v = (p[0] << 16) | (p[1] << 8) | p[2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (n == 1) {
    const unsigned v = p[0] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (n == 2) {
    const unsigned v = (p[0] << 16) | (p[1] << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
}

bool isJsonNumber(std::string_view t) {
  std::size_t i = 0;
  if (i < t.size() && t[i] == '-') ++i;
  if (i >= t.size() || !isDigit(t[i])) return false;
  if (t[i] == '0') {
    ++i;
  } else {
    while (i < t.size() && isDigit(t[i])) ++i;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (i >= t.size() || !isDigit(t[i])) return false;
    while (i < t.size() && isDigit(t[i])) ++i;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= t.size() || !isDigit(t[i])) return false;
    while (i < t.size() && isDigit(t[i])) ++i;
  }
  return i == t.size();
}

RowFormatter::RowFormatter(FormatOptions options, const std::vector<ColumnMeta>& columns)
    : options_(std::move(options)), columns_(columns) {
  if (options_.format == OutputFormat::Json) {
    jsonKeys_.reserve(columns_.size());
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      std::string k = i == 0 ? "{" : ",";
      appendJsonString(k, columns_[i].name);
      k += ':';
      jsonKeys_.push_back(std::move(k));
    }
  }
}

void RowFormatter::format(const Row& row, sdk::Event& event) {
  switch (options_.format) {
    case OutputFormat::Csv:
      csv(row, event.body);
      return;
    case OutputFormat::Json:
      json(row, event.body);
      return;
    case OutputFormat::Body:
      break;
  }
  for (std::size_t i = 0; i < row.size(); ++i) {
    const Cell& c = row[i];
    if (i == options_.bodyColumn) {
      if (c.null)
        event.headers.set("sql.null", columns_[i].name);
      else
        event.body.assign(c.data, c.size);
      continue;
    }
    if (c.null) continue;
    if (columns_[i].kind == ColumnKind::Binary) {
      scratch_.clear();
      appendBase64(scratch_, c.view());
      event.headers.set(columns_[i].name, scratch_);
    } else {
      event.headers.set(columns_[i].name, c.view());
    }
  }
}

void RowFormatter::csv(const Row& row, std::string& out) const {
  const std::string& delim = options_.delimiter;
  std::size_t size = 0;
  for (const Cell& c : row) size += c.size + 3 + delim.size();
  out.reserve(size);
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (i) out += delim;
    const Cell& c = row[i];
    if (c.null) continue;  // NULL: nothing, not even quotes
    std::string_view v = c.view();
    std::string encoded;
    if (columns_[i].kind == ColumnKind::Binary) {
      appendBase64(encoded, v);
      v = encoded;
    }
    bool quote = options_.encloseByQuotes || v.empty();
    if (!quote)
      for (char ch : v)
        if (ch == '"' || ch == '\r' || ch == '\n' || delim.find(ch) != std::string::npos) {
          quote = true;
          break;
        }
    if (!quote) {
      out += v;
      continue;
    }
    out += '"';
    std::size_t run = 0;
    for (std::size_t k = 0; k < v.size(); ++k)
      if (v[k] == '"') {
        out.append(v.data() + run, k + 1 - run);  // up to and including the quote...
        out += '"';                               // ...which is doubled
        run = k + 1;
      }
    out.append(v.data() + run, v.size() - run);
    out += '"';
  }
}

void RowFormatter::json(const Row& row, std::string& out) const {
  std::size_t size = 2;
  for (std::size_t i = 0; i < row.size(); ++i) size += jsonKeys_[i].size() + row[i].size + 6;
  out.reserve(size);
  if (row.empty()) out += '{';
  for (std::size_t i = 0; i < row.size(); ++i) {
    out += jsonKeys_[i];
    const Cell& c = row[i];
    if (c.null) {
      out += "null";
      continue;
    }
    const std::string_view v = c.view();
    switch (columns_[i].kind) {
      case ColumnKind::Integer:
      case ColumnKind::Decimal:
      case ColumnKind::Float:
        if (isJsonNumber(v))
          out += v;
        else
          appendJsonString(out, v);  // NaN, Infinity
        break;
      case ColumnKind::Boolean:
        out += (!v.empty() && (v[0] == 't' || v[0] == 'T' || v[0] == '1')) ? "true" : "false";
        break;
      case ColumnKind::Binary:
        out += '"';
        appendBase64(out, v);
        out += '"';
        break;
      case ColumnKind::Text:
      case ColumnKind::Temporal:
        appendJsonString(out, v);
        break;
    }
  }
  out += '}';
}

}  // namespace sluice::plugins::sql
