#include "timestamp_interceptor.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace sdk = sluice::sdk;
using sluice::plugins::timestamp::TimestampInterceptorBuilder;
using sluice::plugins::timestamp::timestampSchema;

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

int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(timestampSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("the schema declares every key configure() reads, and no others") {
  const sdk::Schema& s = timestampSchema();
  CHECK_FALSE(s.allowUnknownKeys);
  for (const char* k : {"headerName", "preserveExisting"}) CHECK_MESSAGE(schemaDeclares(s, k), k);
  CHECK_FALSE(schemaDeclares(s, "headername"));
  CHECK_FALSE(schemaDeclares(s, "header"));
}

TEST_CASE("defaults: header 'timestamp' holds the current time in milliseconds") {
  auto icpt = built<TimestampInterceptorBuilder>({});
  sdk::Event e("body");
  const int64_t before = nowMillis();
  CHECK(icpt->intercept(e));
  const int64_t after = nowMillis();
  REQUIRE(e.headers.contains("timestamp"));
  const int64_t ts = std::stoll(e.headers.get("timestamp"));
  CHECK(ts >= before);
  CHECK(ts <= after);
  CHECK(e.headers.size() == 1);
  CHECK(e.body == "body");
}

TEST_CASE("a valid config: headerName and preserveExisting") {
  auto icpt =
      built<TimestampInterceptorBuilder>({{"headerName", "ts"}, {"preserveExisting", "true"}});
  sdk::Event fresh;
  icpt->intercept(fresh);
  CHECK(fresh.headers.contains("ts"));
  CHECK_FALSE(fresh.headers.contains("timestamp"));

  sdk::Event kept(sdk::Headers{{"ts", "42"}}, "x");
  icpt->intercept(kept);
  CHECK(kept.headers.get("ts") == "42");
}

TEST_CASE("preserveExisting = false (the default) replaces an existing value") {
  auto icpt = built<TimestampInterceptorBuilder>({});
  sdk::Event e(sdk::Headers{{"timestamp", "42"}, {"other", "y"}}, "x");
  icpt->intercept(e);
  CHECK(e.headers.get("timestamp") != "42");
  CHECK(std::stoll(e.headers.get("timestamp")) > 1600000000000LL);
  CHECK(e.headers.get("other") == "y");
  CHECK(e.headers.size() == 2);
}

TEST_CASE("configure errors name the key") {
  CHECK(startsWith(configureError<TimestampInterceptorBuilder>({{"preserveExisting", "yes"}}),
                   std::string(kPath) + ".preserveExisting: expected true or false"));
  CHECK(startsWith(configureError<TimestampInterceptorBuilder>({{"headerName", ""}}),
                   std::string(kPath) + ".headerName: must not be empty"));
  CHECK(configureError<TimestampInterceptorBuilder>({{"preserveExisting", "TRUE"}}).empty());
}

TEST_CASE("the batch form never grows the batch and keeps order and capacity") {
  auto icpt = built<TimestampInterceptorBuilder>({});
  sdk::EventBatch batch;
  batch.reserve(8);
  for (int i = 0; i < 5; ++i) batch.emplace_back(std::to_string(i));
  const auto* data = batch.data();
  REQUIRE(icpt->hostIntercept(batch).ok());
  CHECK(bodiesOf(batch) == std::vector<std::string>{"0", "1", "2", "3", "4"});
  CHECK(batch.data() == data);
  for (const auto& e : batch) CHECK(e.headers.contains("timestamp"));
  sdk::EventBatch empty;
  REQUIRE(icpt->hostIntercept(empty).ok());
  CHECK(empty.empty());
}

TEST_CASE("build, initialize and close are safe to repeat") {
  TimestampInterceptorBuilder b;
  REQUIRE(b.hostConfigure(contextOf({{"headerName", "t"}})).ok());
  sdk::Result r;
  auto a = b.hostBuild(r);
  REQUIRE(r.ok());
  auto c = b.hostBuild(r);
  REQUIRE(r.ok());
  REQUIRE(a);
  REQUIRE(c);
  CHECK(a.get() != c.get());
  for (int i = 0; i < 2; ++i) {
    CHECK(a->hostInitialize().ok());
    a->hostClose();
    c->hostClose();
  }
  sdk::Event e;
  c->intercept(e);
  CHECK(e.headers.contains("t"));
  // Reconfiguring replaces every setting.
  REQUIRE(b.hostConfigure(contextOf({})).ok());
  auto d = b.hostBuild(r);
  sdk::Event f;
  d->intercept(f);
  CHECK(f.headers.contains("timestamp"));
}

TEST_CASE("intercept runs on several threads at once") {
  auto icpt = built<TimestampInterceptorBuilder>({{"preserveExisting", "true"}});
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        sdk::EventBatch batch(16);
        if (round % 2) batch[0].headers.setIfAbsent("timestamp", "1");
        if (!icpt->hostIntercept(batch).ok()) return;
        bool good = batch.size() == 16;
        for (const auto& e : batch) good = good && e.headers.contains("timestamp");
        if (round % 2) good = good && batch[0].headers.get("timestamp") == "1";
        if (!good) return;
      }
      ok[t] = 1;
    });
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>{1, 1, 1, 1});
}

// ---- Allocation count: the hot path must not allocate beyond the change itself. ----
// Replacing the global operator new counts every allocation in this test binary; the tests read
// the count only around intercept calls on their own thread.
namespace {
std::atomic<long> gAllocations{0};
}  // namespace

// noinline: GCC 12 otherwise pairs the inlined free() with its built-in operator new and warns.
[[gnu::noinline]] void* operator new(std::size_t n) {
  gAllocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {
// Allocations made while f() runs.
template <class F>
long allocationsDuring(F&& f) {
  const long before = gAllocations.load(std::memory_order_relaxed);
  f();
  return gAllocations.load(std::memory_order_relaxed) - before;
}
}  // namespace

TEST_CASE("stamping allocates nothing once an event has header room") {
  auto icpt = built<TimestampInterceptorBuilder>({});
  sdk::EventBatch batch;
  for (int i = 0; i < 64; ++i) batch.emplace_back(sdk::Headers{{"timestamp", "0"}}, "b");
  CHECK(allocationsDuring([&] { icpt->intercept(batch); }) == 0);
  CHECK(batch[0].headers.get("timestamp").size() >= 13);
}
