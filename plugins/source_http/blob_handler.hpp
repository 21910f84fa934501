#pragma once
// Flume's BlobHandler (org.apache.flume.sink.solr.morphline.BlobHandler): the whole request body
// is one event, the request's parameters its headers.
//
// As Flume:
//  - headers: "Content-Type" (the request's, when it has one), then every query parameter,
//    URL-decoded (UTF-8, '+' as a space), the first value of a repeated name; a parameter named
//    like a header before it replaces it;
//  - handler.maxBlobLength (default 100000000, must be > 0): at most that many body bytes are
//    kept, the rest is dropped as it arrives and a warning logged (throttled here);
//  - an empty body gives an event with an empty body.
// Unlike Flume (whose servlet container reads form fields out of a request body sent as
// application/x-www-form-urlencoded, leaving the BLOB empty), the body is never parsed for
// parameters: only the query string gives headers.

#include <cstdint>
#include <string>
#include <string_view>

#include "http_source_handler.hpp"
#include "net/log_throttle.hpp"

namespace sluice::plugins::http_source {

class BlobHandler final : public HttpSourceHandler {
 public:
  static constexpr const char* kType = "org.apache.flume.sink.solr.morphline.BlobHandler";
  static constexpr int64_t kDefaultMaxBlobLength = 100 * 1000 * 1000;

  void configure(const sdk::Context& context) override;
  HandlerResult getEvents(HttpSourceRequest& request, sdk::EventBatch& events) noexcept override;
  uint64_t maxBodyBytes() const noexcept override { return maxBlobLength_; }

 private:
  uint64_t maxBlobLength_ = kDefaultMaxBlobLength;
  net::LogThrottle truncatedLog_{std::chrono::seconds(10)};
};

// Decodes an application/x-www-form-urlencoded query into headers (first value of a name wins);
// false with *error on a malformed %-escape.
bool decodeQuery(std::string_view query, sdk::Headers& out, std::string* error);

}  // namespace sluice::plugins::http_source
