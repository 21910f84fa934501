#include "blob_handler.hpp"

#include <exception>

namespace sluice::plugins::http_source {

namespace {

int hexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// '+' as a space and %XX as the byte XX; false on a broken escape.
bool urlDecode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c != '%') {
      out += c;
    } else {
      const int hi = i + 2 < in.size() ? hexValue(in[i + 1]) : -1;
      const int lo = hi >= 0 ? hexValue(in[i + 2]) : -1;
      if (lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return true;
}

}  // namespace

bool decodeQuery(std::string_view query, sdk::Headers& out, std::string* error) {
  std::string name, value;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    if (!urlDecode(pair.substr(0, eq), name) ||
        !urlDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1),
                   value)) {
      *error = "malformed %-escape in the query parameter '" + std::string(pair) + "'";
      return false;
    }
    if (!name.empty()) out.setIfAbsent(name, value);
  }
  return true;
}

void BlobHandler::configure(const sdk::Context& context) {
  const int64_t max =
      context.getInteger("maxBlobLength", static_cast<int32_t>(kDefaultMaxBlobLength));
  if (max <= 0)
    context.fail("maxBlobLength", "must be greater than zero, got " + std::to_string(max));
  maxBlobLength_ = static_cast<uint64_t>(max);
  for (const auto& [key, p] : context.parameters())
    if (key != "maxBlobLength")
      context.logger().warn(context.describe(key),
                            ": Flume's BlobHandler has no such key; ignored");
}

HandlerResult BlobHandler::getEvents(HttpSourceRequest& request, sdk::EventBatch& events) noexcept {
  try {
    sdk::Event e;
    std::string error;
    if (!decodeQuery(request.query, e.headers, &error)) return HandlerResult::badRequest(error);
    if (!request.contentType.empty()) e.headers.setIfAbsent("Content-Type", request.contentType);
    if (request.bodyTruncated) {
      int64_t held = 0;
      if (truncatedLog_.admit(&held))
        logger().warn("a request body from ", request.remoteAddress,
                      " is longer than maxBlobLength (", maxBlobLength_,
                      " bytes): the event holds its first ", maxBlobLength_, " bytes",
                      net::suppressedNote(held));
    }
    e.body = std::move(*request.body);
    events.push_back(std::move(e));
    return HandlerResult::ok();
  } catch (const std::exception& ex) {
    return HandlerResult::failure(std::string("BlobHandler failed: ") + ex.what());
  }
}

}  // namespace sluice::plugins::http_source
