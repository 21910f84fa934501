// TOML configs are flattened into the same dotted keys a Flume .properties file has, so one
// builder (agent_config.cpp) serves both formats. See parseToml in model.hpp for the mapping.

#include <charconv>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <toml++/toml.h>

#include "core/config/model.hpp"

namespace sluice::core {

namespace {

// Deeper than any sensible config ("a1.sources.r1.interceptors.i1.key" is 6). The cap exists for
// hostile input, see checkNestingDepth.
constexpr int kMaxDepth = 64;

std::string at(const std::string& file, int line) { return file + ":" + std::to_string(line); }

// Messages quote keys; a fuzzer's megabyte-long key should not make a megabyte-long message.
std::string shortKey(std::string_view key) {
  constexpr std::size_t kMax = 120;
  if (key.size() <= kMax) return std::string(key);
  return std::string(key.substr(0, kMax)) + "...";
}

bool isBareKeyChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// toml++ builds and destroys its tree recursively, and a dotted key such as a.a.a... (100k
// segments) is not limited by its TOML_MAX_NESTED_VALUES: it overflows the stack. So before
// handing the text to toml++, estimate how deep keys nest with a small scanner that knows just
// enough TOML (strings, comments, headers, brackets) and refuse anything far deeper than the
// flattener's own limit. The estimate may be off by a level or two on odd but valid input, hence
// the slack; flattening then reports the exact limit.
void checkNestingDepth(std::string_view text, const std::string& file) {
  constexpr int kScanLimit = kMaxDepth * 2;
  struct Open {
    int depth;  // depth of the container node
    bool isArray;
  };
  std::vector<Open> stack;
  int line = 1;
  int base = 0;      // depth of the table the current [header] opened
  int segments = 0;  // segments of the dotted name being read
  bool afterDot = false;
  int lastKeyDepth = 0;  // depth of the key whose value comes next
  bool atLineStart = true;
  bool inHeader = false;
  bool arrayHeader = false;

  auto fail = [&] {
    throw ConfigParseError(at(file, line) + ": keys nest deeper than " + std::to_string(kMaxDepth) +
                           " levels");
  };
  auto context = [&] { return stack.empty() ? base : stack.back().depth; };
  auto segment = [&] {
    segments = afterDot ? segments + 1 : 1;
    afterDot = false;
    if (context() + segments > kScanLimit) fail();
  };
  auto resetName = [&] {
    segments = 0;
    afterDot = false;
  };
  // Skips a string starting at text[i] (the opening quote); returns the index after it. Single-
  // line strings also end at a newline: toml++ rejects that input anyway, and stopping there keeps
  // the scanner in step with the parser up to the point where the parser gives up.
  auto skipString = [&](std::size_t i) {
    const char q = text[i];
    const bool multi = text.substr(i, 3) == std::string_view(q == '"' ? "\"\"\"" : "'''");
    i += multi ? 3 : 1;
    while (i < text.size()) {
      const char c = text[i];
      if (c == '\\' && q == '"') {
        if (i + 1 < text.size() && text[i + 1] == '\n') ++line;
        i += 2;
        continue;
      }
      if (c == '\n') {
        ++line;
        if (!multi) return i;
      }
      if (c == q) {
        if (!multi) return i + 1;
        if (text.substr(i, 3) == std::string_view(q == '"' ? "\"\"\"" : "'''")) return i + 3;
      }
      ++i;
    }
    return i;
  };

  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"' || c == '\'') {
      atLineStart = false;
      i = skipString(i);
      segment();
      continue;
    }
    if (isBareKeyChar(c)) {
      atLineStart = false;
      while (i < text.size() && isBareKeyChar(text[i])) ++i;
      segment();
      continue;
    }
    ++i;
    switch (c) {
      case ' ':
      case '\t':
      case '\r':
        break;
      case '\n':
        ++line;
        atLineStart = true;
        resetName();
        break;
      case '#':
        while (i < text.size() && text[i] != '\n') ++i;
        break;
      case '.':
        afterDot = segments > 0;
        atLineStart = false;
        break;
      case '=':
        lastKeyDepth = context() + segments;
        resetName();
        atLineStart = false;
        break;
      case '[':
        if (stack.empty() && atLineStart && !inHeader) {
          inHeader = true;
          arrayHeader = i < text.size() && text[i] == '[';
          if (arrayHeader) ++i;
          base = 0;
          resetName();
        } else {
          const int parent =
              !stack.empty() && stack.back().isArray ? stack.back().depth + 1 : lastKeyDepth;
          stack.push_back({parent, true});
          if (stack.size() > static_cast<std::size_t>(kScanLimit)) fail();
          resetName();
        }
        atLineStart = false;
        break;
      case '{': {
        const int parent =
            !stack.empty() && stack.back().isArray ? stack.back().depth + 1 : lastKeyDepth;
        stack.push_back({parent, false});
        if (stack.size() > static_cast<std::size_t>(kScanLimit)) fail();
        resetName();
        atLineStart = false;
        break;
      }
      case ']':
        if (inHeader && stack.empty()) {
          inHeader = false;
          base = segments + (arrayHeader ? 1 : 0);
          if (arrayHeader && i < text.size() && text[i] == ']') ++i;
        } else if (!stack.empty()) {
          stack.pop_back();
        }
        resetName();
        break;
      case '}':
        if (!stack.empty()) stack.pop_back();
        resetName();
        break;
      default:
        resetName();
        atLineStart = false;
        break;
    }
    if (context() + segments > kScanLimit || lastKeyDepth > kScanLimit) fail();
  }
}

std::string formatDouble(double d) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string out = ec == std::errc() ? std::string(buf, ptr) : std::to_string(d);
  if (out == "-nan") return "nan";
  // Keep a float recognisable as one ("1.0", as TOML and Java print it, not "1").
  if (out.find_first_not_of("-0123456789") == std::string::npos) out += ".0";
  return out;
}

class Flattener {
 public:
  explicit Flattener(RawConfig& raw) : raw_(raw) {}

  void table(const toml::table& t, const std::string& prefix, int depth) {
    for (auto&& [k, v] : t) {
      std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      node(v, key, depth + 1);
    }
  }

 private:
  void node(const toml::node& n, const std::string& key, int depth) {
    const int line = static_cast<int>(n.source().begin.line);
    if (depth > kMaxDepth)
      throw ConfigParseError(at(raw_.file, line) + ": key '" + shortKey(key) +
                             "' nests deeper than " + std::to_string(kMaxDepth) + " levels");
    if (const toml::table* t = n.as_table()) {
      table(*t, key, depth);
    } else if (const toml::array* a = n.as_array()) {
      array(*a, key, line, depth);
    } else {
      put(key, scalar(n, key, line), line);
    }
  }

  void array(const toml::array& a, const std::string& key, int line, int depth) {
    std::size_t tables = 0;
    for (const toml::node& el : a) {
      if (el.is_array())
        throw ConfigParseError(at(raw_.file, static_cast<int>(el.source().begin.line)) + ": '" +
                               shortKey(key) +
                               "' is an array of arrays; values must be scalars or lists of "
                               "scalars");
      tables += el.is_table() ? 1 : 0;
    }
    if (tables > 0 && tables != a.size())
      throw ConfigParseError(at(raw_.file, line) + ": array '" + shortKey(key) +
                             "' mixes tables and plain values");
    if (tables == 0) {
      std::string joined;
      for (const toml::node& el : a) {
        const int elLine = static_cast<int>(el.source().begin.line);
        std::string v = scalar(el, key, elLine);
        // The list comes back apart by splitting on whitespace, so an element that contains
        // whitespace (or is empty) would silently turn into a different list.
        if (v.empty() || v.find_first_of(" \t\r\n\f,") != std::string::npos)
          throw ConfigParseError(at(raw_.file, elLine) + ": list '" + shortKey(key) +
                                 "' has the element \"" + shortKey(v) +
                                 "\"; list elements must be non-empty and contain no spaces or "
                                 "commas");
        if (!joined.empty()) joined += ' ';
        joined += v;
      }
      put(key, joined, line);
      return;
    }
    // An array of tables: a name list plus one sub-table per element, as Flume spells
    // `interceptors = i1 i2` with `interceptors.i1.type = ...`.
    std::string names;
    std::size_t index = 0;
    std::vector<std::string> seen;
    int listLine = line;
    for (const toml::node& el : a) {
      ++index;
      const toml::table& t = *el.as_table();
      const int elLine = static_cast<int>(el.source().begin.line);
      if (index == 1) listLine = elLine;
      std::string name = std::to_string(index);
      if (const toml::node* id = t.get("id")) {
        const int idLine = static_cast<int>(id->source().begin.line);
        if (const auto* s = id->as_string()) {
          name = s->get();
        } else if (const auto* i = id->as_integer()) {
          name = std::to_string(i->get());
        } else {
          throw ConfigParseError(at(raw_.file, idLine) + ": '" + shortKey(key) +
                                 ".id' must be a string naming the element");
        }
        if (name.empty() || name.find_first_of(". \t\r\n\f,") != std::string::npos)
          throw ConfigParseError(at(raw_.file, idLine) + ": '" + shortKey(key) + ".id' is \"" +
                                 shortKey(name) +
                                 "\"; an id must be non-empty and contain no dots, spaces or "
                                 "commas");
      }
      for (const std::string& s : seen)
        if (s == name)
          throw ConfigParseError(at(raw_.file, elLine) + ": two elements of '" + shortKey(key) +
                                 "' are both named '" + shortKey(name) + "'");
      seen.push_back(name);
      if (!names.empty()) names += ' ';
      names += name;
      const std::string prefix = key + "." + name;
      if (depth + 1 > kMaxDepth)
        throw ConfigParseError(at(raw_.file, elLine) + ": key '" + shortKey(prefix) +
                               "' nests deeper than " + std::to_string(kMaxDepth) + " levels");
      for (auto&& [k, v] : t) {
        // `id` only names the element; it is not a setting of the component.
        if (k.str() == "id") continue;
        node(v, prefix + "." + std::string(k.str()), depth + 2);
      }
    }
    put(key, names, listLine);
  }

  std::string scalar(const toml::node& n, const std::string& key, int line) {
    switch (n.type()) {
      case toml::node_type::string:
        return n.as_string()->get();
      case toml::node_type::integer:
        return std::to_string(n.as_integer()->get());
      case toml::node_type::floating_point:
        return formatDouble(n.as_floating_point()->get());
      case toml::node_type::boolean:
        return n.as_boolean()->get() ? "true" : "false";
      case toml::node_type::date: {
        std::ostringstream os;
        os << *n.as_date();
        return os.str();
      }
      case toml::node_type::time: {
        std::ostringstream os;
        os << *n.as_time();
        return os.str();
      }
      case toml::node_type::date_time: {
        std::ostringstream os;
        os << *n.as_date_time();
        return os.str();
      }
      default:
        throw ConfigParseError(at(raw_.file, line) + ": '" + shortKey(key) +
                               "' has a value of an unsupported kind");
    }
  }

  void put(const std::string& key, std::string value, int line) {
    auto [it, inserted] =
        raw_.entries.try_emplace(key, sdk::Parameter{std::move(value), {raw_.file, line}});
    // Distinct TOML keys can flatten to one name: a."b.c" and a.b.c, or an element id that
    // equals a quoted sibling key. Picking one silently would hide the other.
    if (!inserted)
      throw ConfigParseError(at(raw_.file, line) + ": key '" + shortKey(key) +
                             "' is defined twice after flattening dotted names (also at line " +
                             std::to_string(it->second.where.line) + ")");
  }

  RawConfig& raw_;
};

}  // namespace

RawConfig parseToml(std::string_view text, const std::string& file) {
  RawConfig raw;
  raw.file = file;
  checkNestingDepth(text, file);
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(file));
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    throw ConfigParseError(file + ":" + std::to_string(b.line) + ":" + std::to_string(b.column) +
                           ": " + std::string(e.description()));
  }
  Flattener(raw).table(root, "", 0);
  return raw;
}

}  // namespace sluice::core
