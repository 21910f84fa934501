#pragma once
// The monitoring server's HTTP/1.x request parser: a pure function over the bytes received so
// far, so that it can be fuzzed (fuzz_http_request.cpp) and unit-tested without sockets.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::core::monitoring {

struct HttpRequest {
  std::string method;    // "GET", case-sensitive as RFC 9110 says
  std::string target;    // "/metrics?x=1" as sent
  std::string path;      // "/metrics"
  std::string query;     // "x=1"
  int minorVersion = 1;  // HTTP/1.<minorVersion>
  // Header names lower-cased, values with surrounding blanks removed, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  // Whether the connection may carry another request after this one.
  bool keepAlive = true;

  // The first header with that (lower-case) name, or an empty view.
  std::string_view header(std::string_view lowerName) const;
};

struct ParseLimits {
  std::size_t maxHeaderBytes = 16 * 1024;  // request line + headers + blank line
  std::size_t maxTargetBytes = 8 * 1024;
  std::size_t maxHeaders = 100;
};

struct ParseResult {
  enum class State { Incomplete, Complete, Error };
  State state = State::Incomplete;
  // Complete: bytes of `data` the request used (head, plus a body the server skips).
  std::size_t consumed = 0;
  // Error: the status to answer (400, 414, 431, 501, 505) before closing, and why.
  int status = 0;
  std::string reason;
};

// Parses one request from the start of `data`. Incomplete means: read more and call again with
// everything received (an incomplete head longer than maxHeaderBytes is an Error 431 instead).
// A request with a body (Content-Length > 0) is Complete once the body is in; keepAlive is then
// false, since this server never reads request bodies (only GET and HEAD are served).
// Never throws except std::bad_alloc.
ParseResult parseRequest(std::string_view data, const ParseLimits& limits, HttpRequest& out);

}  // namespace sluice::core::monitoring
