#include "search_replace_interceptor.hpp"

#include <stdexcept>

#include "config_keys.hpp"
#include "text_util.hpp"

namespace sluice::plugins::searchreplace {
namespace {

// A per-thread body buffer above this capacity is freed after use instead of kept.
constexpr std::size_t kMaxRetainedScratch = 1 << 20;

bool isAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

using text::lower;

}  // namespace

const sdk::Schema& searchReplaceSchema() {
  static const sdk::Schema schema{
      sdk::Key("searchPattern")
          .string()
          .req()
          .doc("Regular expression (Java syntax) to search for in the event body"),
      sdk::Key("replaceString")
          .string()
          .req()
          .doc("Replacement for each match; $1 or ${name} insert a group, \\ escapes $ and \\ (may "
               "be "
               "empty)"),
      sdk::Key("charset").string().def("UTF-8").doc(
          "Charset of the event body; only UTF-8 is supported"),
  };
  return schema;
}

bool parseReplacement(std::string_view r, const javaregex::Regex& regex,
                      std::vector<ReplacementPiece>* out, std::string* error) {
  out->clear();
  std::string literal;
  auto flush = [&] {
    if (literal.empty()) return;
    out->push_back(ReplacementPiece{std::move(literal), -1});
    literal.clear();
  };
  const int groups = static_cast<int>(regex.captureCount());
  std::size_t i = 0;
  while (i < r.size()) {
    const char c = r[i];
    if (c == '\\') {
      if (++i == r.size()) {
        *error = "character to be escaped is missing";
        return false;
      }
      literal += r[i++];
      continue;
    }
    if (c != '$') {
      literal += r[i++];
      continue;
    }
    if (++i == r.size()) {
      *error = "Illegal group reference: group index is missing";
      return false;
    }
    int ref = 0;
    if (r[i] == '{') {
      std::size_t j = ++i;
      while (j < r.size() && isAsciiAlnum(r[j])) ++j;
      const std::string name(r.substr(i, j - i));
      if (name.empty()) {
        *error = "named capturing group has 0 length name";
        return false;
      }
      if (j == r.size() || r[j] != '}') {
        *error = "named capturing group is missing trailing '}'";
        return false;
      }
      if (name[0] >= '0' && name[0] <= '9') {
        *error = "capturing group name {" + name + "} starts with digit character";
        return false;
      }
      ref = regex.groupNumber(name);
      if (ref < 0) {
        *error = "No group with name {" + name + "}";
        return false;
      }
      i = j + 1;
    } else {
      if (r[i] < '0' || r[i] > '9') {
        *error = "Illegal group reference";
        return false;
      }
      ref = r[i++] - '0';
      // Java takes more digits only while the number is still one of the pattern's groups.
      while (i < r.size() && r[i] >= '0' && r[i] <= '9' && ref * 10 + (r[i] - '0') <= groups)
        ref = ref * 10 + (r[i++] - '0');
      if (ref > groups) {
        *error = "No group " + std::to_string(ref);
        return false;
      }
    }
    flush();
    out->push_back(ReplacementPiece{{}, ref});
  }
  flush();
  return true;
}

void SearchAndReplaceInterceptor::apply(sdk::Event& event) {
  // The new body is built in a per-thread buffer and swapped in; the old body's buffer becomes
  // the next event's scratch, so in the steady state nothing is allocated.
  thread_local std::string scratch;
  const std::string_view body = event.body;
  std::size_t last = 0;
  bool changed = false;
  const int rc = regex_->forEach(body, [&](const javaregex::Match& m) {
    if (!changed) {
      scratch.clear();
      changed = true;
    }
    scratch.append(body.substr(last, m.start(0) - last));
    for (const ReplacementPiece& p : replacement_) {
      if (p.group < 0)
        scratch.append(p.literal);
      else
        scratch.append(m.group(static_cast<uint32_t>(p.group)));  // empty when it took no part
    }
    last = m.end(0);
  });
  if (rc < 0) {
    const uint64_t n = errors_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (javaregex::shouldWarn(n))
      logger_->warn("matching '", regex_->pattern(), "' failed (", javaregex::Regex::message(rc),
                    "); the body is left unchanged (", n, " such events so far)");
    return;
  }
  if (!changed) return;
  scratch.append(body.substr(last));
  event.body.swap(scratch);
  if (scratch.capacity() > kMaxRetainedScratch) std::string().swap(scratch);
}

void SearchAndReplaceInterceptorBuilder::configure(const sdk::Context& context) {
  const std::string pattern = context.requireString("searchPattern");
  std::string error;
  auto regex = javaregex::Regex::compile(pattern, javaregex::Mode::Find, &error);
  if (!regex) context.fail("searchPattern", "cannot compile '" + pattern + "': " + error);

  const std::optional<std::string> replacement = context.getString("replaceString");
  if (!replacement)
    context.fail("replaceString",
                 "is required but missing (give it an empty value to delete the matches)");
  std::vector<ReplacementPiece> pieces;
  if (!parseReplacement(*replacement, *regex, &pieces, &error))
    context.fail("replaceString", "invalid replacement '" + *replacement + "' for searchPattern '" +
                                      pattern + "': " + error);

  const std::string charset = requireValue(context, "charset");
  const std::string cs = lower(charset);
  if (cs != "utf-8" && cs != "utf8" && cs != "unicode-1-1-utf-8")
    context.fail("charset", "only UTF-8 is supported, got '" + charset + "'");

  regex_ = std::move(regex);
  replacement_ = std::move(pieces);
}

std::unique_ptr<sdk::Interceptor> SearchAndReplaceInterceptorBuilder::build() {
  if (!regex_) throw std::logic_error("search_replace: build() before a successful configure()");
  return std::make_unique<SearchAndReplaceInterceptor>(regex_, replacement_, &logger());
}

}  // namespace sluice::plugins::searchreplace
