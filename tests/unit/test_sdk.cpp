// The SDK's value types: Context getters and their errors, Headers, Event, counters, the default
// batch interceptor, and the host entry points that keep exceptions inside the plugin.

#include <doctest/doctest.h>

#include <functional>

#include "sluice/sdk/host_access.hpp"
#include "sluice/sdk/sdk.hpp"

using namespace sluice::sdk;

namespace {
Context sample() {
  Context c("a1.sources.r1");
  c.put("port", "44444", {"conf/a.properties", 7});
  c.put("bind", " 0.0.0.0 ", {"conf/a.properties", 6});
  c.put("flag", "TRUE", {"conf/a.properties", 8});
  c.put("ratio", "0.25", {"conf/a.properties", 9});
  c.put("big", "9000000000L", {"conf/a.properties", 10});
  c.put("bad", "12x", {"conf/a.properties", 11});
  c.put("serializers", "s1 s2", {"conf/a.properties", 12});
  c.put("serializers.s1.name", "one", {"conf/a.properties", 13});
  c.put("serializers.s2.name", "two", {"conf/a.properties", 14});
  c.put("filegroups.f2", "/var/b", {"x.toml", 3});
  c.put("filegroups.f1", "/var/a", {"x.toml", 2});
  return c;
}

std::string thrown(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("Context typed getters, with defaults") {
  Context c = sample();
  CHECK(c.getInteger("port", 1) == 44444);
  CHECK(c.getInteger("missing", 5) == 5);
  CHECK(c.getLong("big", 0) == 9000000000LL);
  CHECK(c.getBoolean("flag", false));
  CHECK(c.getDouble("ratio", 0) == doctest::Approx(0.25));
  CHECK(c.getString("bind", "") == " 0.0.0.0 ");
  CHECK_FALSE(c.getString("nope").has_value());
  CHECK(c.containsKey("port"));
}

TEST_CASE("Context errors name the full key, the problem and file:line") {
  Context c = sample();
  CHECK(thrown([&] { c.getInteger("bad", 0); }) ==
        "a1.sources.r1.bad: expected an integer, got '12x' (conf/a.properties:11)");
  CHECK(thrown([&] { c.getInteger("big", 0); }).find("32-bit") != std::string::npos);
  CHECK(thrown([&] { c.getBoolean("port", false); }).find("expected true or false") != std::string::npos);
  CHECK(thrown([&] { c.requireString("host"); }) == "a1.sources.r1.host: is required but missing");
  CHECK(c.describe("port") == "a1.sources.r1.port (conf/a.properties:7)");
}

TEST_CASE("getSubProperties strips the prefix and keeps locations") {
  Context c = sample();
  Context s = c.getSubProperties("serializers.s1.");
  CHECK(s.path() == "a1.sources.r1.serializers.s1");
  CHECK(s.getParameters() == std::map<std::string, std::string>{{"name", "one"}});
  CHECK(thrown([&] { s.getInteger("name", 0); }) ==
        "a1.sources.r1.serializers.s1.name: expected an integer, got 'one' (conf/a.properties:13)");
}

TEST_CASE("getNames reads a list or falls back to sub-keys") {
  Context c = sample();
  CHECK(c.getNames("serializers") == std::vector<std::string>{"s1", "s2"});
  CHECK(c.getNames("filegroups") == std::vector<std::string>{"f1", "f2"});
  CHECK(c.getNames("none").empty());
}

TEST_CASE("Headers keep unique names and support preserveExisting") {
  Headers h{{"a", "1"}};
  h.set("b", "2");
  h.set("a", "3");
  CHECK(h.size() == 2);
  CHECK(h.get("a") == "3");
  CHECK_FALSE(h.setIfAbsent("a", "9"));
  CHECK(h.get("a") == "3");
  CHECK(h.erase("a"));
  CHECK_FALSE(h.contains("a"));
  CHECK(h == Headers{{"b", "2"}});
}

TEST_CASE("Events move without copying the body and clone on request") {
  Event e(Headers{{"k", "v"}}, std::string(1000, 'x'));
  const char* data = e.body.data();
  Event moved = std::move(e);
  CHECK(moved.body.data() == data);
  Event copy = moved.clone();
  CHECK(copy.body == moved.body);
  CHECK(copy.headers == moved.headers);
  CHECK(copy.body.data() != moved.body.data());
}

TEST_CASE("Counters keep Flume's names and compute the fill percentage") {
  ChannelCounter c;
  c.setChannelCapacity(200);
  c.setChannelSize(50);
  c.addToEventPutAttemptCount(7);
  CHECK(c.get("EventPutAttemptCount") == 7);
  CHECK(c.getChannelFillPercentage() == doctest::Approx(25.0));
  SinkCounter s;
  s.countBatch(0, 100);
  s.countBatch(10, 100);
  s.countBatch(100, 100);
  CHECK(s.get("BatchEmptyCount") == 1);
  CHECK(s.get("BatchUnderflowCount") == 1);
  CHECK(s.get("BatchCompleteCount") == 1);
  SourceCounter src;
  CHECK(src.get("AppendBatchAcceptedCount") == 0);
  CHECK(src.type() == "SOURCE");
}

namespace {
class DropOdd : public Interceptor {
 public:
  bool intercept(Event& e) override {
    e.headers.set("seen", "1");
    return (e.body.back() - '0') % 2 == 0;
  }
};
class Thrower : public Interceptor {
 public:
  bool intercept(Event&) override { throw std::runtime_error("boom"); }
};
class BadConfig : public Component {
 public:
  void configure(const Context& c) override { c.fail("port", "must be positive"); }
  void start() override { throw std::runtime_error("cannot bind"); }
};
}  // namespace

TEST_CASE("the default batch interceptor filters in order and never grows the batch") {
  EventBatch b;
  for (int i = 0; i < 10; ++i) b.emplace_back(std::to_string(i));
  auto cap = b.capacity();
  DropOdd d;
  CHECK(HostAccess::intercept(d, b).ok());
  REQUIRE(b.size() == 5);
  for (int i = 0; i < 5; ++i) CHECK(b[static_cast<std::size_t>(i)].body == std::to_string(i * 2));
  CHECK(b[0].headers.get("seen") == "1");
  CHECK(b.capacity() == cap);
  Thrower t;
  auto r = HostAccess::intercept(t, b);
  CHECK_FALSE(r.ok());
  CHECK(r.error() == "boom");
}

TEST_CASE("host entry points turn exceptions into error values") {
  BadConfig c;
  Context ctx("a1.sources.r1");
  auto r = HostAccess::configure(c, ctx);
  CHECK_FALSE(r.ok());
  CHECK(r.error() == "a1.sources.r1.port: must be positive");
  auto s = HostAccess::start(c);
  CHECK_FALSE(s.ok());
  CHECK(s.error() == "cannot bind");
  CHECK(c.getLifecycleState() == LifecycleState::ERROR);
  CHECK(HostAccess::stop(c).ok());
  CHECK(c.getLifecycleState() == LifecycleState::STOP);
}
