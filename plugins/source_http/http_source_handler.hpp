#pragma once
// Flume's HTTPSourceHandler: what turns one HTTP request into events for the http source.
//
// This header is written as the SDK will hold it (std-only types, no plugins/common includes,
// data-path calls noexcept) so that it can move to sdk/include/sluice/sdk/ unchanged: a handler
// is then a plugin kind of its own, and `handler = com.example.MyHandler` loads one from a
// plugin library. Until then the source knows its two built-in handlers (json_handler.hpp,
// blob_handler.hpp) by name.
//
// Lifecycle: the source creates its handler in configure(), attaches its own logger to it, and
// hands it the source's `handler.*` keys with the prefix removed (Flume's
// context.getSubProperties("handler.")). getEvents() is then called for every request, from the
// source's I/O threads, concurrently: a handler must be safe to call from several threads at
// once (Flume's handlers are shared by Jetty's threads the same way).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "sluice/sdk/component.hpp"
#include "sluice/sdk/event.hpp"

namespace sluice::plugins::http_source {

struct HttpHeaderView {
  std::string_view name;
  std::string_view value;
};

// One request as a handler sees it: the parts of Flume's HttpServletRequest that handlers read.
// Valid during getEvents() only.
struct HttpSourceRequest {
  std::string_view method;                  // "POST", "GET" or "HEAD"
  std::string_view path;                    // "/..."
  std::string_view query;                   // as sent, without the '?' (not decoded)
  std::string_view contentType;             // the Content-Type header; empty when absent
  std::string_view characterEncoding;       // its charset parameter, unquoted; empty when absent
                                            // (Flume's getCharacterEncoding())
  std::string_view remoteAddress;           // the client's IP address
  std::span<const HttpHeaderView> headers;  // as sent, in order
  std::string* body = nullptr;  // the complete body, dechunked; the handler may move from it
  bool bodyTruncated = false;   // longer than maxBodyBytes(): the rest was dropped

  // The first header of that name, compared case-insensitively; empty when absent.
  std::string_view header(std::string_view name) const noexcept {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    for (const HttpHeaderView& h : headers) {
      if (h.name.size() != name.size()) continue;
      std::size_t i = 0;
      while (i < name.size() && lower(h.name[i]) == lower(name[i])) ++i;
      if (i == name.size()) return h.value;
    }
    return {};
  }
};

// What getEvents() reports. status 0: the events are ready. Otherwise the HTTP status to answer
// and why: 400 when the client's input is wrong (Flume's HTTPBadRequestException), 500 when the
// handler failed otherwise (any other exception in Flume). Nothing is put either way.
struct HandlerResult {
  int status = 0;
  std::string message;

  static HandlerResult ok() { return {}; }
  static HandlerResult badRequest(std::string why) { return {400, std::move(why)}; }
  static HandlerResult failure(std::string why) { return {500, std::move(why)}; }
  explicit operator bool() const noexcept { return status == 0; }
};

class HttpSourceHandler : public sdk::PluginObject {
 public:
  // configure(const sdk::Context&) comes from PluginObject: the handler.* keys, prefix removed;
  // bad values throw sdk::ConfigError naming the key (context.fail()).

  // Appends the events of one request to `events` (empty on entry). On a failure the source
  // discards whatever was appended. On an I/O thread of the source, possibly concurrently with
  // other calls; must not throw.
  virtual HandlerResult getEvents(HttpSourceRequest& request, sdk::EventBatch& events) noexcept = 0;

  // Body bytes this handler wants at most: more are dropped as they arrive and the request says
  // bodyTruncated (Flume's BlobHandler and its maxBlobLength). 0: all of it, up to the source's
  // maxBodyBytes (over that, the source answers 413 without calling the handler).
  virtual uint64_t maxBodyBytes() const noexcept { return 0; }
};

}  // namespace sluice::plugins::http_source
