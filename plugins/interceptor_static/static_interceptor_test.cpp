#include "static_interceptor.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace sdk = sluice::sdk;
using sluice::plugins::staticheader::StaticInterceptorBuilder;
using sluice::plugins::staticheader::staticSchema;

namespace {

constexpr const char* kPath = "a1.sources.r1.interceptors.i1";

using KeyValues = std::initializer_list<std::pair<const char*, const char*>>;

[[maybe_unused]] sdk::Context contextOf(KeyValues kv) {
  sdk::Context ctx(kPath);
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// The error configure() reports for these keys, or "" when it succeeds.
template <class Builder>
std::string configureError(KeyValues kv) {
  Builder b;
  sdk::Result r = b.hostConfigure(contextOf(kv));
  return r ? std::string() : r.error();
}

// Configures a builder (which must succeed) and builds one interceptor.
template <class Builder>
std::unique_ptr<sdk::Interceptor> built(KeyValues kv) {
  Builder b;
  sdk::Result r = b.hostConfigure(contextOf(kv));
  REQUIRE_MESSAGE(r.ok(), r.error());
  std::unique_ptr<sdk::Interceptor> out = b.hostBuild(r);
  REQUIRE_MESSAGE(r.ok(), r.error());
  REQUIRE(out);
  REQUIRE(out->hostInitialize().ok());
  return out;
}

[[maybe_unused]] bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
[[maybe_unused]] bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Whether the host's schema check lets `key` through: the schema names it exactly or as a
// "prefix.*" family.
[[maybe_unused]] bool schemaDeclares(const sdk::Schema& schema, const std::string& key) {
  for (const sdk::Key& k : schema.keys) {
    const std::string& n = k.name;
    if (n.size() >= 2 && n.compare(n.size() - 2, 2, ".*") == 0) {
      if (key.size() > n.size() - 1 && key.compare(0, n.size() - 1, n, 0, n.size() - 1) == 0)
        return true;
    } else if (n == key) {
      return true;
    }
  }
  return false;
}

// The README's key table must list exactly the schema's keys, with the same type, default and
// description (each row: | `key` | type | `default`, required or — | description |).
[[maybe_unused]] void checkReadmeMatchesSchema(const sdk::Schema& schema, const char* path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read ", path);
  auto clean = [](std::string s) {
    while (!s.empty() && s.front() == ' ') s.erase(0, 1);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    if (s.size() >= 2 && s.front() == '`' && s.back() == '`') s = s.substr(1, s.size() - 2);
    return s == "—" ? std::string() : s;
  };
  std::map<std::string, std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::size_t from = 1;
    for (std::size_t to; (to = line.find(" |", from)) != std::string::npos; from = to + 2)
      cells.push_back(clean(line.substr(from, to - from)));
    REQUIRE_MESSAGE(cells.size() == 4, line);
    rows[cells[0]] = cells;
  }
  CHECK(rows.size() == schema.keys.size());
  for (const sdk::Key& k : schema.keys) {
    REQUIRE_MESSAGE(rows.count(k.name) == 1, "README lacks key ", k.name);
    const auto& r = rows[k.name];
    CHECK_MESSAGE(r[1] == sdk::nameOf(k.type), k.name);
    CHECK_MESSAGE(r[2] == (k.required ? std::string("required") : k.defaultValue), k.name);
    CHECK_MESSAGE(r[3] == k.description, k.name);
  }
}

[[maybe_unused]] std::vector<std::string> bodiesOf(const sdk::EventBatch& batch) {
  std::vector<std::string> out;
  for (const auto& e : batch) out.push_back(e.body);
  return out;
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(staticSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("the schema declares every key configure() reads, and no others") {
  const sdk::Schema& s = staticSchema();
  CHECK_FALSE(s.allowUnknownKeys);
  for (const char* k : {"key", "value", "preserveExisting"}) CHECK_MESSAGE(schemaDeclares(s, k), k);
  CHECK_FALSE(schemaDeclares(s, "keys"));
  CHECK_FALSE(schemaDeclares(s, "headerName"));
}

TEST_CASE("defaults: key=value, keeping an existing value") {
  auto icpt = built<StaticInterceptorBuilder>({});
  sdk::Event fresh("b");
  CHECK(icpt->intercept(fresh));
  CHECK(fresh.headers.get("key") == "value");
  CHECK(fresh.body == "b");
  sdk::Event has(sdk::Headers{{"key", "mine"}}, "");
  icpt->intercept(has);
  CHECK(has.headers.get("key") == "mine");
}

TEST_CASE("a valid config: key, value and preserveExisting = false") {
  auto icpt = built<StaticInterceptorBuilder>(
      {{"key", "datacenter"}, {"value", "NEW_YORK"}, {"preserveExisting", "false"}});
  sdk::Event e(sdk::Headers{{"datacenter", "old"}, {"x", "y"}}, "");
  icpt->intercept(e);
  CHECK(e.headers.get("datacenter") == "NEW_YORK");
  CHECK(e.headers.get("x") == "y");
  CHECK(e.headers.size() == 2);
}

TEST_CASE("an empty value and non-ASCII bytes are kept as they are") {
  auto empty = built<StaticInterceptorBuilder>({{"key", "k"}, {"value", ""}});
  sdk::Event e;
  empty->intercept(e);
  CHECK(e.headers.contains("k"));
  CHECK(e.headers.get("k", "absent").empty());
  auto unicode =
      built<StaticInterceptorBuilder>({{"key", "städte"}, {"value", "Zürich \xF0\x9F\x8C\x8D"}});
  sdk::Event f;
  unicode->intercept(f);
  CHECK(f.headers.get("städte") == "Zürich \xF0\x9F\x8C\x8D");
}

TEST_CASE("configure errors name the key") {
  CHECK(startsWith(configureError<StaticInterceptorBuilder>({{"preserveExisting", "maybe"}}),
                   std::string(kPath) + ".preserveExisting: expected true or false"));
  CHECK(startsWith(configureError<StaticInterceptorBuilder>({{"key", ""}}),
                   std::string(kPath) + ".key: must not be empty"));
}

TEST_CASE("the batch form never grows the batch and keeps order and capacity") {
  auto icpt = built<StaticInterceptorBuilder>({});
  sdk::EventBatch batch;
  batch.reserve(8);
  for (int i = 0; i < 5; ++i) batch.emplace_back(std::to_string(i));
  const auto* data = batch.data();
  REQUIRE(icpt->hostIntercept(batch).ok());
  CHECK(bodiesOf(batch) == std::vector<std::string>{"0", "1", "2", "3", "4"});
  CHECK(batch.data() == data);
  for (const auto& e : batch) CHECK(e.headers.get("key") == "value");
}

TEST_CASE("build, initialize and close are safe to repeat") {
  StaticInterceptorBuilder b;
  REQUIRE(b.hostConfigure(contextOf({{"key", "a"}, {"value", "1"}})).ok());
  sdk::Result r;
  auto a = b.hostBuild(r);
  auto c = b.hostBuild(r);
  REQUIRE(r.ok());
  for (int i = 0; i < 2; ++i) {
    CHECK(a->hostInitialize().ok());
    a->hostClose();
    c->hostClose();
  }
  sdk::Event e;
  a->intercept(e);
  CHECK(e.headers.get("a") == "1");
  // Reconfiguring replaces every setting.
  REQUIRE(b.hostConfigure(contextOf({})).ok());
  auto d = b.hostBuild(r);
  sdk::Event f;
  d->intercept(f);
  CHECK(f.headers.get("key") == "value");
}

TEST_CASE("intercept runs on several threads at once") {
  auto icpt = built<StaticInterceptorBuilder>({{"key", "k"}, {"value", "a-long-value-beyond-sso"}});
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        sdk::EventBatch batch(16);
        icpt->intercept(batch);
        for (const auto& e : batch)
          if (e.headers.get("k") != "a-long-value-beyond-sso") return;
      }
      ok[t] = 1;
    });
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>{1, 1, 1, 1});
}
