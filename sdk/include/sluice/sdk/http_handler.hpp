#pragma once
// HTTP source handlers: what turns one HTTP request into events for the http source, Flume's
// org.apache.flume.source.http.HTTPSourceHandler. The built-in JSONHandler and BlobHandler are
// handlers of this kind inside the http source; a plugin of kind HttpHandler adds another:
// `handler = com.example.CsvHandler`, with its own keys below that key ("handler.delimiter"),
// which its schema declares without the prefix ("delimiter").
//
// The source owns the HTTP side (limits, TLS, keep-alive, the put transaction and the status
// code): a handler reads one request that arrived whole and appends events. getEvents() is
// called from the source's I/O threads, concurrently: a handler must be safe to call from
// several threads at once (keep per-request state on the stack), as Flume's handlers are shared
// by Jetty's threads.

#include <cstdint>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "sluice/sdk/component.hpp"
#include "sluice/sdk/event.hpp"

namespace sluice::sdk {

struct SLUICE_SDK_API HttpHeaderView {
  std::string_view name;
  std::string_view value;
};

// One request as a handler sees it: the parts of Flume's HttpServletRequest that handlers read.
// Valid during getEvents() only.
struct SLUICE_SDK_API HttpSourceRequest {
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
struct SLUICE_SDK_API HttpHandlerResult {
  int status = 0;
  std::string message;

  static HttpHandlerResult ok() { return {}; }
  static HttpHandlerResult badRequest(std::string why) { return {400, std::move(why)}; }
  static HttpHandlerResult failure(std::string why) { return {500, std::move(why)}; }
  explicit operator bool() const noexcept { return status == 0; }
};

// Thrown by a handler for input it cannot read (Flume's HTTPBadRequestException): answered 400
// with the message. Any other exception is answered 500.
class SLUICE_SDK_API HttpBadRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The component of kind HttpHandler. configure() receives the source's handler.* keys with the
// prefix removed; bad values throw sdk::ConfigError naming the key (context.fail()).
class SLUICE_SDK_API HttpSourceHandler : public PluginObject {
 public:
  // The source's call: getEvents(), with an exception turned into the answer Flume gives (400
  // for HttpBadRequest, 500 otherwise), so none leaves the handler's library. On a failure the
  // source discards whatever was appended.
  HttpHandlerResult handle(HttpSourceRequest& request, EventBatch& events) noexcept {
    try {
      return getEvents(request, events);
    } catch (const HttpBadRequest& e) {
      return failed(400, e);
    } catch (const std::exception& e) {
      return failed(500, e);
    } catch (...) {
      return {500, {}};
    }
  }

  // Body bytes this handler wants at most: more are dropped as they arrive and the request says
  // bodyTruncated (Flume's BlobHandler and its maxBlobLength). 0: all of it, up to the source's
  // maxBodyBytes (over that, the source answers 413 without calling the handler).
  virtual uint64_t maxBodyBytes() const noexcept { return 0; }

 protected:
  // Appends the events of one request to `events` (empty on entry).
  virtual HttpHandlerResult getEvents(HttpSourceRequest& request, EventBatch& events) = 0;

 private:
  static HttpHandlerResult failed(int status, const std::exception& e) noexcept {
    HttpHandlerResult r;
    r.status = status;
    try {
      r.message = e.what();
    } catch (...) {  // no memory for the message: the status still says it
    }
    return r;
  }
};

}  // namespace sluice::sdk
