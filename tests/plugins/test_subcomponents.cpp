// Sub-components that exist only for tests (SDK ABI 3.0 kinds), in the test plugin library:
//  - test.UpperSerializer$Builder: an EventSerializer for file_roll and hdfs that writes each
//    body upper-cased plus a suffix, with an optional header and footer per file, and throws on
//    a body equal to `failOn`, to test the sinks' failure path;
//  - test.CsvHandler: an http source handler that makes one event per body line "key,body"
//    (the first field becomes the header `headerName`), answering 400 for a line without the
//    delimiter (HttpBadRequest) and 500 for the body "boom" (any other exception).

#include <stdexcept>
#include <string>
#include <string_view>

#include "sluice/sdk/sdk.hpp"
#include "test_subcomponents.hpp"

namespace sluice::tests {

using namespace sluice::sdk;

namespace {

class UpperSerializer final : public EventSerializer {
 public:
  UpperSerializer(std::string header, std::string suffix, std::string footer, std::string failOn)
      : header_(std::move(header)),
        suffix_(std::move(suffix)),
        footer_(std::move(footer)),
        failOn_(std::move(failOn)) {}
  bool lineOriented() const noexcept override { return suffix_ == "\n"; }

 protected:
  void onCreate(std::string& out) override { out += header_; }
  void onWrite(std::span<const Event> events, std::string& out) override {
    for (const Event& e : events) {
      if (!failOn_.empty() && e.body == failOn_)
        throw std::runtime_error("refusing the body '" + failOn_ + "'");
      for (char c : e.body) out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
      out += suffix_;
    }
  }
  void onClose(std::string& out) override { out += footer_; }

 private:
  std::string header_, suffix_, footer_, failOn_;
};

class UpperSerializerBuilder final : public EventSerializerBuilder {
 public:
  void configure(const Context& ctx) override {
    header_ = ctx.getString("header", "");
    suffix_ = ctx.getBoolean("appendNewline", true) ? "\n" : "";
    footer_ = ctx.getString("footer", "");
    failOn_ = ctx.getString("failOn", "");
  }

 protected:
  std::unique_ptr<EventSerializer> build() override {
    return std::make_unique<UpperSerializer>(header_, suffix_, footer_, failOn_);
  }

 private:
  std::string header_, suffix_, footer_, failOn_;
};

class CsvHandler final : public HttpSourceHandler {
 public:
  void configure(const Context& ctx) override {
    const std::string d = ctx.getString("delimiter", ",");
    if (d.size() != 1) ctx.fail("delimiter", "expected one character, got '" + d + "'");
    delimiter_ = d[0];
    headerName_ = ctx.getString("headerName", "key");
  }

 protected:
  HttpHandlerResult getEvents(HttpSourceRequest& request, EventBatch& events) override {
    const std::string_view body = request.body ? std::string_view(*request.body) : "";
    if (body == "boom") throw std::runtime_error("the handler blew up");
    std::size_t lineNo = 0;
    for (std::size_t at = 0; at < body.size();) {
      std::size_t end = body.find('\n', at);
      if (end == std::string_view::npos) end = body.size();
      const std::string_view line = body.substr(at, end - at);
      at = end + 1;
      ++lineNo;
      if (line.empty()) continue;
      const std::size_t cut = line.find(delimiter_);
      if (cut == std::string_view::npos)
        throw HttpBadRequest("line " + std::to_string(lineNo) + " has no '" +
                             std::string(1, delimiter_) + "'");
      Event e;
      e.headers.set(headerName_, std::string(line.substr(0, cut)));
      e.body.assign(line.substr(cut + 1));
      events.push_back(std::move(e));
    }
    return HttpHandlerResult::ok();
  }

 private:
  char delimiter_ = ',';
  std::string headerName_;
};

}  // namespace

ComponentInfo upperSerializerComponent() {
  return makeComponent<UpperSerializerBuilder>(
      ComponentKind::EventSerializer, "test.UpperSerializer", {},
      Schema{Key("header").doc("written at the start of every file"),
             Key("footer").doc("written at the end of every file"),
             Key("appendNewline").boolean().def("true").doc("a newline after each body"),
             Key("failOn").doc("a body that makes write() throw")},
      "test serializer: bodies upper-cased", Stability::Experimental);
}

ComponentInfo csvHandlerComponent() {
  return makeComponent<CsvHandler>(
      ComponentKind::HttpHandler, "test.CsvHandler", {},
      Schema{Key("delimiter").def(",").doc("between the key and the body"),
             Key("headerName").def("key").doc("the header the first field goes to")},
      "test http handler: one event per 'key,body' line", Stability::Experimental);
}

}  // namespace sluice::tests
