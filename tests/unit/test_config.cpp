// Config loading: both file formats, flattening, the agent model and every structural diagnostic;
// the host's schema check (the Context configure() receives) and its own key sets (sink
// processors, monitoring).

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "core/config/config_source.hpp"
#include "core/config/model.hpp"
#include "core/config/suggest.hpp"
#include "core/monitoring/options.hpp"
#include "core/plugin/host_schemas.hpp"
#include "core/plugin/schema_check.hpp"
#include "core/runtime/sink_processor.hpp"

using namespace sluice::core;
namespace sdk = sluice::sdk;

namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
  static String convert(const std::vector<std::string>& v) {
    std::string out = "{";
    for (const auto& s : v) out += "\n  \"" + s + "\"";
    return (out + "}").c_str();
  }
};
}  // namespace doctest

namespace {

const std::string kProps = "conf/a.properties";
const std::string kToml = "conf/a.toml";

RawConfig props(std::string_view text, Diagnostics* diags = nullptr) {
  return parseProperties(text, kProps, diags);
}

std::string value(const RawConfig& raw, const std::string& key) {
  auto it = raw.entries.find(key);
  REQUIRE_MESSAGE(it != raw.entries.end(), "missing key " << key);
  return it->second.value;
}

int lineOf(const RawConfig& raw, const std::string& key) {
  auto it = raw.entries.find(key);
  REQUIRE_MESSAGE(it != raw.entries.end(), "missing key " << key);
  return it->second.where.line;
}

std::string dump(const Diagnostics& d) {
  std::string out;
  for (const auto& i : d.items())
    out += (i.severity == Diagnostic::Severity::Error ? "E: " : "W: ") + i.message + "\n";
  return out;
}

// The diagnostics of a given severity whose message contains every part.
std::vector<std::string> find(const Diagnostics& d, Diagnostic::Severity sev,
                              const std::vector<std::string_view>& parts) {
  std::vector<std::string> out;
  for (const auto& i : d.items()) {
    if (i.severity != sev) continue;
    bool all = true;
    for (auto p : parts) all = all && i.message.find(p) != std::string::npos;
    if (all) out.push_back(i.message);
  }
  return out;
}

bool hasError(const Diagnostics& d, const std::vector<std::string_view>& parts) {
  return !find(d, Diagnostic::Severity::Error, parts).empty();
}
bool hasWarning(const Diagnostics& d, const std::vector<std::string_view>& parts) {
  return !find(d, Diagnostic::Severity::Warning, parts).empty();
}
std::size_t warningCount(const Diagnostics& d) { return d.items().size() - d.errorCount(); }

std::string parseErrorOf(auto&& fn) {
  try {
    fn();
  } catch (const ConfigParseError& e) {
    return e.what();
  }
  return "<no ConfigParseError>";
}

AgentConfig buildProps(std::string_view text, Diagnostics& diags, const std::string& agent = "a1") {
  return buildAgentConfig(props(text), agent, diags);
}

// Everything a runtime would use from the model, without locations, for comparing two models.
std::string describe(const AgentConfig& a) {
  std::ostringstream os;
  auto ctx = [&](const sluice::sdk::Context& c) {
    os << "  path=" << c.path() << "\n";
    for (const auto& [k, p] : c.parameters()) os << "    " << k << "=" << p.value << "\n";
  };
  auto comp = [&](std::string_view kind, const ComponentConfig& c) {
    os << kind << " " << c.name << " type=" << c.type << "\n";
    ctx(c.context);
  };
  os << "agent " << a.agent << "\n";
  for (const auto& s : a.sources) {
    comp("source", s);
    os << "  channels=";
    for (const auto& c : s.channels) os << c << ",";
    os << "\n";
    comp("selector", s.selector);
    for (const auto& i : s.interceptors) comp("interceptor", i);
  }
  for (const auto& c : a.channels) comp("channel", c);
  for (const auto& s : a.sinks) {
    comp("sink", s);
    os << "  channel=" << s.channel << "\n";
  }
  for (const auto& g : a.sinkgroups) {
    os << "group " << g.name << " sinks=";
    for (const auto& s : g.sinks) os << s << ",";
    os << "\n";
    comp("processor", g.processor);
  }
  return os.str();
}

// A scratch directory removed at scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/sluice-config-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& name, std::string_view text) const {
    const auto p = path / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// .properties syntax

TEST_CASE("properties: separators as java.util.Properties reads them") {
  const RawConfig raw = props(
      "a=1\n"
      "b:2\n"
      "c 3\n"
      "d = 4\n"
      "e : 5\n"
      "f\t6\n"
      "g = = 7\n"
      "h  :  8\n"
      "i=\n"
      "j\n"
      "k=v=w:x\n"
      "l\f9\n");
  CHECK(raw.file == kProps);
  CHECK(value(raw, "a") == "1");
  CHECK(value(raw, "b") == "2");
  CHECK(value(raw, "c") == "3");
  CHECK(value(raw, "d") == "4");
  CHECK(value(raw, "e") == "5");
  CHECK(value(raw, "f") == "6");
  CHECK(value(raw, "g") == "= 7");  // only one separator is consumed after whitespace
  CHECK(value(raw, "h") == "8");
  CHECK(value(raw, "i") == "");
  CHECK(value(raw, "j") == "");
  CHECK(value(raw, "k") == "v=w:x");
  CHECK(value(raw, "l") == "9");
  CHECK(raw.entries.size() == 12);
}

TEST_CASE("properties: comments, blank lines, indentation and trimming") {
  const RawConfig raw = props(
      "# a comment\n"
      "! another comment\n"
      "   # indented comment\n"
      "\n"
      "   \t \n"
      "   indented.key = indented value\n"
      "a = b # not a comment\n"
      "c = trailing spaces   \t\n"
      "d=x!y\n");
  CHECK(raw.entries.size() == 4);
  CHECK(value(raw, "indented.key") == "indented value");
  CHECK(value(raw, "a") == "b # not a comment");
  CHECK(value(raw, "c") == "trailing spaces");  // Flume trims values, Java does not
  CHECK(value(raw, "d") == "x!y");
  CHECK(lineOf(raw, "indented.key") == 6);
  CHECK(lineOf(raw, "a") == 7);
  CHECK(lineOf(raw, "d") == 9);
}

TEST_CASE("properties: backslash continuation") {
  const RawConfig raw = props(
      "list = one \\\n"
      "       two \\\n"
      "  three\n"
      "after = 1\n"
      "even = x\\\\\n"
      "next = 2\n"
      "# comment ending in backslash \\\n"
      "notSwallowed = 3\n"
      "hash = 1\\\n"
      "  # 2\n"
      "blank = x\\\n"
      "\n"
      "b2 = y\n"
      "eof = z\\");
  CHECK(value(raw, "list") == "one two three");
  CHECK(lineOf(raw, "list") == 1);
  CHECK(value(raw, "after") == "1");
  CHECK(lineOf(raw, "after") == 4);
  CHECK(value(raw, "even") == "x\\");  // an even run of backslashes does not continue
  CHECK(value(raw, "next") == "2");
  CHECK(value(raw, "notSwallowed") == "3");  // comments never continue
  CHECK(lineOf(raw, "notSwallowed") == 8);
  CHECK(value(raw, "hash") == "1# 2");  // '#' on a continuation line is text
  CHECK(value(raw, "blank") == "x");
  CHECK(value(raw, "b2") == "y");
  CHECK(lineOf(raw, "b2") == 13);
  CHECK(value(raw, "eof") == "z");  // a dangling backslash at EOF is dropped
}

TEST_CASE("properties: a key continued over lines") {
  const RawConfig raw = props("a1.sources.\\\n    r1.type = netcat\n");
  CHECK(value(raw, "a1.sources.r1.type") == "netcat");
  CHECK(lineOf(raw, "a1.sources.r1.type") == 1);
}

TEST_CASE("properties: escapes") {
  const RawConfig raw = props(
      "tab = a\\tb\n"
      "ctl = |\\n\\r\\f|\n"
      "bs = c:\\\\dir\\\\file\n"
      "uni = \\u00e9\\u20AC\\u0041\n"
      "pair = \\uD83D\\uDE00\n"
      "lone = x\\uD800y\n"
      "other = \\q\\z\n"
      "my\\ key\\=x\\:y = v\n"
      "\\#notcomment = 1\n"
      "sp = \\ leading\n");
  CHECK(value(raw, "tab") == "a\tb");
  CHECK(value(raw, "ctl") == "|\n\r\f|");
  CHECK(value(raw, "bs") == "c:\\dir\\file");
  CHECK(value(raw, "uni") ==
        "\xC3\xA9\xE2\x82\xAC"
        "A");
  CHECK(value(raw, "pair") == "\xF0\x9F\x98\x80");
  CHECK(value(raw, "lone") == "x\xEF\xBF\xBDy");
  CHECK(value(raw, "other") == "qz");
  CHECK(value(raw, "my key=x:y") == "v");
  CHECK(value(raw, "#notcomment") == "1");
  CHECK(value(raw, "sp") == "leading");  // escaped leading space, then Flume's trim
}

TEST_CASE("properties: line numbers with CRLF, CR and LF line ends") {
  const RawConfig raw = props("a = 1\r\n\r\n# c\r\nb = 2\rc = 3\n\nd = \\\r\n  4\r\ne = 5");
  CHECK(lineOf(raw, "a") == 1);
  CHECK(lineOf(raw, "b") == 4);
  CHECK(lineOf(raw, "c") == 5);
  CHECK(lineOf(raw, "d") == 7);
  CHECK(value(raw, "d") == "4");
  CHECK(lineOf(raw, "e") == 9);
  CHECK(raw.entries.at("e").where.file == kProps);
  CHECK(raw.entries.at("e").where.str() == "conf/a.properties:9");
}

TEST_CASE("properties: a UTF-8 byte order mark does not become part of the first key") {
  const RawConfig raw = props(
      "\xEF\xBB\xBF"
      "a1.sources = r1\n");
  CHECK(value(raw, "a1.sources") == "r1");
}

TEST_CASE("properties: malformed \\u escape names file and line") {
  CHECK(parseErrorOf([] {
          props("a = 1\n\nb = x\\u12G4\n");
        }).starts_with("conf/a.properties:3: malformed \\uXXXX escape"));
  CHECK(parseErrorOf([] {
          props("a = 1\nb = x\\u12");
        }).starts_with("conf/a.properties:2: malformed \\uXXXX escape"));
  CHECK(parseErrorOf([] {
          props("k\\uZZ = 1");
        }).starts_with("conf/a.properties:1: malformed \\uXXXX escape"));
  // Inside a continued value the physical line of the escape is reported.
  const std::string msg = parseErrorOf([] { props("a = one \\\n  two \\\n  \\u00\n"); });
  CHECK(msg.starts_with("conf/a.properties:3: malformed \\uXXXX escape"));
  CHECK(msg.find("'a'") != std::string::npos);
}

TEST_CASE("properties: a repeated key, the last one wins with a warning") {
  Diagnostics diags;
  const RawConfig raw =
      props("a1.channels.c1.capacity = 10\nx = 1\na1.channels.c1.capacity = 20\n", &diags);
  CHECK(value(raw, "a1.channels.c1.capacity") == "20");
  CHECK(lineOf(raw, "a1.channels.c1.capacity") == 3);
  REQUIRE(diags.items().size() == 1);
  CHECK(diags.items()[0].severity == Diagnostic::Severity::Warning);
  CHECK(diags.items()[0].message ==
        "conf/a.properties:3: key 'a1.channels.c1.capacity' repeats the one at line 1; the last "
        "one wins");
  // Without diags it still parses.
  CHECK(value(props("x = 1\nx = 2\n"), "x") == "2");
}

TEST_CASE("properties: a line without a key is ignored with a warning") {
  Diagnostics diags;
  const RawConfig raw = props("= orphan\na = 1\n", &diags);
  CHECK(raw.entries.size() == 1);
  CHECK(hasWarning(diags, {"conf/a.properties:1", "no key"}));
}

TEST_CASE("properties: arbitrary bytes never crash the parser") {
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 131 + 7) % 256);
  for (std::size_t cut = 0; cut < junk.size(); cut += 97) {
    try {
      props(std::string_view(junk).substr(cut));
    } catch (const ConfigParseError&) {
    }
  }
  CHECK(value(props("k=\\"), "k") == "");
  CHECK(props("\\").entries.empty());  // the lone backslash is a continuation at EOF
}

// ---------------------------------------------------------------------------------------------
// TOML flattening

TEST_CASE("toml: scalars, tables and lists flatten to Flume keys") {
  const RawConfig raw = parseToml(R"TOML(# comment
[a1.sources.r1]
type = "netcat"
port = 44444
enabled = true
off = false
ratio = 0.5
whole = 1.0
big = 1e300
neg = -17
hex = 0xff
channels = ["c1", "c2"]
ports = [1, 2, 3]
empty = []
day = 2024-01-02
ts = 1979-05-27T07:32:00Z
t = 07:32:00
selector.type = "multiplexing"
selector.mapping.CZ = "c1"

[a1.channels.c1]
type = "memory"
)TOML",
                                  kToml);
  CHECK(raw.file == kToml);
  CHECK(value(raw, "a1.sources.r1.type") == "netcat");
  CHECK(value(raw, "a1.sources.r1.port") == "44444");
  CHECK(value(raw, "a1.sources.r1.enabled") == "true");
  CHECK(value(raw, "a1.sources.r1.off") == "false");
  CHECK(value(raw, "a1.sources.r1.ratio") == "0.5");
  CHECK(value(raw, "a1.sources.r1.whole") == "1.0");
  CHECK(value(raw, "a1.sources.r1.big") == "1e+300");
  CHECK(value(raw, "a1.sources.r1.neg") == "-17");
  CHECK(value(raw, "a1.sources.r1.hex") == "255");
  CHECK(value(raw, "a1.sources.r1.channels") == "c1 c2");
  CHECK(value(raw, "a1.sources.r1.ports") == "1 2 3");
  CHECK(value(raw, "a1.sources.r1.empty") == "");
  CHECK(value(raw, "a1.sources.r1.day") == "2024-01-02");
  CHECK(value(raw, "a1.sources.r1.ts") == "1979-05-27T07:32:00Z");
  CHECK(value(raw, "a1.sources.r1.t") == "07:32:00");
  CHECK(value(raw, "a1.sources.r1.selector.type") == "multiplexing");
  CHECK(value(raw, "a1.sources.r1.selector.mapping.CZ") == "c1");
  CHECK(value(raw, "a1.channels.c1.type") == "memory");
  CHECK(raw.entries.size() == 18);
  CHECK(lineOf(raw, "a1.sources.r1.type") == 3);
  CHECK(lineOf(raw, "a1.sources.r1.channels") == 12);
  CHECK(lineOf(raw, "a1.sources.r1.selector.mapping.CZ") == 19);
  CHECK(lineOf(raw, "a1.channels.c1.type") == 22);
  CHECK(raw.entries.at("a1.channels.c1.type").where.str() == "conf/a.toml:22");
}

TEST_CASE("toml: arrays of tables become a name list plus sub-tables") {
  const RawConfig raw = parseToml(R"TOML([a1.sources.r1]
type = "netcat"

[[a1.sources.r1.interceptors]]
id = "ts"
type = "timestamp"

[[a1.sources.r1.interceptors]]
type = "host"
hostHeader = "hostname"

[[a1.sources.r1.interceptors]]
type = "static"
key = "dc"
)TOML",
                                  kToml);
  CHECK(value(raw, "a1.sources.r1.interceptors") == "ts 2 3");
  CHECK(lineOf(raw, "a1.sources.r1.interceptors") == 4);
  CHECK(value(raw, "a1.sources.r1.interceptors.ts.type") == "timestamp");
  CHECK(raw.entries.count("a1.sources.r1.interceptors.ts.id") == 0);  // id only names it
  CHECK(value(raw, "a1.sources.r1.interceptors.2.type") == "host");
  CHECK(value(raw, "a1.sources.r1.interceptors.2.hostHeader") == "hostname");
  CHECK(lineOf(raw, "a1.sources.r1.interceptors.2.hostHeader") == 10);
  CHECK(value(raw, "a1.sources.r1.interceptors.3.key") == "dc");

  // Inline tables in an array work the same.
  const RawConfig inl = parseToml(
      "[a1.sources.r1]\ninterceptors = [ { type = \"timestamp\" }, { id = \"h\", type = \"host\" } "
      "]\n",
      kToml);
  CHECK(value(inl, "a1.sources.r1.interceptors") == "1 h");
  CHECK(value(inl, "a1.sources.r1.interceptors.1.type") == "timestamp");
  CHECK(value(inl, "a1.sources.r1.interceptors.h.type") == "host");
}

TEST_CASE("toml: what the flat form cannot express is an error naming key and line") {
  std::string msg =
      parseErrorOf([] { parseToml("[a1.sources.r1]\n\nx = [[1, 2], [3]]\n", kToml); });
  CHECK(msg.starts_with("conf/a.toml:3:"));
  CHECK(msg.find("'a1.sources.r1.x'") != std::string::npos);
  CHECK(msg.find("array of arrays") != std::string::npos);

  msg = parseErrorOf([] { parseToml("a = 1\nx = [1, { a = 1 }]\n", kToml); });
  CHECK(msg.starts_with("conf/a.toml:2:"));
  CHECK(msg.find("'x'") != std::string::npos);

  msg = parseErrorOf([] { parseToml("a = 1\ncmd = [\"tail -F\", \"x\"]\n", kToml); });
  CHECK(msg.starts_with("conf/a.toml:2:"));
  CHECK(msg.find("'cmd'") != std::string::npos);

  msg = parseErrorOf([] { parseToml("a.b.c = 1\na.\"b.c\" = 2\n", kToml); });
  CHECK(msg.find("'a.b.c'") != std::string::npos);
  CHECK(msg.find("defined twice") != std::string::npos);

  msg = parseErrorOf([] {
    parseToml("[[a.i]]\nid = \"x\"\ntype = \"t\"\n[[a.i]]\nid = \"x\"\ntype = \"u\"\n", kToml);
  });
  CHECK(msg.starts_with("conf/a.toml:4:"));
  CHECK(msg.find("'x'") != std::string::npos);

  msg = parseErrorOf([] { parseToml("[[a.i]]\nid = \"x.y\"\n", kToml); });
  CHECK(msg.starts_with("conf/a.toml:2:"));
}

TEST_CASE("toml: a syntax error names file:line:col") {
  const std::string msg =
      parseErrorOf([] { parseToml("[a1.sources.r1]\ntype = \"netcat\"\nport = = 3\n", kToml); });
  CHECK(msg.starts_with("conf/a.toml:3:"));
  CHECK(msg.size() > std::string("conf/a.toml:3:").size() + 4);
  CHECK(parseErrorOf([] { parseToml("a = 1\na = 2\n", kToml); }).starts_with("conf/a.toml:2:"));
  CHECK(parseErrorOf([] { parseToml("a = \"\xff\"\n", kToml); }).starts_with("conf/a.toml:1:"));
}

TEST_CASE("toml: nesting is capped at 64 levels without crashing") {
  auto chain = [](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += i ? ".k" : "k";
    return s;
  };
  // 64 segments in all is fine.
  const RawConfig ok = parseToml("[" + chain(63) + "]\nv = 1\n", kToml);
  CHECK(ok.entries.size() == 1);
  CHECK(ok.entries.begin()->second.value == "1");
  // 65 is not.
  CHECK(parseErrorOf([&] {
          parseToml("[" + chain(64) + "]\nv = 1\n", kToml);
        }).find("nests deeper than 64 levels") != std::string::npos);
  CHECK(parseErrorOf([&] {
          parseToml(chain(70) + " = 1\n", kToml);
        }).find("deeper than 64 levels") != std::string::npos);
  // Hostile depth that would overflow toml++'s own recursion is refused before parsing.
  const std::string msg =
      parseErrorOf([&] { parseToml("\n[" + chain(200000) + "]\nv = 1\n", kToml); });
  CHECK(msg.starts_with("conf/a.toml:2: "));
  CHECK(msg.find("deeper than 64 levels") != std::string::npos);
  std::string inl = "a = ";
  for (int i = 0; i < 5000; ++i) inl += "{ b = ";
  inl += "1";
  for (int i = 0; i < 5000; ++i) inl += " }";
  CHECK(parseErrorOf([&] { parseToml(inl, kToml); }).starts_with("conf/a.toml:1:"));
  std::string arr = "a = " + std::string(3000, '[') + std::string(3000, ']') + "\n";
  CHECK(parseErrorOf([&] { parseToml(arr, kToml); }).starts_with("conf/a.toml:1:"));
  // Dots inside strings and comments are not nesting.
  const std::string many =
      "s = \"" + chain(500) + "\" # " + chain(500) + "\nm = '''\n" + chain(500) + "\n'''\n";
  const RawConfig strs = parseToml(many, kToml);
  CHECK(value(strs, "s") == chain(500));
  CHECK(lineOf(strs, "m") == 2);
}

TEST_CASE("toml: arbitrary bytes never crash the parser") {
  std::string junk = "[a]\nb = [1, {c = \"d\"}]\n";
  for (int i = 0; i < 2048; ++i) junk += static_cast<char>("[]{}=.\"'#\n ab1,"[(i * 7919) % 16]);
  // Every prefix either parses or is refused with a ConfigParseError naming the file and line
  // (anything else escapes and fails the test).
  int parsed = 0, refused = 0;
  for (std::size_t cut = 0; cut < junk.size(); cut += 61) {
    try {
      parseToml(std::string_view(junk).substr(0, cut), kToml);
      ++parsed;
    } catch (const ConfigParseError& e) {
      ++refused;
      CHECK_MESSAGE(std::string_view(e.what()).starts_with(kToml + ":"), e.what());
    }
  }
  CHECK(parsed >= 1);  // the empty prefix, at least
  CHECK(refused >= 1);
}

// ---------------------------------------------------------------------------------------------
// Files, overrides and agent names

TEST_CASE("loadConfigFile picks the parser by extension and reports unreadable files") {
  TempDir dir;
  const std::string p = dir.write("agent.properties", "a1.channels = c1\na1.channels = c2\n");
  const std::string t = dir.write("agent.TOML", "[a1.channels.c1]\ntype = \"memory\"\n");
  const std::string c = dir.write("agent.conf", "a1.channels.c1.type: memory\n");

  Diagnostics diags;
  const RawConfig rp = loadConfigFile(p, diags);
  CHECK(rp.file == p);
  CHECK(value(rp, "a1.channels") == "c2");
  CHECK(hasWarning(diags, {p + ":2", "repeats the one at line 1"}));
  CHECK(value(loadConfigFile(t), "a1.channels.c1.type") == "memory");
  CHECK(loadConfigFile(t).entries.at("a1.channels.c1.type").where.str() == t + ":2");
  CHECK(value(loadConfigFile(c), "a1.channels.c1.type") == "memory");
  CHECK(isTomlPath("x/y.toml"));
  CHECK_FALSE(isTomlPath("x/toml.properties"));

  const std::string missing = (dir.path / "nope.properties").string();
  CHECK(parseErrorOf([&] { loadConfigFile(missing); }) ==
        "cannot read config file '" + missing + "': No such file or directory");
  CHECK(parseErrorOf([&] { loadConfigFile(dir.path.string()); }) ==
        "cannot read config file '" + dir.path.string() + "': Is a directory");
  const std::string bad = dir.write("bad.toml", "a = \n");
  CHECK(parseErrorOf([&] { loadConfigFile(bad); }).starts_with(bad + ":1:"));
}

TEST_CASE("-D overrides replace and add keys, located at -D") {
  RawConfig raw = props(
      "a1.sources = r1\n"
      "a1.channels = c1\n"
      "a1.sinks = k1\n"
      "a1.sources.r1.type = netcat\n"
      "a1.sources.r1.channels = c1\n"
      "a1.channels.c1.type = memory\n"
      "a1.channels.c1.capacity = 1000\n"
      "a1.sinks.k1.type = logger\n"
      "a1.sinks.k1.channel = c1\n");
  applyOverrides(raw, {{"a1.channels.c1.capacity", "50"},
                       {" a1.sources.r1.port ", " 4141 "},
                       {"a1.sinks.k1.channel", "c9"}});
  CHECK(value(raw, "a1.channels.c1.capacity") == "50");
  CHECK(raw.entries.at("a1.channels.c1.capacity").where.str() == "-D");
  CHECK(value(raw, "a1.sources.r1.port") == "4141");

  Diagnostics diags;
  const AgentConfig a = buildAgentConfig(raw, "a1", diags);
  REQUIRE(a.channels.size() == 1);
  CHECK(a.channels[0].context.getLong("capacity") == 50);
  CHECK(a.sources.at(0).context.getInteger("port") == 4141);
  // An error in an overridden key points at -D, not at the file.
  CHECK(find(diags, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{"a1.sinks.k1.channel: channel 'c9' is not defined (agent a1 "
                                 "defines: c1) (-D)"});
  CHECK(parseErrorOf([&] {
          applyOverrides(raw, {{" ", "x"}});
        }).find("empty key") != std::string::npos);
}

TEST_CASE("agentNames lists the agents of a file, each once") {
  const RawConfig raw = props(
      "agent2.sources = r1\n"
      "a1.channels.c1.type = memory\n"
      "a1.sinks.k1.type = logger\n"
      "notes.author = me\n"
      "plain = 1\n"
      "a3.sinkgroups = g1\n");
  CHECK(agentNames(raw) == std::vector<std::string>{"a1", "a3", "agent2"});
  CHECK(agentNames(props("")).empty());
}

// ---------------------------------------------------------------------------------------------
// The Flume user guide's examples

TEST_CASE("user guide: netcat -> memory -> logger") {
  const char* text = R"PROPS(# example.conf: A single-node Flume configuration

# Name the components on this agent
a1.sources = r1
a1.sinks = k1
a1.channels = c1

# Describe/configure the source
a1.sources.r1.type = netcat
a1.sources.r1.bind = localhost
a1.sources.r1.port = 44444

# Describe the sink
a1.sinks.k1.type = logger

# Use a channel which buffers events in memory
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 100

# Bind the source and sink to the channel
a1.sources.r1.channels = c1
a1.sinks.k1.channel = c1
)PROPS";
  Diagnostics diags;
  const AgentConfig a = buildProps(text, diags);
  CHECK_MESSAGE(diags.items().empty(), dump(diags));
  CHECK(a.agent == "a1");
  CHECK(a.file == kProps);
  REQUIRE(a.sources.size() == 1);
  const SourceConfig& r1 = a.sources[0];
  CHECK(r1.name == "r1");
  CHECK(r1.type == "netcat");
  CHECK(r1.typeWhere.str() == "conf/a.properties:9");
  CHECK(r1.channels == std::vector<std::string>{"c1"});
  CHECK(r1.context.path() == "a1.sources.r1");
  CHECK(r1.context.getString("bind") == "localhost");
  CHECK(r1.context.getInteger("port") == 44444);
  CHECK(r1.context.getString("channels") == "c1");  // framework keys stay visible
  CHECK(r1.context.parameters().size() == 4);
  CHECK(r1.context.describe("port") == "a1.sources.r1.port (conf/a.properties:11)");
  CHECK(r1.selector.type == "replicating");
  CHECK(r1.selector.name == "r1");
  CHECK(r1.selector.context.path() == "a1.sources.r1.selector");
  CHECK(r1.selector.context.parameters().empty());
  CHECK(r1.interceptors.empty());

  REQUIRE(a.channels.size() == 1);
  CHECK(a.channels[0].name == "c1");
  CHECK(a.channels[0].type == "memory");
  CHECK(a.channels[0].context.getLong("capacity") == 1000);
  CHECK(a.channels[0].context.getLong("transactionCapacity") == 100);
  CHECK(a.findChannel("c1") == &a.channels[0]);
  CHECK(a.findChannel("c2") == nullptr);

  REQUIRE(a.sinks.size() == 1);
  CHECK(a.sinks[0].name == "k1");
  CHECK(a.sinks[0].type == "logger");
  CHECK(a.sinks[0].channel == "c1");
  CHECK(a.sinks[0].context.path() == "a1.sinks.k1");
  CHECK(a.sinkgroups.empty());
}

TEST_CASE("user guide: multiplexing selector") {
  const char* text = R"PROPS(a1.sources = r1
a1.channels = c1 c2 c3 c4
a1.sinks = k1 k2 k3 k4
a1.sources.r1.type = avro
a1.sources.r1.bind = 0.0.0.0
a1.sources.r1.port = 4141
a1.sources.r1.channels = c1 c2 c3 c4
a1.sources.r1.selector.type = multiplexing
a1.sources.r1.selector.header = state
a1.sources.r1.selector.mapping.CZ = c1
a1.sources.r1.selector.mapping.US = c2 c3
a1.sources.r1.selector.default = c4
a1.sources.r1.selector.optional.CZ = c4 c2
a1.channels.c1.type = memory
a1.channels.c2.type = memory
a1.channels.c3.type = memory
a1.channels.c4.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
a1.sinks.k2.type = logger
a1.sinks.k2.channel = c2
a1.sinks.k3.type = logger
a1.sinks.k3.channel = c3
a1.sinks.k4.type = logger
a1.sinks.k4.channel = c4
)PROPS";
  Diagnostics diags;
  const AgentConfig a = buildProps(text, diags);
  CHECK_MESSAGE(diags.items().empty(), dump(diags));
  REQUIRE(a.sources.size() == 1);
  const SourceConfig& r1 = a.sources[0];
  CHECK(r1.channels == std::vector<std::string>{"c1", "c2", "c3", "c4"});
  CHECK(r1.selector.type == "multiplexing");
  CHECK(r1.selector.typeWhere.line == 8);
  const auto& sel = r1.selector.context;
  CHECK(sel.path() == "a1.sources.r1.selector");
  CHECK(sel.getString("header") == "state");
  CHECK(sel.getNames("mapping.US") == std::vector<std::string>{"c2", "c3"});
  CHECK(sel.getString("mapping.CZ") == "c1");
  CHECK(sel.getString("default") == "c4");
  CHECK(sel.getNames("optional.CZ") == std::vector<std::string>{"c4", "c2"});
  CHECK(sel.getSubProperties("mapping.").getParameters() ==
        std::map<std::string, std::string>{{"CZ", "c1"}, {"US", "c2 c3"}});
  CHECK(sel.describe("default") == "a1.sources.r1.selector.default (conf/a.properties:12)");
  // The source's own context keeps the selector keys, as Flume passes them.
  CHECK(r1.context.getString("selector.header") == "state");
  CHECK(a.channels.size() == 4);
  CHECK(a.sinks.size() == 4);

  // A mapping to a channel the source does not write to is an error at its line.
  Diagnostics bad;
  std::string t2 = text;
  t2.replace(t2.find("mapping.US = c2 c3"), 18, "mapping.US = c2 c5");
  buildProps(t2, bad);
  CHECK(find(bad, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{"a1.sources.r1.selector.mapping.US: channel 'c5' is not one of "
                                 "the source's channels (c1, c2, c3, c4) (conf/a.properties:11)"});
}

TEST_CASE("user guide: interceptors") {
  const char* text = R"PROPS(a1.sources = r1
a1.sinks = k1
a1.channels = c1
a1.sources.r1.type = seq
a1.sources.r1.channels = c1
a1.sources.r1.interceptors = i1 i2
a1.sources.r1.interceptors.i1.type = org.apache.flume.interceptor.HostInterceptor$Builder
a1.sources.r1.interceptors.i1.preserveExisting = false
a1.sources.r1.interceptors.i1.hostHeader = hostname
a1.sources.r1.interceptors.i2.type = org.apache.flume.interceptor.TimestampInterceptor$Builder
a1.sinks.k1.type = hdfs
a1.sinks.k1.hdfs.filePrefix = FlumeData.%{CollectorHost}.%Y-%m-%d
a1.sinks.k1.channel = c1
a1.channels.c1.type = memory
)PROPS";
  Diagnostics diags;
  const AgentConfig a = buildProps(text, diags);
  CHECK_MESSAGE(diags.items().empty(), dump(diags));
  REQUIRE(a.sources.size() == 1);
  const auto& is = a.sources[0].interceptors;
  REQUIRE(is.size() == 2);
  CHECK(is[0].name == "i1");
  CHECK(is[0].type == "org.apache.flume.interceptor.HostInterceptor$Builder");
  CHECK(is[0].typeWhere.line == 7);
  CHECK(is[0].context.path() == "a1.sources.r1.interceptors.i1");
  CHECK(is[0].context.getBoolean("preserveExisting") == false);
  CHECK(is[0].context.getString("hostHeader") == "hostname");
  CHECK(is[0].context.parameters().size() == 3);
  CHECK(is[1].name == "i2");
  CHECK(is[1].type == "org.apache.flume.interceptor.TimestampInterceptor$Builder");
  CHECK(a.sinks[0].context.getString("hdfs.filePrefix") == "FlumeData.%{CollectorHost}.%Y-%m-%d");

  // The list decides the chain order, not the key order.
  std::string reversed = text;
  reversed.replace(reversed.find("= i1 i2"), 7, "= i2 i1");
  Diagnostics d2;
  const AgentConfig b = buildProps(reversed, d2);
  REQUIRE(b.sources.at(0).interceptors.size() == 2);
  CHECK(b.sources[0].interceptors[0].name == "i2");
  CHECK(b.sources[0].interceptors[1].name == "i1");
}

TEST_CASE("user guide: failover sink group") {
  const char* text = R"PROPS(a1.sources = r1
a1.channels = c1
a1.sinks = k1 k2
a1.sinkgroups = g1
a1.sources.r1.type = netcat
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = avro
a1.sinks.k1.channel = c1
a1.sinks.k2.type = avro
a1.sinks.k2.channel = c1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = failover
a1.sinkgroups.g1.processor.priority.k1 = 5
a1.sinkgroups.g1.processor.priority.k2 = 10
a1.sinkgroups.g1.processor.maxpenalty = 10000
)PROPS";
  Diagnostics diags;
  const AgentConfig a = buildProps(text, diags);
  CHECK_MESSAGE(diags.items().empty(), dump(diags));
  REQUIRE(a.sinkgroups.size() == 1);
  const SinkGroupConfig& g = a.sinkgroups[0];
  CHECK(g.name == "g1");
  CHECK(g.sinks == std::vector<std::string>{"k1", "k2"});
  CHECK(g.processor.name == "g1");
  CHECK(g.processor.type == "failover");
  CHECK(g.processor.typeWhere.line == 13);
  CHECK(g.processor.context.path() == "a1.sinkgroups.g1.processor");
  CHECK(g.processor.context.getInteger("priority.k1") == 5);
  CHECK(g.processor.context.getInteger("priority.k2") == 10);
  CHECK(g.processor.context.getLong("maxpenalty") == 10000);
  CHECK(g.processor.context.describe("priority.k1") ==
        "a1.sinkgroups.g1.processor.priority.k1 (conf/a.properties:14)");

  // Without processor.type the group uses the default processor.
  Diagnostics d2;
  const AgentConfig b = buildProps(
      "a1.channels = c1\na1.channels.c1.type = memory\na1.sinks.k1.type = logger\n"
      "a1.sinks.k1.channel = c1\na1.sinkgroups.g1.sinks = k1\n",
      d2);
  CHECK_MESSAGE(!d2.hasErrors(), dump(d2));
  REQUIRE(b.sinkgroups.size() == 1);
  CHECK(b.sinkgroups[0].processor.type == "default");
}

TEST_CASE("several agents in one file: each sees only its own keys") {
  const char* text = R"PROPS(agent1.sources = r1
agent1.channels = c1
agent1.sinks = k1
agent1.sources.r1.type = netcat
agent1.sources.r1.channels = c1
agent1.channels.c1.type = memory
agent1.sinks.k1.type = avro
agent1.sinks.k1.channel = c1
agent2.sources = r1
agent2.channels = c1 c2
agent2.sinks = k1
agent2.sources.r1.type = avro
agent2.sources.r1.channels = c1 c2
agent2.channels.c1.type = file
agent2.channels.c2.type = memory
agent2.sinks.k1.type = hdfs
agent2.sinks.k1.channel = c1
agent2.sinks.k2.type = logger
)PROPS";
  const RawConfig raw = props(text);
  CHECK(agentNames(raw) == std::vector<std::string>{"agent1", "agent2"});

  Diagnostics d1;
  const AgentConfig a1 = buildAgentConfig(raw, "agent1", d1);
  CHECK_MESSAGE(d1.items().empty(), dump(d1));
  CHECK(a1.sources.at(0).type == "netcat");
  CHECK(a1.channels.at(0).type == "memory");
  CHECK(a1.sinks.at(0).type == "avro");

  Diagnostics d2;
  const AgentConfig a2 = buildAgentConfig(raw, "agent2", d2);
  CHECK_FALSE(d2.hasErrors());
  CHECK(a2.sources.at(0).type == "avro");
  CHECK(a2.sources.at(0).channels == std::vector<std::string>{"c1", "c2"});
  CHECK(a2.sources.at(0).context.path() == "agent2.sources.r1");
  REQUIRE(a2.channels.size() == 2);
  CHECK(a2.channels[0].type == "file");
  REQUIRE(a2.sinks.size() == 1);  // k2 is not listed
  CHECK(a2.sinks[0].type == "hdfs");
  CHECK(find(d2, Diagnostic::Severity::Warning, {}) ==
        std::vector<std::string>{"agent2.sinks.k2: has settings but is not listed in agent2.sinks "
                                 "(= k1), so it is ignored (conf/a.properties:18)"});
}

// ---------------------------------------------------------------------------------------------
// Both formats build the same model

TEST_CASE("the same agent in TOML and in .properties builds the same model") {
  const char* toml = R"TOML(# The same agent as the .properties below.
[a1.sources.r1]
type = "netcat"
bind = "localhost"
port = 44444
channels = ["c1", "c2"]

[a1.sources.r1.selector]
type = "multiplexing"
header = "state"
default = "c2"
mapping.CZ = "c1"
mapping.US = ["c1", "c2"]

[[a1.sources.r1.interceptors]]
id = "ts"
type = "timestamp"

[[a1.sources.r1.interceptors]]
id = "host"
type = "host"
hostHeader = "hostname"
preserveExisting = false

[a1.channels.c1]
type = "memory"
capacity = 1000
transactionCapacity = 100

[a1.channels.c2]
type = "file"
checkpointDir = "/var/lib/sluice/cp"
dataDirs = ["/d1", "/d2"]

[a1.sinks.k1]
type = "logger"
channel = "c1"

[a1.sinks.k2]
type = "hdfs"
channel = "c2"
hdfs.path = "/flume/events/%Y-%m-%d"
hdfs.rollInterval = 30
hdfs.round = true

[a1.sinkgroups.g1]
sinks = ["k1", "k2"]
processor.type = "failover"
processor.priority.k1 = 5
processor.priority.k2 = 10
)TOML";
  const char* properties = R"PROPS(a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sinkgroups = g1

a1.sources.r1.type = netcat
a1.sources.r1.bind = localhost
a1.sources.r1.port = 44444
a1.sources.r1.channels = c1 c2
a1.sources.r1.selector.type = multiplexing
a1.sources.r1.selector.header = state
a1.sources.r1.selector.default = c2
a1.sources.r1.selector.mapping.CZ = c1
a1.sources.r1.selector.mapping.US = c1 c2
a1.sources.r1.interceptors = ts host
a1.sources.r1.interceptors.ts.type = timestamp
a1.sources.r1.interceptors.host.type = host
a1.sources.r1.interceptors.host.hostHeader = hostname
a1.sources.r1.interceptors.host.preserveExisting = false

a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 100
a1.channels.c2.type = file
a1.channels.c2.checkpointDir = /var/lib/sluice/cp
a1.channels.c2.dataDirs = /d1 /d2

a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
a1.sinks.k2.type = hdfs
a1.sinks.k2.channel = c2
a1.sinks.k2.hdfs.path = /flume/events/%Y-%m-%d
a1.sinks.k2.hdfs.rollInterval = 30
a1.sinks.k2.hdfs.round = true

a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = failover
a1.sinkgroups.g1.processor.priority.k1 = 5
a1.sinkgroups.g1.processor.priority.k2 = 10
)PROPS";
  Diagnostics dt, dp;
  const AgentConfig fromToml = buildAgentConfig(parseToml(toml, kToml), "a1", dt);
  const AgentConfig fromProps = buildAgentConfig(props(properties), "a1", dp);
  CHECK_MESSAGE(dt.items().empty(), dump(dt));
  CHECK_MESSAGE(dp.items().empty(), dump(dp));
  CHECK(describe(fromToml) == describe(fromProps));

  // And the model is the one intended, not merely two equal empty ones.
  REQUIRE(fromToml.sources.size() == 1);
  const SourceConfig& r1 = fromToml.sources[0];
  CHECK(r1.channels == std::vector<std::string>{"c1", "c2"});
  CHECK(r1.selector.type == "multiplexing");
  CHECK(r1.selector.context.getNames("mapping.US") == std::vector<std::string>{"c1", "c2"});
  REQUIRE(r1.interceptors.size() == 2);
  CHECK(r1.interceptors[0].name == "ts");
  CHECK(r1.interceptors[1].name == "host");
  CHECK(r1.interceptors[1].context.getString("hostHeader") == "hostname");
  CHECK(r1.interceptors[1].typeWhere.str() == "conf/a.toml:21");
  CHECK(fromToml.channels.size() == 2);
  CHECK(fromToml.channels[1].context.getNames("dataDirs") ==
        std::vector<std::string>{"/d1", "/d2"});
  CHECK(fromToml.sinks.size() == 2);
  CHECK(fromToml.sinks[1].context.getBoolean("hdfs.round") == true);
  CHECK(fromToml.sinkgroups.at(0).processor.context.getInteger("priority.k2") == 10);
  CHECK(r1.typeWhere.str() == "conf/a.toml:3");
  CHECK(fromProps.sources.at(0).typeWhere.str() == "conf/a.properties:6");
}

TEST_CASE("TOML interceptors without a list run in name order, with a warning") {
  Diagnostics diags;
  const AgentConfig a = buildAgentConfig(parseToml(R"TOML([a1.sources.r1]
type = "netcat"
channels = "c1"
[a1.sources.r1.interceptors.b]
type = "host"
[a1.sources.r1.interceptors.a]
type = "timestamp"
[a1.channels.c1]
type = "memory"
[a1.sinks.k1]
type = "logger"
channel = "c1"
)TOML",
                                                   kToml),
                                         "a1", diags);
  CHECK_FALSE(diags.hasErrors());
  REQUIRE(a.sources.at(0).interceptors.size() == 2);
  CHECK(a.sources[0].interceptors[0].name == "a");
  CHECK(hasWarning(diags, {"a1.sources.r1.interceptors", "name order: a b", "conf/a.toml:"}));
}

// ---------------------------------------------------------------------------------------------
// Structural errors and warnings

namespace {

// A valid agent; each test below breaks one thing.
const char* kBase =
    "a1.sources = r1\n"               // 1
    "a1.channels = c1 c2\n"           // 2
    "a1.sinks = k1\n"                 // 3
    "a1.sources.r1.type = netcat\n"   // 4
    "a1.sources.r1.port = 1\n"        // 5
    "a1.channels.c1.type = memory\n"  // 6
    "a1.sources.r1.channels = c1\n"   // 7
    "a1.channels.c2.type = memory\n"  // 8
    "a1.sinks.k1.type = logger\n"     // 9
    "a1.sinks.k1.channel = c2\n";     // 10

std::string withLine(std::string text, int line, const std::string& replacement) {
  std::size_t pos = 0;
  for (int i = 1; i < line; ++i) pos = text.find('\n', pos) + 1;
  const std::size_t end = text.find('\n', pos);
  return text.replace(pos, end - pos, replacement);
}

}  // namespace

TEST_CASE("the base agent of the error tests is clean") {
  Diagnostics diags;
  const AgentConfig a = buildProps(kBase, diags);
  CHECK_MESSAGE(diags.items().empty(), dump(diags));
  CHECK(a.sources.size() == 1);
  CHECK(a.channels.size() == 2);
  CHECK(a.sinks.size() == 1);
}

TEST_CASE("error: a source names an undefined channel") {
  Diagnostics diags;
  const AgentConfig a = buildProps(withLine(kBase, 7, "a1.sources.r1.channels = c1 c9"), diags);
  CHECK(find(diags, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{"a1.sources.r1.channels: channel 'c9' is not defined (agent a1 "
                                 "defines: c1, c2) (conf/a.properties:7)"});
  CHECK(a.sources.empty());  // left out of the model
  CHECK(a.channels.size() == 2);
}

TEST_CASE("error: a source without channels") {
  Diagnostics diags;
  buildProps(withLine(kBase, 7, "a1.sources.r1.chanels = c1"), diags);
  CHECK(find(diags, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{"a1.sources.r1: missing required key 'channels'; is 'chanels' a "
                                 "misspelling of it? (conf/a.properties:4)"});

  Diagnostics d2;
  buildProps(withLine(kBase, 7, "a1.sources.r1.channel = c1"), d2);
  CHECK(hasError(d2, {"a1.sources.r1: missing required key 'channels'", "found 'channel'",
                      "(conf/a.properties:4)"}));

  Diagnostics d3;
  buildProps(withLine(kBase, 7, "a1.sources.r1.channels ="), d3);
  CHECK(find(d3, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{"a1.sources.r1.channels: is empty; a source needs at least one "
                                 "channel (conf/a.properties:7)"});
}

TEST_CASE("error: a component without a type") {
  Diagnostics diags;
  const AgentConfig a = buildProps(withLine(kBase, 9, "# no type"), diags);
  CHECK(
      find(diags, Diagnostic::Severity::Error, {}) ==
      std::vector<std::string>{"a1.sinks.k1: missing required key 'type' (conf/a.properties:10)"});
  CHECK(a.sinks.empty());
  // The channel the broken sink names still counts as used.
  CHECK(warningCount(diags) == 0);

  Diagnostics d2;
  buildProps(withLine(kBase, 6, "a1.channels.c1.tpye = memory"), d2);
  CHECK(find(d2, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{"a1.channels.c1: missing required key 'type'; is 'tpye' a "
                                 "misspelling of it? (conf/a.properties:6)"});

  Diagnostics d3;
  buildProps(withLine(kBase, 4, "a1.sources.r1.type ="), d3);
  CHECK(hasError(d3, {"a1.sources.r1.type:", "empty", "(conf/a.properties:4)"}));
}

TEST_CASE("error: a listed component with no configuration") {
  Diagnostics diags;
  const AgentConfig a = buildProps(withLine(kBase, 1, "a1.sources = r1 r2"), diags);
  CHECK(find(diags, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{"a1.sources.r2: listed in a1.sources but has no configuration "
                                 "(conf/a.properties:1)"});
  CHECK(a.sources.size() == 1);

  // A listed channel without settings is reported once, not again by the source naming it.
  Diagnostics d2;
  buildProps(withLine(kBase, 2, "a1.channels = c1 c2 c3") + "a1.sources.r1.channels = c1 c3\n", d2);
  CHECK(find(d2, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{"a1.channels.c3: listed in a1.channels but has no configuration "
                                 "(conf/a.properties:2)"});
}

TEST_CASE("warning: a configured component that is not listed") {
  Diagnostics diags;
  const AgentConfig a = buildProps(
      std::string(kBase) + "a1.sources.r2.type = seq\na1.sources.r2.channels = c1\n", diags);
  CHECK_FALSE(diags.hasErrors());
  CHECK(find(diags, Diagnostic::Severity::Warning, {}) ==
        std::vector<std::string>{"a1.sources.r2: has settings but is not listed in a1.sources (= "
                                 "r1), so it is ignored (conf/a.properties:11)"});
  CHECK(a.sources.size() == 1);
}

TEST_CASE("error: the agent is not in the file") {
  Diagnostics diags;
  const RawConfig raw = props(std::string(kBase) + "a3.channels = c1\n");
  const AgentConfig a = buildAgentConfig(raw, "agent", diags);
  CHECK(find(diags, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{"agent 'agent' not found in conf/a.properties (agents found: a1, "
                                 "a3)"});
  CHECK(a.agent == "agent");
  CHECK(a.sources.empty());

  Diagnostics d2;
  buildAgentConfig(props("# nothing\n"), "a1", d2);
  CHECK(hasError(d2, {"agent 'a1' not found in conf/a.properties", "defines no agents"}));
}

TEST_CASE("warning: an unknown section gets a did-you-mean hint") {
  Diagnostics diags;
  const AgentConfig a = buildProps(std::string(kBase) +
                                       "a1.sourcse.r2.type = netcat\n"
                                       "a1.sourcse.r2.channels = c1\n"
                                       "a1.configfilters = f1\n"
                                       "a1.whatever = 1\n",
                                   diags);
  CHECK_FALSE(diags.hasErrors());
  CHECK(a.sources.size() == 1);
  const auto w = find(diags, Diagnostic::Severity::Warning, {});
  // a1.configfilters is a section of its own, applied when the file is loaded (substitution.hpp).
  CHECK(w == std::vector<std::string>{
                 "a1.sourcse.r2.type: unknown section 'sourcse' under agent a1 is ignored; did "
                 "you mean 'sources'? (1 more key under a1.sourcse); Flume ignores it too "
                 "(--strict makes this an error) (conf/a.properties:11)",
                 "a1.whatever: ignored: agent a1 has only the sections sources, channels, "
                 "sinks, sinkgroups; Flume ignores it too (--strict makes this an error) "
                 "(conf/a.properties:14)"});
}

TEST_CASE("an unknown section is an error under --strict and in TOML") {
  Diagnostics strict;
  buildAgentConfig(props(std::string(kBase) + "a1.sourcse.r2.type = netcat\n"), "a1", strict,
                   /*strict=*/true);
  CHECK(find(strict, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{"a1.sourcse.r2.type: unknown section 'sourcse' under agent a1; "
                                 "did you mean 'sources'? (conf/a.properties:11)"});
  Diagnostics toml;
  buildAgentConfig(parseToml("[a1.sources.r1]\ntype = \"seq\"\nchannels = \"c1\"\n"
                             "[a1.channels.c1]\ntype = \"memory\"\n"
                             "[a1.sinkgroup.g1]\nsinks = \"k1\"\n",
                             kToml),
                   "a1", toml);
  CHECK(hasError(toml, {"a1.sinkgroup.g1.sinks: unknown section 'sinkgroup' under agent a1;",
                        "did you mean 'sinkgroups'?", "conf/a.toml"}));
}

TEST_CASE("warning: a channel no one uses") {
  Diagnostics diags;
  buildProps(withLine(kBase, 10, "a1.sinks.k1.channel = c1"), diags);
  CHECK_FALSE(diags.hasErrors());
  CHECK(find(diags, Diagnostic::Severity::Warning, {}) ==
        std::vector<std::string>{"a1.channels.c2: channel is not used by any source or sink "
                                 "(conf/a.properties:8)"});
}

TEST_CASE("error: a sink's channel") {
  Diagnostics many;
  buildProps(withLine(kBase, 10, "a1.sinks.k1.channel = c1 c2"), many);
  CHECK(find(many, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{"a1.sinks.k1.channel: a sink reads exactly one channel, got 2 "
                                 "(c1, c2); use one sink per channel (conf/a.properties:10)"});

  Diagnostics missing;
  const AgentConfig a = buildProps(withLine(kBase, 10, "a1.sinks.k1.channels = c2"), missing);
  CHECK(find(missing, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{"a1.sinks.k1: missing required key 'channel'; found 'channels', "
                                 "but a sink reads exactly one channel, named in 'channel' "
                                 "(conf/a.properties:9)"});
  CHECK(a.sinks.empty());

  Diagnostics undefined;
  buildProps(withLine(kBase, 10, "a1.sinks.k1.channel = c7"), undefined);
  CHECK(hasError(undefined, {"a1.sinks.k1.channel: channel 'c7' is not defined (agent a1 defines: "
                             "c1, c2) (conf/a.properties:10)"}));
}

TEST_CASE("error: sink groups") {
  const std::string base = std::string(kBase) +
                           "a1.sinks = k1 k2\n"  // 11: overrides line 3
                           "a1.sinks.k2.type = logger\n"
                           "a1.sinks.k2.channel = c2\n"
                           "a1.sinkgroups = g1 g2\n";  // 14
  {
    Diagnostics d;
    const AgentConfig a = buildProps(base +
                                         "a1.sinkgroups.g1.sinks = k1 k2\n"  // 15
                                         "a1.sinkgroups.g2.sinks = k2\n",    // 16
                                     d);
    CHECK(find(d, Diagnostic::Severity::Error, {}) ==
          std::vector<std::string>{"a1.sinkgroups.g2.sinks: sink 'k2' is already in sink group "
                                   "'g1' (conf/a.properties:15); a sink belongs to at most one "
                                   "group (conf/a.properties:16)"});
    REQUIRE(a.sinkgroups.size() == 1);
    CHECK(a.sinkgroups[0].name == "g1");
  }
  {
    Diagnostics d;
    buildProps(base + "a1.sinkgroups.g1.sinks = k1 k9\na1.sinkgroups.g2.sinks = k2\n", d);
    CHECK(find(d, Diagnostic::Severity::Error, {}) ==
          std::vector<std::string>{"a1.sinkgroups.g1.sinks: sink 'k9' is not defined (agent a1 "
                                   "defines: k1, k2) (conf/a.properties:15)"});
  }
  {
    Diagnostics d;
    buildProps(base + "a1.sinkgroups.g1.processor.type = failover\na1.sinkgroups.g2.sinks = k2\n",
               d);
    CHECK(find(d, Diagnostic::Severity::Error, {}) ==
          std::vector<std::string>{"a1.sinkgroups.g1: missing required key 'sinks' "
                                   "(conf/a.properties:15)"});
  }
  {
    Diagnostics d;
    buildProps(base + "a1.sinkgroups.g1.sinks =\na1.sinkgroups.g2.sinks = k2\n", d);
    CHECK(find(d, Diagnostic::Severity::Error, {}) ==
          std::vector<std::string>{"a1.sinkgroups.g1.sinks: is empty; a sink group needs at least "
                                   "one sink (conf/a.properties:15)"});
  }
}

TEST_CASE("error: interceptors") {
  Diagnostics d;
  const AgentConfig a = buildProps(std::string(kBase) +
                                       "a1.sources.r1.interceptors = i1 i2 i3\n"  // 11
                                       "a1.sources.r1.interceptors.i1.type = timestamp\n"
                                       "a1.sources.r1.interceptors.i2.hostHeader = h\n"  // 13
                                       "a1.sources.r1.interceptors.i4.type = host\n",    // 14
                                   d);
  CHECK(find(d, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{"a1.sources.r1.interceptors.i3: listed in "
                                 "a1.sources.r1.interceptors but has no configuration; did you "
                                 "mean 'i4'? (conf/a.properties:11)",
                                 "a1.sources.r1.interceptors.i2: missing required key 'type' "
                                 "(conf/a.properties:13)"});
  CHECK(find(d, Diagnostic::Severity::Warning, {}) ==
        std::vector<std::string>{"a1.sources.r1.interceptors.i4: has settings but is not listed in "
                                 "a1.sources.r1.interceptors (= i1 i2 i3), so it is ignored "
                                 "(conf/a.properties:14)"});
  REQUIRE(a.sources.size() == 1);
  REQUIRE(a.sources[0].interceptors.size() == 1);
  CHECK(a.sources[0].interceptors[0].name == "i1");
}

TEST_CASE("error: an agent without channels") {
  Diagnostics d;
  buildProps("a1.sources = r1\na1.sources.r1.type = seq\na1.sources.r1.channels = c1\n", d);
  CHECK(find(d, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{"a1.channels: agent a1 defines no channels; it needs at least one "
                                 "(conf/a.properties)",
                                 "a1.sources.r1.channels: channel 'c1' is not defined (agent a1 "
                                 "defines no channels) (conf/a.properties:3)"});
}

TEST_CASE("warning: a setting written directly on a component name") {
  Diagnostics d;
  buildProps(std::string(kBase) + "a1.sources.r1 = netcat\n", d);
  CHECK_FALSE(d.hasErrors());
  CHECK(hasWarning(
      d, {"a1.sources.r1: ignored", "a1.sources.<name>.<key>", "(conf/a.properties:11)"}));
}

TEST_CASE("lists are inferred from the keys when not given") {
  Diagnostics d;
  const AgentConfig a = buildProps(
      "a1.sources.r1.type = netcat\n"
      "a1.sources.r1.channels = c1\n"
      "a1.channels.c1.type = memory\n"
      "a1.sinks.k1.type = logger\n"
      "a1.sinks.k1.channel = c1\n"
      "a1.sinks.k2.type = null\n"
      "a1.sinks.k2.channel = c1\n",
      d);
  CHECK_MESSAGE(d.items().empty(), dump(d));
  CHECK(a.sources.size() == 1);
  REQUIRE(a.sinks.size() == 2);
  CHECK(a.sinks[0].name == "k1");
  CHECK(a.sinks[1].name == "k2");
  CHECK(a.sinks[1].type == "null");
}

TEST_CASE("a source without a type still has its selector and interceptors checked") {
  Diagnostics d;
  const AgentConfig a = buildProps(withLine(kBase, 4, "# no type") +
                                       "a1.sources.r1.selector.type = multiplexing\n"  // 11
                                       "a1.sources.r1.selector.default = c3\n"         // 12
                                       "a1.sources.r1.interceptors = i1\n"             // 13
                                       "a1.sources.r1.interceptors.i1.key = v\n",      // 14
                                   d);
  CHECK(find(d, Diagnostic::Severity::Error, {}) ==
        std::vector<std::string>{
            "a1.sources.r1: missing required key 'type' (conf/a.properties:5)",
            "a1.sources.r1.selector.default: channel 'c3' is not one of the source's channels "
            "(c1) (conf/a.properties:12)",
            "a1.sources.r1.interceptors.i1: missing required key 'type' (conf/a.properties:14)"});
  CHECK(a.sources.empty());
}

TEST_CASE("the error counts add up over a badly broken agent") {
  Diagnostics d;
  const AgentConfig a = buildProps(
      "a1.sources = r1 r2\n"
      "a1.sinks = k1\n"
      "a1.channels = c1\n"
      "a1.sources.r1.channels = c5\n"
      "a1.channels.c1.type = memory\n"
      "a1.sinks.k1.type = logger\n",
      d);
  // r1: no type, undefined channel; r2: no configuration; k1: no channel; c1: unused.
  CHECK_MESSAGE(d.errorCount() == 4, dump(d));
  CHECK(hasWarning(d, {"a1.channels.c1: channel is not used"}));
  CHECK(a.sources.empty());
  CHECK(a.sinks.empty());
  CHECK(a.channels.size() == 1);
}

// ---------------------------------------------------------------------------------------------
// Suggestions

TEST_CASE("closestMatches suggests likely typos, case-insensitively") {
  const std::vector<std::string> sections = {"sources", "channels", "sinks", "sinkgroups"};
  CHECK(closestMatches("sourcse", sections) == std::vector<std::string>{"sources"});
  CHECK(closestMatches("SINKS", sections) == std::vector<std::string>{"sinks"});
  CHECK(closestMatches("sinkgroup", sections) == std::vector<std::string>{"sinkgroups"});
  CHECK(closestMatches("chanels", sections) == std::vector<std::string>{"channels"});
  CHECK(closestMatches("xyz", sections).empty());
  CHECK(closestMatches("", sections).empty());
  CHECK(closestMatches("sink", sections) == std::vector<std::string>{"sinks"});
  CHECK(closestMatches("memroy", {"memory", "file", "jdbc", "kafka"}) ==
        std::vector<std::string>{"memory"});
  CHECK(closestMatches("c3", {"c1", "c2", "c10"}, 2) == std::vector<std::string>{"c1", "c2"});
  CHECK(closestMatches("abc", {"abd", "abd", "abe"}) == std::vector<std::string>{"abd", "abe"});
  CHECK(editDistance("kitten", "sitting") == 3);
  CHECK(editDistance("ab", "BA") == 1);
  CHECK(editDistance("", "abc") == 3);
  CHECK(didYouMean("sorces", sections) == "; did you mean 'sources'?");
  CHECK(didYouMean("zzz", sections).empty());
  CHECK(closestMatches(std::string(100000, 'a'), sections).empty());
}

// ---------------------------------------------------------------------------------------------
// The host's schema check: the Context configure() receives, and the host's own key sets

namespace {

const sdk::Schema& testSchema() {
  static const sdk::Schema schema{
      sdk::Key("port").integer().req().range(0, 65535).doc("Port"),
      sdk::Key("batchSize").integer().def("100").range(1, 1000000).doc("Batch"),
      sdk::Key("mode").oneOf({"fast", "safe"}).def("safe").doc("Mode"),
      sdk::Key("policy").oneOf({"drop", "fail"}).doc("No default: unset means something"),
      sdk::Key("header.*").string().doc("A family"),
      sdk::Key("oldKey").flumeIgnored("not used"),
  };
  return schema;
}

sdk::Context located(std::initializer_list<std::pair<std::string, std::string>> kv) {
  sdk::Context ctx("a1.sources.r1");
  int line = 10;
  for (const auto& [k, v] : kv) ctx.put(k, v, sdk::Location{kProps, line++});
  return ctx;
}

}  // namespace

TEST_CASE("prepareContext: the given keys plus every schema default, the given Context unchanged") {
  const sdk::Context given = located({{"port", "4141"}, {"header.h1", "x"}, {"type", "t"}});
  Diagnostics d;
  const sdk::Context ctx = prepareContext(sdk::ComponentKind::Source, "t", testSchema(), given, d);
  CHECK_MESSAGE(d.items().empty(), dump(d));
  CHECK(ctx.path() == "a1.sources.r1");
  CHECK(ctx.getString("port") == "4141");
  CHECK(ctx.getString("batchSize") == "100");
  CHECK(ctx.getString("mode") == "safe");
  CHECK(ctx.parameters().at("batchSize").where.str() == "default");
  CHECK(ctx.parameters().at("port").where.str() == kProps + ":10");
  // Never filled: a key without a default (its absence may mean something), families, Flume keys
  // sluice ignores.
  CHECK_FALSE(ctx.containsKey("policy"));
  CHECK_FALSE(ctx.containsKey("oldKey"));
  CHECK(ctx.getNames("header") == std::vector<std::string>{"h1"});
  // The config as written (what /config shows and reload signatures compare) is not touched.
  CHECK(given.parameters().size() == 3);
  CHECK_FALSE(given.containsKey("batchSize"));
  // A value given is kept, even when it equals the default.
  Diagnostics d2;
  CHECK(prepareContext(sdk::ComponentKind::Source, "t", testSchema(),
                       located({{"port", "1"}, {"batchSize", "7"}}), d2)
            .getString("batchSize") == "7");
}

TEST_CASE("prepareContext: out-of-range, mistyped and missing keys name the key and file:line") {
  Diagnostics d;
  (void)prepareContext(sdk::ComponentKind::Source, "t", testSchema(),
                       located({{"batchSize", "0"}, {"mode", "turbo"}, {"porr", "1"}}), d);
  CHECK(hasError(d, {"a1.sources.r1.batchSize: expected a value between 1 and 1000000, got 0 "
                     "(conf/a.properties:10)"}));
  CHECK(hasError(d, {"a1.sources.r1.mode: expected one of fast, safe, got 'turbo' "
                     "(conf/a.properties:11)"}));
  CHECK(hasError(d, {"a1.sources.r1.porr: unknown key for type 't' (did you mean 'port'?) "
                     "(conf/a.properties:12); `sluice describe t` lists its keys"}));
  CHECK(hasError(d, {"a1.sources.r1: missing required key 'port' (integer: Port)"}));
  CHECK(d.errorCount() == 4);
  // A family's misspelling is hinted with the rest of the key.
  Diagnostics f;
  (void)prepareContext(sdk::ComponentKind::Source, "t", testSchema(),
                       located({{"port", "1"}, {"haeder.h1", "x"}}), f);
  CHECK(hasError(f, {"a1.sources.r1.haeder.h1: unknown key", "(did you mean 'header.h1'?)"}));
  // A schema whose own default fails its check is the plugin's bug, said so.
  const sdk::Schema broken{sdk::Key("n").integer().def("0").range(1, 5).doc("")};
  Diagnostics b;
  (void)prepareContext(sdk::ComponentKind::Channel, "broken", broken, located({}), b);
  CHECK(hasError(b, {"a1.sources.r1.n: the schema default of type 'broken' is invalid",
                     "a bug in the plugin"}));
}

TEST_CASE("framework keys pass by kind, as the host lets them through") {
  Diagnostics d;
  (void)prepareContext(sdk::ComponentKind::Source, "t", testSchema(),
                       located({{"port", "1"},
                                {"channels", "c1"},
                                {"selector.type", "replicating"},
                                {"backoffSleepIncrement", "10"}}),
                       d);
  CHECK_MESSAGE(d.items().empty(), dump(d));
  Diagnostics sink;
  (void)prepareContext(sdk::ComponentKind::Sink, "t", testSchema(),
                       located({{"port", "1"}, {"channel", "c1"}, {"channels", "c1"}}), sink);
  CHECK(hasError(sink, {"a1.sources.r1.channels: unknown key for type 't'"}));
  CHECK(sink.errorCount() == 1);
}

TEST_CASE("sink processors are checked against their schema: hints, file:line, defaults") {
  auto log =
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto processorErrors = [&](const std::string& type, const sdk::Context& ctx) {
    Diagnostics d;
    CHECK_FALSE(makeSinkProcessor(type, ctx, {}, log, d));
    return d;
  };
  sdk::Context failover("a1.sinkgroups.g1.processor");
  failover.put("type", "failover", sdk::Location{kProps, 3});
  failover.put("priorty.k1", "10", sdk::Location{kProps, 4});
  failover.put("maxpenalty", "-1", sdk::Location{kProps, 5});
  Diagnostics d = processorErrors("failover", failover);
  CHECK(hasError(d, {"a1.sinkgroups.g1.processor.priorty.k1: unknown key for type 'failover' "
                     "(did you mean 'priority.k1'?) (conf/a.properties:4); `sluice describe "
                     "failover` lists its keys"}));
  CHECK(hasError(d, {"a1.sinkgroups.g1.processor.maxpenalty: expected a value >= 0, got -1 "
                     "(conf/a.properties:5)"}));
  sdk::Context lb("a1.sinkgroups.g1.processor");
  lb.put("bakcoff", "true", sdk::Location{kProps, 6});
  lb.put("backoff", "sometimes", sdk::Location{kProps, 7});
  Diagnostics l = processorErrors("org.apache.flume.sink.LoadBalancingSinkProcessor", lb);
  CHECK(hasError(l, {"processor.bakcoff: unknown key for type 'load_balance' (did you mean "
                     "'backoff'?)"}));
  CHECK(hasError(l, {"processor.backoff: expected true or false, got 'sometimes' "
                     "(conf/a.properties:7)"}));
  Diagnostics u = processorErrors("roundrobin", sdk::Context("a1.sinkgroups.g1.processor"));
  CHECK(hasError(u, {"a1.sinkgroups.g1.processor.type: unknown sink processor type 'roundrobin'"}));
}

// In a Flume .properties config an unknown key is what Flume makes of it: ignored. sluice says so,
// with the same hint and file:line; UnknownKeys::Error (TOML, --strict) is the default above.
TEST_CASE("UnknownKeys::Warn: an unknown key is a warning with the hint, the rest still checked") {
  Diagnostics d;
  const sdk::Context ctx = prepareContext(
      sdk::ComponentKind::Source, "t", testSchema(),
      located({{"port", "1"}, {"porr", "2"}, {"batchSize", "0"}}), d, UnknownKeys::Warn);
  CHECK(hasWarning(d, {"a1.sources.r1.porr: unknown key for type 't' (did you mean 'port'?) "
                       "(conf/a.properties:11); Flume ignores an unknown key too, so it is "
                       "ignored (--strict makes this an error); `sluice describe t` lists its "
                       "keys"}));
  CHECK_FALSE(hasError(d, {"porr"}));
  // A bad value stays an error: Flume would fail that component too.
  CHECK(hasError(d, {"a1.sources.r1.batchSize: expected a value between 1 and 1000000, got 0"}));
  CHECK(d.errorCount() == 1);
  CHECK(ctx.getString("port") == "1");
  // The same key under UnknownKeys::Error (--strict) is the error it always was.
  Diagnostics strict;
  (void)prepareContext(sdk::ComponentKind::Source, "t", testSchema(),
                       located({{"port", "1"}, {"porr", "2"}}), strict, UnknownKeys::Error);
  CHECK(hasError(strict, {"a1.sources.r1.porr: unknown key for type 't' (did you mean 'port'?) "
                          "(conf/a.properties:11); `sluice describe t` lists its keys"}));
  CHECK(strict.errorCount() == 1);
}

TEST_CASE("UnknownKeys::Warn: sink processors, and Flume's misspelled selector.maxTimeout") {
  auto log =
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  sdk::Context failover("a1.sinkgroups.g1.processor");
  failover.put("type", "failover", sdk::Location{kProps, 3});
  failover.put("priorty.k1", "10", sdk::Location{kProps, 4});
  Diagnostics d;
  // No sinks: the processor itself is refused, but the key is only warned about.
  (void)makeSinkProcessor("failover", failover, {}, log, d, {}, UnknownKeys::Warn);
  CHECK(hasWarning(d, {"a1.sinkgroups.g1.processor.priorty.k1: unknown key for type 'failover' "
                       "(did you mean 'priority.k1'?) (conf/a.properties:4); Flume ignores an "
                       "unknown key too"}));
  CHECK_FALSE(hasError(d, {"priorty"}));

  // load_balance reads selector.maxTimeOut; Flume ignores "maxTimeout" (lower-case o).
  sdk::Context lb("a1.sinkgroups.g1.processor");
  lb.put("type", "load_balance", sdk::Location{kProps, 6});
  lb.put("selector", "round_robin", sdk::Location{kProps, 7});
  lb.put("selector.maxTimeout", "5000", sdk::Location{kProps, 8});
  Diagnostics w;
  (void)makeSinkProcessor("load_balance", lb, {}, log, w, {}, UnknownKeys::Warn);
  CHECK(hasWarning(w, {"a1.sinkgroups.g1.processor.selector.maxTimeout: unknown key for the "
                       "round_robin selector (it has only selector.maxTimeOut) (did you mean "
                       "'selector.maxTimeOut'?) (conf/a.properties:8); Flume ignores"}));
  CHECK_FALSE(hasError(w, {"maxTimeout"}));
  Diagnostics e;
  (void)makeSinkProcessor("load_balance", lb, {}, log, e, {}, UnknownKeys::Error);
  CHECK(hasError(e, {"a1.sinkgroups.g1.processor.selector.maxTimeout: unknown key for the "
                     "round_robin selector",
                     "(did you mean 'selector.maxTimeOut'?)"}));
}

TEST_CASE("describe: sink processors and monitoring print their keys like a plugin") {
  const HostSchema* failover = findHostSchema("failover");
  REQUIRE(failover);
  CHECK(findHostSchema("org.apache.flume.sink.FailoverSinkProcessor") == failover);
  const std::string f = describeHostSchema(*failover);
  CHECK(f.find("sink-processor failover (stable, built into sluice)") == 0);
  CHECK(f.find("  aliases: org.apache.flume.sink.FailoverSinkProcessor\n") != std::string::npos);
  CHECK(f.find("    priority.*  integer\n") != std::string::npos);
  CHECK(f.find("    maxpenalty  long  default=30000\n") != std::string::npos);
  const HostSchema* lb = findHostSchema("LOAD_BALANCE");
  REQUIRE(lb);
  const std::string l = describeHostSchema(*lb);
  CHECK(l.find("    selector  string  default=round_robin\n") != std::string::npos);
  CHECK(l.find("    backoff  boolean  default=false\n") != std::string::npos);
  CHECK(l.find("    selector.maxTimeOut  long  default=30000\n") != std::string::npos);
  REQUIRE(findHostSchema("default"));
  const HostSchema* m = findHostSchema("Monitoring");
  REQUIRE(m);
  const std::string t = describeHostSchema(*m);
  CHECK(t.find("monitoring (stable, built into sluice)") == 0);
  CHECK(t.find("    port  integer\n") != std::string::npos);
  CHECK(t.find("    maxConnections  integer  default=64\n") != std::string::npos);
  CHECK(t.find("    statsd.intervalMs  long  default=10000\n") != std::string::npos);
  CHECK_FALSE(findHostSchema("memory"));  // a plugin's type: the registry's business
}

TEST_CASE("monitoring settings: the config's keys, Flume's switches and the CLI's, one schema") {
  auto resolve = [](std::string_view text, const monitoring::CommandLine& cli, Diagnostics& d) {
    return monitoring::resolveSettings(props(text), cli, d);
  };
  {
    Diagnostics d;
    auto s = resolve("monitoring.prot = 8080\na1.sources = r1\n", {}, d);
    CHECK_FALSE(s);
    CHECK(hasError(d, {"monitoring.prot: unknown key for type 'monitoring' (did you mean "
                       "'port'?) (conf/a.properties:1); `sluice describe monitoring` lists its "
                       "keys"}));
  }
  {
    Diagnostics d;
    auto s = resolve("monitoring.maxConnections = 0\n", {}, d);
    CHECK_FALSE(s);
    CHECK(hasError(d, {"monitoring.maxConnections: expected a value between 1 and 10000, got 0 "
                       "(conf/a.properties:1)"}));
  }
  {
    // Nothing asks for monitoring: off; the schema's defaults are what /config shows.
    Diagnostics d;
    auto s = resolve("a1.sources = r1\n", {}, d);
    REQUIRE(s);
    CHECK_FALSE(s->enabled);
    CHECK(s->options.server.maxConnections == 64);
    CHECK(s->options.server.requestTimeout.count() == 10000);
    CHECK(s->options.ready.maxChannelFillPercent == 90.0);
    CHECK(s->options.statsd.prefix == "sluice");
    CHECK_FALSE(s->options.statsd.enabled);
  }
  {
    // monitoring.port turns it on; --monitor-bind wins over monitoring.bind.
    monitoring::CommandLine cli;
    cli.bind = "0.0.0.0";
    Diagnostics d;
    auto s =
        resolve("monitoring.port = 0\nmonitoring.bind = 127.0.0.2\nmonitoring.statsd.port = 9125\n",
                cli, d);
    REQUIRE(s);
    CHECK(s->enabled);
    CHECK(s->options.http);
    CHECK(s->options.server.port == 0);
    CHECK(s->options.server.bind == "0.0.0.0");
    CHECK(s->options.statsd.enabled);
    CHECK(s->options.statsd.port == 9125);
  }
  {
    // Flume's switches: type=http on port 41414 unless a port is given; a port alone warns.
    monitoring::CommandLine cli;
    REQUIRE(monitoring::takeFlumeSwitch("flume.monitoring.type", "http", cli));
    CHECK_FALSE(monitoring::takeFlumeSwitch("flume.root.logger", "INFO", cli));
    Diagnostics d;
    auto s = resolve("", cli, d);
    REQUIRE(s);
    CHECK(s->enabled);
    CHECK(s->options.server.port == 41414);
    monitoring::CommandLine portOnly;
    REQUIRE(monitoring::takeFlumeSwitch("flume.monitoring.port", "34545", portOnly));
    REQUIRE(monitoring::takeFlumeSwitch("flume.monitoring.hosts", "h:8649", portOnly));
    Diagnostics w;
    auto off = resolve("", portOnly, w);
    REQUIRE(off);
    CHECK_FALSE(off->enabled);
    CHECK(hasWarning(w, {"-Dflume.monitoring.port needs -Dflume.monitoring.type=http"}));
    CHECK(hasWarning(w, {"-Dflume.monitoring.hosts: understood are type and port, and hosts, "
                         "pollFrequency and isGanglia3 with type=ganglia; ignored"}));
    // type=ganglia: the reporter's switches are read by the Ganglia module, and it alone turns
    // monitoring on (no HTTP server).
    monitoring::CommandLine ganglia;
    REQUIRE(monitoring::takeFlumeSwitch("flume.monitoring.type", "ganglia", ganglia));
    REQUIRE(monitoring::takeFlumeSwitch("flume.monitoring.hosts", "h:8649,g:8650", ganglia));
    REQUIRE(monitoring::takeFlumeSwitch("flume.monitoring.pollFrequency", "5", ganglia));
    Diagnostics g;
    auto gs = resolve("", ganglia, g);
    REQUIRE(gs);
    CHECK(gs->enabled);
    CHECK_FALSE(gs->options.http);
    CHECK(gs->options.ganglia.enabled);
    CHECK(gs->options.ganglia.hosts.size() == 2);
    CHECK(gs->options.ganglia.pollFrequency == std::chrono::seconds(5));
    CHECK(g.items().empty());
    monitoring::CommandLine noHosts;
    REQUIRE(monitoring::takeFlumeSwitch("flume.monitoring.type", "ganglia", noHosts));
    Diagnostics nh;
    CHECK_FALSE(resolve("", noHosts, nh));
    CHECK(hasError(nh, {"-Dflume.monitoring.hosts: the Ganglia reporter needs the gmond hosts"}));
    monitoring::CommandLine bad;
    REQUIRE(monitoring::takeFlumeSwitch("flume.monitoring.port", "http", bad));
    Diagnostics e;
    CHECK_FALSE(resolve("", bad, e));
    CHECK(hasError(e, {"flume.monitoring.port: expected an integer, got 'http' (-D)"}));
  }
  {
    monitoring::CommandLine cli;
    cli.port = 70000;
    Diagnostics d;
    CHECK_FALSE(resolve("", cli, d));
    CHECK(hasError(d, {"--monitor-port: expected a value between 0 and 65535, got 70000"}));
  }
}

TEST_CASE("config sources: documents merge in order, each key keeping its own file:line") {
  const std::vector<ConfigDocument> docs{
      {"base.properties", "a1.sources = r1\na1.channels.c1.capacity = 100\n", false},
      {"http://h/over.properties", "# override\na1.channels.c1.capacity = 500\n", false}};
  RawConfig raw = parseDocuments(docs);
  CHECK(raw.file == "base.properties + http://h/over.properties");
  CHECK(raw.flumeProperties);
  CHECK(raw.entries.at("a1.sources").value == "r1");
  CHECK(raw.entries.at("a1.sources").where.file == "base.properties");
  CHECK(raw.entries.at("a1.channels.c1.capacity").value == "500");
  CHECK(raw.entries.at("a1.channels.c1.capacity").where.file == "http://h/over.properties");
  CHECK(raw.entries.at("a1.channels.c1.capacity").where.line == 2);

  // The other order: the base file wins.
  RawConfig back = parseDocuments({docs[1], docs[0]});
  CHECK(back.entries.at("a1.channels.c1.capacity").value == "100");

  // A TOML document makes the whole config strict (unknown keys are errors).
  RawConfig mixed =
      parseDocuments({docs[0], {"x.toml", "[a1.channels.c1]\ntype = \"memory\"\n", true}});
  CHECK_FALSE(mixed.flumeProperties);
  CHECK(mixed.entries.at("a1.channels.c1.type").value == "memory");
  CHECK(mixed.entries.at("a1.channels.c1.capacity").value == "100");

  // A syntax error names the document it is in.
  try {
    (void)parseDocuments({docs[0], {"zk://h:2181/flume/a1", "a1.x = \\u12\n", false}});
    FAIL("expected a ConfigParseError");
  } catch (const ConfigParseError& e) {
    CHECK(std::string(e.what()).find("zk://h:2181/flume/a1:1") != std::string::npos);
  }
}

TEST_CASE("config sources: files are read in order; a missing one is named") {
  const auto dir = std::filesystem::temp_directory_path() / "sluice-test-config-source";
  std::filesystem::create_directories(dir);
  const std::string a = (dir / "a.properties").string(), b = (dir / "b.toml").string();
  std::ofstream(a) << "a1.sources = r1\n";
  std::ofstream(b) << "[a1]\nsinks = \"k1\"\n";
  FileConfigSource source({a, b}, std::chrono::milliseconds(1000));
  CHECK(source.describe() == a + " + " + b);
  auto docs = source.fetch();
  REQUIRE(docs.size() == 2);
  CHECK(docs[0].name == a);
  CHECK_FALSE(docs[0].toml);
  CHECK(docs[1].toml);
  std::filesystem::remove(b);
  try {
    (void)source.fetch();
    FAIL("expected a ConfigParseError");
  } catch (const ConfigParseError& e) {
    CHECK(std::string(e.what()).find("cannot read config file '" + b + "'") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}
