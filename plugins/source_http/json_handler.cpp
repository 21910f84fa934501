// JSONHandler: nlohmann::json's SAX parser driving a small state machine that builds events
// directly into the batch (json_handler.hpp says what is accepted).

#include "json_handler.hpp"

#include <nlohmann/json.hpp>

#include <exception>
#include <string>

#include "unicode.hpp"

namespace sluice::plugins::http_source {

namespace {

using Json = nlohmann::json;

class EventsSax {
 public:
  explicit EventsSax(sdk::EventBatch& out) : out_(out) {}

  bool null() { return value(nullptr); }
  bool boolean(bool v) {
    std::string s = v ? "true" : "false";
    return value(&s);
  }
  bool number_integer(Json::number_integer_t v) {
    std::string s = std::to_string(v);
    return value(&s);
  }
  bool number_unsigned(Json::number_unsigned_t v) {
    std::string s = std::to_string(v);
    return value(&s);
  }
  bool number_float(Json::number_float_t, const std::string& literal) {
    std::string s = literal;  // the number as written, as Gson reads it into a string
    return value(&s);
  }
  bool string(std::string& v) { return value(&v); }
  bool binary(Json::binary_t&) { return fail("binary values are not JSON"); }

  bool start_object(std::size_t) {
    if (skip_ > 0) return ++skip_, true;
    switch (at_) {
      case At::Top:
        return fail("expected a JSON array of events, got an object");
      case At::Events:
        out_.emplace_back();
        at_ = At::Event;
        member_ = Member::Other;
        return true;
      case At::Event:
        if (member_ == Member::Headers) return at_ = At::Headers, true;
        if (member_ == Member::Body)
          return fail(where() + "\"body\" must be a string, got an object");
        skip_ = 1;  // an unknown member: ignored, as Gson ignores it
        return true;
      case At::Headers:
        return fail(where() + "header \"" + headerName_ + "\" must be a string, got an object");
      case At::Done:
        break;
    }
    return fail("unexpected object");
  }

  bool end_object() {
    if (skip_ > 0) return --skip_, true;
    at_ = at_ == At::Headers ? At::Event : At::Events;
    return true;
  }

  bool start_array(std::size_t) {
    if (skip_ > 0) return ++skip_, true;
    switch (at_) {
      case At::Top:
        return at_ = At::Events, true;
      case At::Events:
        return fail(where() + "expected an event object, got an array");
      case At::Event:
        if (member_ == Member::Headers)
          return fail(where() + "\"headers\" must be an object, got an array");
        if (member_ == Member::Body)
          return fail(where() + "\"body\" must be a string, got an array");
        skip_ = 1;
        return true;
      case At::Headers:
        return fail(where() + "header \"" + headerName_ + "\" must be a string, got an array");
      case At::Done:
        break;
    }
    return fail("unexpected array");
  }

  bool end_array() {
    if (skip_ > 0) return --skip_, true;
    at_ = At::Done;
    return true;
  }

  bool key(std::string& k) {
    if (skip_ > 0) return true;
    if (at_ == At::Headers) {
      headerName_ = std::move(k);
    } else {
      member_ = k == "headers" ? Member::Headers : k == "body" ? Member::Body : Member::Other;
    }
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    std::string what = e.what();
    const std::size_t close = what.find("] ");  // "[json.exception.parse_error.101] ..."
    if (close != std::string::npos) what.erase(0, close + 2);
    return fail("invalid JSON: " + what);
  }

  const std::string& error() const noexcept { return error_; }

 private:
  enum class At { Top, Events, Event, Headers, Done };
  enum class Member { Headers, Body, Other };

  // A scalar (null: JSON null) in the current position.
  bool value(std::string* v) {
    if (skip_ > 0) return true;
    switch (at_) {
      case At::Top:
        return fail("expected a JSON array of events");
      case At::Events:
        return fail(where(out_.size()) + (v ? "expected an event object" : "the event is null"));
      case At::Event:
        if (member_ == Member::Body) {
          if (v) out_.back().body = std::move(*v);
          return true;
        }
        if (member_ == Member::Headers && v) return fail(where() + "\"headers\" must be an object");
        return true;  // "headers": null, or an unknown member
      case At::Headers: {
        if (!v) return true;  // a null header is left out
        sdk::Headers& h = out_.back().headers;
        if (h.contains(headerName_))
          return fail(where() + "duplicate header \"" + headerName_ + "\"");
        h.set(std::move(headerName_), std::move(*v));
        return true;
      }
      case At::Done:
        break;
    }
    return fail("unexpected value");
  }

  std::string where() const { return where(out_.size() - 1); }
  static std::string where(std::size_t index) { return "event " + std::to_string(index) + ": "; }

  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }

  sdk::EventBatch& out_;
  At at_ = At::Top;
  Member member_ = Member::Other;
  int skip_ = 0;  // nesting depth inside an ignored member's value
  std::string headerName_;
  std::string error_;
};

}  // namespace

HandlerResult parseJsonEvents(std::string_view utf8, sdk::EventBatch& out) {
  EventsSax sax(out);
  const char* first = utf8.data();
  if (Json::sax_parse(first, first + utf8.size(), &sax)) return HandlerResult::ok();
  return HandlerResult::badRequest(sax.error().empty() ? "invalid JSON" : sax.error());
}

void JsonHandler::configure(const sdk::Context& context) {
  for (const auto& [key, p] : context.parameters())
    context.logger().warn(context.describe(key), ": Flume's JSONHandler has no such key; ignored");
}

HandlerResult JsonHandler::getEvents(HttpSourceRequest& request, sdk::EventBatch& events) noexcept {
  try {
    unicode::Charset cs = unicode::Charset::Utf8;
    if (!request.characterEncoding.empty()) {
      const auto named = unicode::charsetNamed(request.characterEncoding);
      if (!named)
        return HandlerResult::failure(
            "JSON handler supports UTF-8, UTF-16 and UTF-32 only; the "
            "request's charset is '" +
            std::string(request.characterEncoding) + "'");
      cs = *named;
    }
    const std::string& body = *request.body;
    std::string decoded;
    std::string_view text = body;
    if (cs != unicode::Charset::Utf8) {
      decoded = unicode::decodeToUtf8(cs, body);
      text = decoded;
    } else if (!unicode::isValidUtf8(body)) {
      decoded = unicode::replaceInvalidUtf8(body);
      text = decoded;
    }
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
      return HandlerResult::badRequest(
          "the request body is empty; expected a JSON array of events");
    if (HandlerResult r = parseJsonEvents(text, events); !r) return r;
    if (cs != unicode::Charset::Utf8)
      for (sdk::Event& e : events) e.body = unicode::encodeFromUtf8(cs, e.body);
    return HandlerResult::ok();
  } catch (const std::exception& e) {
    return HandlerResult::failure(std::string("JSON handler failed: ") + e.what());
  }
}

}  // namespace sluice::plugins::http_source
