#include "remove_header_interceptor.hpp"

#include <algorithm>
#include <functional>

#include "config_keys.hpp"

namespace sluice::plugins::removeheader {

const sdk::Schema& removeHeaderSchema() {
  static const sdk::Schema schema{
      sdk::Key("withName").string().doc("Name of one header to remove"),
      sdk::Key("fromList")
          .string()
          .doc("Names of headers to remove, separated by fromListSeparator"),
      sdk::Key("fromListSeparator")
          .string()
          .def("\\s*,\\s*")
          .doc("Regular expression (Java syntax) that separates the names in fromList"),
      sdk::Key("matching")
          .string()
          .doc(
              "Regular expression (Java syntax): every header whose whole name matches is removed"),
  };
  return schema;
}

bool RemoveHeaderInterceptor::listed(std::string_view name) const noexcept {
  return std::binary_search(s_.fromList.begin(), s_.fromList.end(), name, std::less<>());
}

void RemoveHeaderInterceptor::apply(sdk::Event& event) {
  sdk::Headers& h = event.headers;
  if (s_.withName) h.erase(*s_.withName);
  if (h.empty() || (s_.fromList.empty() && !s_.matching)) return;
  h.eraseIf([this](const sdk::Headers::value_type& kv) {
    if (listed(kv.first)) return true;
    if (!s_.matching) return false;
    int error = 0;
    if (s_.matching->test(kv.first, &error)) return true;
    if (error != 0) {
      const uint64_t n = errors_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (javaregex::shouldWarn(n))
        logger_->warn("matching header names against '", s_.matching->pattern(), "' failed (",
                      javaregex::Regex::message(error), "); the header is kept (", n,
                      " such headers so far)");
    }
    return false;
  });
}

void RemoveHeaderInterceptorBuilder::configure(const sdk::Context& context) {
  RemoveHeaderSettings s;
  if (auto name = context.getString("withName"); name && !name->empty()) s.withName = *name;

  const std::string separator = requireValue(context, "fromListSeparator");
  std::string error;
  auto sep = javaregex::Regex::compile(separator, javaregex::Mode::Find, &error);
  if (!sep) context.fail("fromListSeparator", "cannot compile '" + separator + "': " + error);
  if (auto list = context.getString("fromList")) {
    int matchError = 0;
    for (std::string& name : sep->split(*list, &matchError))
      if (!name.empty()) s.fromList.push_back(std::move(name));
    if (matchError != 0)
      context.fail("fromListSeparator",
                   "splitting fromList failed: " + javaregex::Regex::message(matchError));
    std::sort(s.fromList.begin(), s.fromList.end());
    s.fromList.erase(std::unique(s.fromList.begin(), s.fromList.end()), s.fromList.end());
  }

  if (auto pattern = context.getString("matching")) {
    s.matching = javaregex::Regex::compile(*pattern, javaregex::Mode::Matches, &error);
    if (!s.matching) context.fail("matching", "cannot compile '" + *pattern + "': " + error);
  }

  if (!s.withName && s.fromList.empty() && !s.matching)
    context.logger().warn("none of withName, fromList and matching is set: no header is removed");
  settings_ = std::move(s);
}

std::unique_ptr<sdk::Interceptor> RemoveHeaderInterceptorBuilder::build() {
  logger().debug("creating remove_header interceptor: withName=",
                 settings_.withName ? *settings_.withName : std::string("(none)"),
                 ", fromList=", settings_.fromList.size(), " name(s), matching=",
                 settings_.matching ? settings_.matching->pattern() : std::string("(none)"));
  return std::make_unique<RemoveHeaderInterceptor>(settings_, &logger());
}

}  // namespace sluice::plugins::removeheader
