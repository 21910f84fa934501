// The escape formatter and time zones, with fixed instants checked against Python's zoneinfo.
#include "path_escape.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "allocation_counter.hpp"

using namespace sluice::plugins::hdfs;
namespace sdk = sluice::sdk;

namespace {

const HostNames kHost{"myhost", "10.1.2.3", "myhost.example.com"};
constexpr int64_t kTuesday = 1704164645678;  // 2024-01-02T03:04:05.678Z, a Tuesday

std::string fmt(std::string_view tmpl, const TimeSettings& s = {}, int64_t ts = kTuesday,
                sdk::Headers extra = {}) {
  PathTemplate t = PathTemplate::compile(tmpl, kHost);
  sdk::Headers h = std::move(extra);
  if (!h.contains("timestamp")) h.set("timestamp", std::to_string(ts));
  std::string out;
  REQUIRE(t.format(h, 0, s, out) == PathTemplate::Status::Ok);
  return out;
}

}  // namespace

TEST_CASE("every date escape, UTC") {
  const TimeZone utc = TimeZone::utc();
  TimeSettings s;
  s.zone = &utc;
  CHECK(fmt("%a|%A|%b|%B", s) == "Tue|Tuesday|Jan|January");
  CHECK(fmt("%c", s) == "Tue Jan 2 03:04:05 2024");
  CHECK(fmt("%d|%e|%D", s) == "02|2|01/02/24");
  CHECK(fmt("%H|%I|%k|%l|%p", s) == "03|03|3|3|AM");
  CHECK(fmt("%j|%m|%n|%M|%S", s) == "002|01|1|04|05");
  CHECK(fmt("%y|%Y|%z", s) == "24|2024|+0000");
  CHECK(fmt("%s|%t", s) == "1704164645|1704164645678");
  CHECK(fmt("/data/%Y%m%d/%H", s) == "/data/20240102/03");
}

TEST_CASE("time zones: IANA names, offsets, DST") {
  const TimeZone ny = TimeZone::parse("America/New_York");
  TimeSettings s;
  s.zone = &ny;
  CHECK(fmt("%a %d %H %I %p %z %j", s) == "Mon 01 22 10 PM -0500 001");
  CHECK(fmt("%d %H %z", s, 1720000000500) == "03 05 -0400");  // summer time
  const TimeZone kolkata = TimeZone::parse("Asia/Kolkata");
  s.zone = &kolkata;
  CHECK(fmt("%H:%M %z", s) == "08:34 +0530");
  const TimeZone gmt8 = TimeZone::parse("GMT+08:00");
  s.zone = &gmt8;
  CHECK(fmt("%H %z", s) == "11 +0800");
  CHECK(TimeZone::parse("UTC").offsetAt(0) == 0);
  CHECK_THROWS_WITH_AS(TimeZone::parse("Mars/Olympus"),
                       doctest::Contains("unknown time zone 'Mars/Olympus'"),
                       std::invalid_argument);
  CHECK_THROWS_AS(TimeZone::parse("../../etc/passwd"), std::invalid_argument);
  CHECK_THROWS_AS(TimeZone::parse("GMT+99"), std::invalid_argument);
  CHECK_THROWS_AS(TimeZone::fromTzif("TZif2garbage", "x"), std::invalid_argument);
}

TEST_CASE("rounding: down to 10 minutes, seconds, hours, in the zone") {
  const TimeZone utc = TimeZone::utc();
  TimeSettings s;
  s.zone = &utc;
  s.round = true;
  s.unit = RoundUnit::Minute;
  s.roundValue = 10;
  // 03:04:05 -> 03:00; %t stays the raw header, %s follows the rounding.
  CHECK(fmt("%H%M%S|%t|%s", s) == "030000|1704164645678|1704164400");
  CHECK(fmt("%H%M", s, kTuesday + int64_t{17} * 60000) == "0320");  // 03:21:05 -> 03:20
  s.unit = RoundUnit::Second;
  s.roundValue = 30;
  CHECK(fmt("%M%S", s, kTuesday + 30000) == "0430");  // 03:04:35 -> 03:04:30
  s.unit = RoundUnit::Hour;
  s.roundValue = 2;
  CHECK(fmt("%H%M", s) == "0200");
  // Kolkata is +05:30: 08:34 local rounds to 08:30 local, not to a UTC multiple.
  const TimeZone kolkata = TimeZone::parse("Asia/Kolkata");
  s.zone = &kolkata;
  s.unit = RoundUnit::Minute;
  s.roundValue = 15;
  CHECK(fmt("%H%M", s) == "0830");
  CHECK(roundDownMillis(-1, RoundUnit::Minute, 10, &utc) == -600000);
}

TEST_CASE("headers, %%, host escapes, unknown escapes, stray %") {
  sdk::Headers h{{"host", "web-1"}, {"a.b-c", "x"}};
  CHECK(fmt("/l/%{host}/%{a.b-c}/%{missing}/", {}, kTuesday, h) == "/l/web-1/x//");
  CHECK(fmt("100%%/%[localhost]/%[IP]/%[FQDN]/%[fqdn]") ==
        "100%/myhost/10.1.2.3/myhost.example.com/myhost.example.com");
  PathTemplate t = PathTemplate::compile("/a/%Q/%[nope]/%{x y}/%-/50%", kHost);
  CHECK(t.unknownEscapes() == std::vector<std::string>{"%Q", "%[nope]"});
  std::string out;
  CHECK(t.format({}, 0, {}, out) == PathTemplate::Status::Ok);
  CHECK(out == "/a///%{x y}/%-/50%");
  CHECK(PathTemplate::compile("/data/flume/%Y/x", kHost).literalPrefix() == "/data/flume/");
  CHECK_FALSE(PathTemplate::compile("/data/%{h}", kHost).usesTime());
}

TEST_CASE("missing and bad timestamps are reported, useLocalTimeStamp needs none") {
  PathTemplate t = PathTemplate::compile("/d/%Y", kHost);
  std::string out;
  CHECK(t.format({}, 0, {}, out) == PathTemplate::Status::MissingTimestamp);
  CHECK(t.format({{"timestamp", "12x"}}, 0, {}, out) == PathTemplate::Status::BadTimestamp);
  CHECK(t.format({{"timestamp", ""}}, 0, {}, out) == PathTemplate::Status::BadTimestamp);
  const TimeZone utc = TimeZone::utc();
  TimeSettings s;
  s.zone = &utc;
  s.useLocalTimeStamp = true;
  out.clear();
  CHECK(t.format({}, kTuesday, s, out) == PathTemplate::Status::Ok);
  CHECK(out == "/d/2024");
  // No time escape: no timestamp needed.
  PathTemplate plain = PathTemplate::compile("/d/%{h}", kHost);
  out.clear();
  CHECK(plain.format({}, 0, {}, out) == PathTemplate::Status::Ok);
}

TEST_CASE("formatting allocates nothing once the output string has capacity") {
  const TimeZone ny = TimeZone::parse("America/New_York");
  TimeSettings s;
  s.zone = &ny;
  s.round = true;
  s.unit = RoundUnit::Minute;
  s.roundValue = 10;
  PathTemplate t = PathTemplate::compile("/data/%{host}/%Y%m%d/%H%M/%c/%z", kHost);
  sdk::Headers h{{"timestamp", std::to_string(kTuesday)}, {"host", "web-1"}};
  std::string out;
  out.reserve(256);
  (void)t.format(h, 0, s, out);
  long allocs = 0;
  for (int i = 0; i < 1000; ++i) {
    out.clear();
    h.set("timestamp", std::to_string(kTuesday + int64_t{i} * 1000));  // may allocate: not counted
    allocs += sluice::plugins::testing::allocationsDuring([&] { (void)t.format(h, 0, s, out); });
  }
  CHECK(allocs == 0);
}

TEST_CASE("the one-entry caches give what a fresh formatter gives") {
  const TimeZone ny = TimeZone::parse("America/New_York");
  const TimeZone utc = TimeZone::utc();
  PathTemplate cached = PathTemplate::compile("/d/%Y%m%d/%H%M%S/%s/%z", kHost);
  // Around the 2024-03-10 DST change in New York, same second repeated, zones alternating.
  const int64_t base = 1710052200000;  // 2024-03-10T06:30:00Z
  for (int i = 0; i < 400; ++i) {
    const int64_t ts = base + int64_t{i / 3} * 37000 + (i % 3);
    TimeSettings s;
    s.zone = (i % 7 == 0) ? &utc : &ny;
    s.round = (i % 5 == 0);
    s.unit = RoundUnit::Minute;
    s.roundValue = 10;
    sdk::Headers h{{"timestamp", std::to_string(ts)}};
    std::string a, b;
    REQUIRE(cached.format(h, 0, s, a) == PathTemplate::Status::Ok);
    PathTemplate fresh = PathTemplate::compile("/d/%Y%m%d/%H%M%S/%s/%z", kHost);
    REQUIRE(fresh.format(h, 0, s, b) == PathTemplate::Status::Ok);
    CHECK_MESSAGE(a == b, "ts=", ts, " i=", i);
  }
}
