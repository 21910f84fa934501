#include "regex_filter_interceptor.hpp"

#include <stdexcept>

#include "config_keys.hpp"

namespace sluice::plugins::regexfilter {

const sdk::Schema& regexFilterSchema() {
  static const sdk::Schema schema{
      sdk::Key("regex").string().def(".*").doc(
          "Regular expression (Java syntax) searched for in the event body"),
      sdk::Key("excludeEvents")
          .boolean()
          .def("false")
          .doc("If true, drop the events that match; otherwise drop the events that do not"),
  };
  return schema;
}

bool RegexFilteringInterceptor::keep(const sdk::Event& event) noexcept {
  int error = 0;
  const bool matched = regex_->test(event.body, &error);
  if (error != 0) {
    const uint64_t n = errors_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (javaregex::shouldWarn(n))
      logger_->warn("matching '", regex_->pattern(), "' failed (", javaregex::Regex::message(error),
                    "); the event counts as not matching (", n, " such events so far)");
  }
  return matched != excludeEvents_;
}

void RegexFilteringInterceptor::intercept(sdk::EventBatch& events) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (!keep(events[i])) continue;
    if (kept != i) events[kept] = std::move(events[i]);
    ++kept;
  }
  events.erase(events.begin() + static_cast<std::ptrdiff_t>(kept), events.end());
}

void RegexFilteringInterceptorBuilder::configure(const sdk::Context& context) {
  const std::string pattern = requireValue(context, "regex");
  std::string error;
  auto regex = javaregex::Regex::compile(pattern, javaregex::Mode::Find, &error);
  if (!regex) context.fail("regex", "cannot compile '" + pattern + "': " + error);
  const bool exclude = requireBoolean(context, "excludeEvents");
  regex_ = std::move(regex);
  excludeEvents_ = exclude;
}

std::unique_ptr<sdk::Interceptor> RegexFilteringInterceptorBuilder::build() {
  if (!regex_) {  // never configured: Flume's defaults
    std::string error;
    regex_ = javaregex::Regex::compile(".*", javaregex::Mode::Find, &error);
    if (!regex_) throw std::runtime_error("cannot compile the default regex: " + error);
  }
  return std::make_unique<RegexFilteringInterceptor>(regex_, excludeEvents_, &logger());
}

}  // namespace sluice::plugins::regexfilter
