// Fuzz target: request bodies through Flume's JSONHandler. The first byte picks the request's
// charset (none, UTF-8, UTF-16, UTF-32, or one it must refuse); the rest is the body. The
// handler must never crash, answer only 0, 400 or 500, and agree with nlohmann's own document
// parser on whether the text is JSON; events it returns must be encoded in the request's charset.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "json_handler.hpp"
#include "unicode.hpp"

using namespace sluice;
using namespace sluice::plugins::http_source;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr std::string_view kCharsets[] = {"", "UTF-8", "utf-16", "UTF-32", "latin1"};
  const std::string_view charset = kCharsets[data[0] % 5];
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  HttpSourceRequest req;
  req.method = "POST";
  req.characterEncoding = charset;
  req.body = &body;
  JsonHandler handler;
  sdk::EventBatch events;
  const HandlerResult r = handler.getEvents(req, events);
  if (charset == "latin1") {
    if (r.status != 500) std::abort();
    return 0;
  }
  if (r.status != 0 && r.status != 400) std::abort();
  if (r.status != 0) return 0;
  // Whatever the handler accepted, nlohmann's document parser accepts too (on the text the
  // handler parsed: the body decoded to UTF-8, ill-formed bytes replaced), as an array.
  const auto cs = unicode::charsetNamed(charset.empty() ? "utf-8" : charset);
  const std::string text = *cs == unicode::Charset::Utf8 ? unicode::replaceInvalidUtf8(body)
                                                         : unicode::decodeToUtf8(*cs, body);
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_array() || doc.size() != events.size()) std::abort();
  for (const sdk::Event& e : events) {
    if (*cs == unicode::Charset::Utf16 && !e.body.empty() && e.body.compare(0, 2, "\xFE\xFF") != 0)
      std::abort();
    if (*cs == unicode::Charset::Utf32 && e.body.size() % 4 != 0) std::abort();
    if (*cs == unicode::Charset::Utf8 && !unicode::isValidUtf8(e.body)) std::abort();
  }
  return 0;
}
