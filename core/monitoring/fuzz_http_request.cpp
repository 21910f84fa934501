// Fuzz target: bytes from a monitoring client through the HTTP request parser, fed as one piece
// and byte by byte (as a slow client sends them). Either way the parser must agree, stay within
// its limits and never crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/monitoring/http_request.hpp"

using namespace sluice::core::monitoring;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ParseLimits limits;
  limits.maxHeaderBytes = 2048;
  limits.maxTargetBytes = 512;
  limits.maxHeaders = 20;
  HttpRequest whole;
  ParseResult all = parseRequest(text, limits, whole);
  if (all.state == ParseResult::State::Complete) {
    if (all.consumed == 0 || all.consumed > size) std::abort();
    if (whole.path.empty() || whole.path.front() != '/') std::abort();
    if (whole.headers.size() > limits.maxHeaders) std::abort();
  }
  if (all.state == ParseResult::State::Error && (all.status < 400 || all.status > 599))
    std::abort();
  // Incrementally: the first prefix that is not Incomplete must give the same verdict.
  if (size <= 4096) {
    for (size_t n = 0; n <= size; ++n) {
      HttpRequest req;
      ParseResult r = parseRequest(text.substr(0, n), limits, req);
      if (r.state == ParseResult::State::Incomplete) continue;
      if (r.state == ParseResult::State::Complete) {
        // A complete request stays complete and the same when more bytes follow.
        if (all.state != ParseResult::State::Complete || r.consumed != all.consumed) std::abort();
        if (req.target != whole.target || req.method != whole.method) std::abort();
      }
      break;
    }
  }
  return 0;
}
