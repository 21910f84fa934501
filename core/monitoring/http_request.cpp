#include "core/monitoring/http_request.hpp"

#include <cctype>
#include <charconv>

#include "plugins/common/text_util.hpp"

namespace sluice::core::monitoring {

namespace {

// RFC 9110 tchar.
bool isTokenChar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!isTokenChar(c)) return false;
  return true;
}

// Visible ASCII, no spaces or controls: what a request-target may hold.
bool isTargetChar(unsigned char c) { return c > 0x20 && c < 0x7f; }

std::string_view trimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

using plugins::text::lower;

// Whether a comma-separated header value lists `token` (case-insensitive).
bool listsToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view item = trimBlanks(value.substr(0, comma));
    if (item.size() == token.size()) {
      bool same = true;
      for (std::size_t i = 0; i < item.size() && same; ++i)
        same = std::tolower(static_cast<unsigned char>(item[i])) == token[i];
      if (same) return true;
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

ParseResult fail(int status, std::string reason) {
  ParseResult r;
  r.state = ParseResult::State::Error;
  r.status = status;
  r.reason = std::move(reason);
  return r;
}

// Finds the end of the line starting at pos: returns the index of '\n' or npos. A line ends with
// CRLF or a bare LF (RFC 9112 allows accepting LF alone).
std::size_t lineEnd(std::string_view data, std::size_t pos) { return data.find('\n', pos); }

std::string_view lineAt(std::string_view data, std::size_t pos, std::size_t nl) {
  std::string_view line = data.substr(pos, nl - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

std::string_view HttpRequest::header(std::string_view lowerName) const {
  for (const auto& [k, v] : headers)
    if (k == lowerName) return v;
  return {};
}

ParseResult parseRequest(std::string_view data, const ParseLimits& limits, HttpRequest& out) {
  out = HttpRequest{};
  std::size_t pos = 0;
  // RFC 9112 2.2: ignore at least one empty line before the request line.
  for (int i = 0; i < 4 && pos < data.size(); ++i) {
    if (data.compare(pos, 2, "\r\n") == 0)
      pos += 2;
    else if (data[pos] == '\n')
      pos += 1;
    else
      break;
  }
  const std::size_t headStart = pos;
  auto tooBig = [&](std::size_t upTo) { return upTo - headStart > limits.maxHeaderBytes; };

  // Request line.
  std::size_t nl = lineEnd(data, pos);
  if (nl == std::string_view::npos) {
    std::size_t firstSpace = data.find(' ', pos);
    if (firstSpace != std::string_view::npos &&
        data.size() - firstSpace > limits.maxTargetBytes + 16)
      return fail(414, "request target too long");
    if (tooBig(data.size())) return fail(431, "request header too large");
    return {};
  }
  if (tooBig(nl + 1)) return fail(431, "request header too large");
  std::string_view line = lineAt(data, pos, nl);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      line.find(' ', sp2 + 1) != std::string_view::npos)
    return fail(400, "malformed request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!isToken(method)) return fail(400, "malformed method");
  if (target.size() > limits.maxTargetBytes) return fail(414, "request target too long");
  if (target.empty() || target.front() != '/') return fail(400, "request target must be a path");
  for (unsigned char c : target)
    if (!isTargetChar(c)) return fail(400, "invalid character in request target");
  if (version.size() != 8 || version.compare(0, 5, "HTTP/") != 0 ||
      !std::isdigit(static_cast<unsigned char>(version[5])) || version[6] != '.' ||
      !std::isdigit(static_cast<unsigned char>(version[7])))
    return fail(400, "malformed HTTP version");
  if (version[5] != '1') return fail(505, "only HTTP/1.x is supported");
  out.method = std::string(method);
  out.target = std::string(target);
  std::size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) out.query = std::string(target.substr(q + 1));
  out.minorVersion = version[7] - '0';
  pos = nl + 1;

  // Header fields, up to the empty line.
  for (;;) {
    nl = lineEnd(data, pos);
    if (nl == std::string_view::npos) {
      if (tooBig(data.size())) return fail(431, "request header too large");
      return {};
    }
    if (tooBig(nl + 1)) return fail(431, "request header too large");
    line = lineAt(data, pos, nl);
    pos = nl + 1;
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t')
      return fail(400, "obsolete header line folding");
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail(400, "header line without ':'");
    std::string_view name = line.substr(0, colon);
    if (!isToken(name)) return fail(400, "malformed header name");
    std::string_view value = trimBlanks(line.substr(colon + 1));
    for (unsigned char c : value)
      if ((c < 0x20 && c != '\t') || c == 0x7f)
        return fail(400, "control character in header value");
    if (out.headers.size() >= limits.maxHeaders) return fail(431, "too many header fields");
    out.headers.emplace_back(lower(name), std::string(value));
  }

  // Connection semantics.
  std::string_view connection = out.header("connection");
  if (out.minorVersion == 0)
    out.keepAlive = listsToken(connection, "keep-alive");
  else
    out.keepAlive = !listsToken(connection, "close");

  // A body: skipped (Content-Length) or refused (chunked, which this server does not read).
  uint64_t bodyLength = 0;
  bool sawLength = false;
  for (const auto& [k, v] : out.headers) {
    if (k == "transfer-encoding")
      return fail(501, "request bodies (Transfer-Encoding) are not supported");
    if (k != "content-length") continue;
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || v.empty())
      return fail(400, "malformed Content-Length");
    if (sawLength && n != bodyLength) return fail(400, "conflicting Content-Length headers");
    sawLength = true;
    bodyLength = n;
  }
  if (bodyLength > 0) {
    out.keepAlive = false;
    if (bodyLength > limits.maxHeaderBytes) return fail(413, "request body too large");
    if (data.size() - pos < bodyLength) return {};
    pos += static_cast<std::size_t>(bodyLength);
  }
  ParseResult r;
  r.state = ParseResult::State::Complete;
  r.consumed = pos;
  return r;
}

}  // namespace sluice::core::monitoring
