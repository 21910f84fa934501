#include "regex_extractor_interceptor.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string_view>

#include "text_util.hpp"

namespace sluice::plugins::regexextractor {
namespace {

using text::lower;

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : " ") + n;
  return out;
}

}  // namespace

const sdk::Schema& regexExtractorSchema() {
  static const sdk::Schema schema{
      sdk::Key("regex").string().req().doc(
          "Regular expression (Java syntax) searched for in the event body; group i+1 goes to "
          "serializer i"),
      sdk::Key("serializers")
          .list()
          .doc("Names of the serializers, in group order (when absent: the names under "
               "serializers.*, "
               "in natural order)"),
      sdk::Key("serializers.*")
          .string()
          .doc("Per serializer: name (the header, required), type (default or a Flume serializer "
               "class), pattern (millis serializer)"),
  };
  return schema;
}

bool naturalLess(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      std::size_t ei = i, ej = j;
      while (ei < a.size() && digit(a[ei])) ++ei;
      while (ej < b.size() && digit(b[ej])) ++ej;
      std::string_view na(a.data() + i, ei - i), nb(b.data() + j, ej - j);
      while (na.size() > 1 && na.front() == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb.front() == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ei;
      j = ej;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  if ((a.size() - i) != (b.size() - j)) return (a.size() - i) < (b.size() - j);
  return a < b;
}

void RegexExtractorInterceptor::apply(sdk::Event& event) {
  javaregex::Match m;
  const int rc = regex_->match(event.body, 0, m);
  if (rc == 0) return;  // no match: the event passes unchanged
  if (rc < 0) {
    const uint64_t n = matchErrors_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (javaregex::shouldWarn(n))
      logger_->warn("matching '", regex_->pattern(), "' failed (", javaregex::Regex::message(rc),
                    "); the event gets no headers (", n, " such events so far)");
    return;
  }
  const std::size_t groups = std::min<std::size_t>(regex_->captureCount(), serializers_.size());
  for (std::size_t i = 0; i < groups; ++i) {
    const auto g = static_cast<uint32_t>(i + 1);
    if (!m.has(g)) continue;  // the group took no part: no header (Flume would put a null)
    const Serializer& s = serializers_[i];
    const std::string_view value = m.group(g);  // points into the body, which is not changed
    if (!s.millis) {
      event.headers.set(s.header, value);
      continue;
    }
    int64_t millis = 0;
    if (!s.millis->parseMillis(value, &millis)) {
      const uint64_t n = parseErrors_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (javaregex::shouldWarn(n))
        logger_->warn("serializer ", s.id, ": '", value, "' does not match the date pattern '",
                      s.millis->pattern(), "'; header '", s.header, "' not set (", n,
                      " such values so far)");
      continue;
    }
    char buf[24];
    const auto res = std::to_chars(buf, buf + sizeof buf, millis);
    event.headers.set(s.header, std::string_view(buf, static_cast<std::size_t>(res.ptr - buf)));
  }
}

void RegexExtractorInterceptorBuilder::configure(const sdk::Context& context) {
  const std::string pattern = context.requireString("regex");
  std::string error;
  auto regex = javaregex::Regex::compile(pattern, javaregex::Mode::Find, &error);
  if (!regex) context.fail("regex", "cannot compile '" + pattern + "': " + error);

  std::vector<std::string> names = context.getNames("serializers");
  if (context.containsKey("serializers")) {
    if (names.empty()) context.fail("serializers", "must name at least one serializer");
  } else {
    if (names.empty())
      context.fail("serializers",
                   "is required but missing: list the serializers (serializers = s1 s2) and give "
                   "each a header (serializers.s1.name = ...)");
    std::sort(names.begin(), names.end(), naturalLess);
  }

  // Every serializers.* key must belong to a listed serializer and be one a serializer takes.
  const sdk::Context all = context.getSubProperties("serializers.");
  for (const auto& [key, param] : all.parameters()) {
    const std::size_t dot = key.find('.');
    const std::string id = key.substr(0, dot);
    if (std::find(names.begin(), names.end(), id) == names.end())
      context.fail("serializers." + key,
                   "serializer '" + id + "' is not listed in serializers (" + joined(names) + ")");
    const std::string sub = dot == std::string::npos ? std::string() : key.substr(dot + 1);
    if (sub != "name" && sub != "type" && sub != "pattern")
      context.fail("serializers." + key, "unknown key; a serializer takes name, type and pattern");
  }

  std::vector<Serializer> serializers;
  for (const std::string& id : names) {
    const sdk::Context sc = context.getSubProperties("serializers." + id + ".");
    Serializer s;
    s.id = id;
    s.header = sc.requireString("name");
    const std::string type = sc.getString("type", "default");
    if (lower(type) == "default" || type == kPassThroughSerializer) {
      if (sc.containsKey("pattern"))
        context.logger().warn("serializers.", id, ".pattern is ignored: serializer '", id,
                              "' is a pass-through serializer");
    } else if (type == kMillisSerializer) {
      const std::string datePattern = sc.requireString("pattern");
      s.millis = JodaPattern::compile(datePattern, &error);
      if (!s.millis) sc.fail("pattern", "invalid date pattern '" + datePattern + "': " + error);
    } else {
      sc.fail("type", "unknown serializer type '" + type + "'; sluice has default (" +
                          kPassThroughSerializer + ") and " + kMillisSerializer +
                          " (custom Java serializers cannot be loaded)");
    }
    serializers.push_back(std::move(s));
  }
  if (serializers.size() > regex->captureCount()) {
    const std::vector<std::string> unused(names.begin() + regex->captureCount(), names.end());
    context.logger().warn("the regex has ", regex->captureCount(),
                          " group(s), so these serializers are never used: ", joined(unused));
  }
  regex_ = std::move(regex);
  serializers_ = std::move(serializers);
}

std::unique_ptr<sdk::Interceptor> RegexExtractorInterceptorBuilder::build() {
  if (!regex_) throw std::logic_error("regex_extractor: build() before a successful configure()");
  return std::make_unique<RegexExtractorInterceptor>(regex_, serializers_, &logger());
}

}  // namespace sluice::plugins::regexextractor
