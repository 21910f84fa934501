#pragma once
// Flume's JSONHandler (org.apache.flume.source.http.JSONHandler), the http source's default: the
// body is a JSON array of events, each {"headers": {"name": "value", ...}, "body": "text"}.
//
// As Flume:
//  - the charset is the request's (Content-Type's charset parameter), UTF-8 when none is given;
//    UTF-8, UTF-16 and UTF-32 are accepted, others answered 500; the body text of each event is
//    encoded back in that charset (UTF-16 with Java's byte order mark), headers are UTF-8;
//  - a missing "headers" or "body" gives none / an empty body; other members are ignored;
//    numbers and booleans where a string is expected are taken as their text; a null header is
//    left out; a header named twice in one event is an error, as in Gson;
//  - ill-formed bytes in the declared charset become U+FFFD, as Java's reader makes them.
// Stricter than Flume's Gson, which reads "lenient" JSON: single quotes, unquoted names,
// comments and trailing text are errors here (400), so are a null event and a top level that is
// not an array (Flume: 500 after a NullPointerException or a syntax error).
//
// Parsing is nlohmann::json's SAX parser (Debian's nlohmann-json3-dev), building the events
// straight into the batch: no document tree.

#include <string_view>

#include "http_source_handler.hpp"

namespace sluice::plugins::http_source {

class JsonHandler final : public HttpSourceHandler {
 public:
  static constexpr const char* kType = "org.apache.flume.source.http.JSONHandler";

  // Flume's JSONHandler has no keys: any handler.* key is reported as ignored.
  void configure(const sdk::Context& context) override;
  HandlerResult getEvents(HttpSourceRequest& request, sdk::EventBatch& events) noexcept override;
};

// The parsing alone, on UTF-8 text (tests and the fuzz target use it): appends the events of a
// JSON array of events; a 400 result says what is wrong (and `out` may hold a partial batch).
HandlerResult parseJsonEvents(std::string_view utf8, sdk::EventBatch& out);

}  // namespace sluice::plugins::http_source
