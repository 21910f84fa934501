// The data path allocates only each event's own header vector and body: framing, parsing and the
// timestamp cost nothing more (counted with a replaced operator new, so this is a binary of its
// own).
#include "allocation_counter.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "syslog/framer.hpp"
#include "syslog/syslog_parser.hpp"
#include "syslog/syslog_utils.hpp"
#include "test_util.hpp"

namespace sdk = sluice::sdk;
using namespace sluice::plugins::syslog;
using namespace sluice::plugins::syslog::testing;
using sluice::plugins::testing::allocationsDuring;

namespace {

constexpr int kMessages = 1000;

std::string stream() {
  std::string s;
  for (int i = 0; i < kMessages; ++i) {
    const std::string msg = "<165>1 2026-06-15T12:34:56.123456+02:00 host" +
                            std::to_string(i % 10) +
                            " app 4242 ID47 [x@1 a=\"b\"] message number " + std::to_string(i);
    if (i % 2) {
      s += msg + "\n";
    } else {
      s += std::to_string(msg.size()) + " " + msg;  // octet-counted
    }
  }
  return s;
}

template <class Framer, class Parse>
long run(const std::string& input, Parse&& parse, std::vector<sdk::Event>& events) {
  FramerOptions o;
  Framer framer(o);
  return allocationsDuring([&] {
    std::string_view view = input;
    while (true) {
      const FrameStep s = framer.next(view);
      view.remove_prefix(s.consumed);
      if (s.kind != FrameStep::Message) break;
      events.emplace_back();
      parse(s.message, events.back());
    }
  });
}

}  // namespace

TEST_CASE("SyslogUtils path: two allocations per event, header vector and body") {
  useTestZone();
  const std::string input = stream();
  SyslogUtilsParser parser(parseKeepFields("none"), {}, LocalZone::system());
  const int64_t now = utcMillis(2026, 6, 15, 12, 0, 0);
  auto parse = [&](const Message& m, sdk::Event& e) { parser.parse(m, now, {}, e); };
  std::vector<sdk::Event> warm;
  warm.reserve(kMessages);
  run<UtilsFramer>(input, parse, warm);  // fills the header templates and the zone's caches
  std::vector<sdk::Event> events;
  events.reserve(kMessages);
  const long n = run<UtilsFramer>(input, parse, events);
  REQUIRE(events.size() == kMessages);
  CHECK(header(events[7], "timestamp") ==
        std::to_string(localMillis(2026, 6, 15, 12, 34, 56, 123)));
  CHECK(n == 2 * kMessages);
}

TEST_CASE("SyslogParser path: two allocations per event, header vector and body") {
  useTestZone();
  const std::string input = stream();
  MultiportParser parser(parseKeepFields("none"), {}, CharsetConfig{}, LocalZone::system());
  const int64_t now = utcMillis(2026, 6, 15, 12, 0, 0);
  auto parse = [&](const Message& m, sdk::Event& e) { parser.parse(m, now, 5140, {}, e); };
  std::vector<sdk::Event> warm;
  warm.reserve(kMessages);
  run<LineFramer>(input, parse, warm);
  std::vector<sdk::Event> events;
  events.reserve(kMessages);
  const long n = run<LineFramer>(input, parse, events);
  REQUIRE(events.size() == kMessages);
  CHECK(header(events[7], "timestamp") == std::to_string(utcMillis(2026, 6, 15, 10, 34, 56, 123)));
  CHECK(n == 2 * kMessages);
}
