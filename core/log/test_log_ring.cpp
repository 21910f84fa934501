// The ring of recent WARN/ERROR records that the monitoring status page shows.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/log/log_ring.hpp"

using sluice::core::LogRing;

TEST_CASE("log ring: keeps records oldest first until full") {
  LogRing ring(3);
  CHECK(ring.copy().records.empty());
  ring.push(1, "warning", "sink:file_roll:k1", "a");
  ring.push(2, "error", "agent", "b");
  auto c = ring.copy();
  REQUIRE(c.records.size() == 2);
  CHECK(c.records[0].timeMs == 1);
  CHECK(c.records[0].level == "warning");
  CHECK(c.records[0].logger == "sink:file_roll:k1");
  CHECK(c.records[0].message == "a");
  CHECK(c.records[1].message == "b");
  CHECK(c.dropped == 0);
  CHECK(c.total == 2);
}

TEST_CASE("log ring: bounded, the oldest fall out and are counted") {
  LogRing ring(3);
  for (int i = 0; i < 10; ++i) ring.push(i, "error", "x", std::to_string(i));
  auto c = ring.copy();
  REQUIRE(c.records.size() == 3);
  CHECK(c.records[0].message == "7");
  CHECK(c.records[1].message == "8");
  CHECK(c.records[2].message == "9");
  CHECK(c.dropped == 7);
  CHECK(c.total == 10);
  CHECK(ring.capacity() == 3);
  CHECK(LogRing().capacity() == LogRing::kDefaultCapacity);
}

TEST_CASE("log ring: a huge message is cut on a UTF-8 boundary") {
  LogRing ring(2);
  std::string big(LogRing::kMaxMessageBytes - 1, 'a');
  big += "\xC3\xA9";  // é straddles the limit
  big += std::string(5000, 'b');
  ring.push(1, "error", "x", big);
  const std::string m = ring.copy().records.at(0).message;
  CHECK(m.size() == LogRing::kMaxMessageBytes - 1 + 3);
  CHECK(m.substr(m.size() - 3) == "\xE2\x80\xA6");
  CHECK(m.find('b') == std::string::npos);
}

TEST_CASE("log ring: many writers and a reader at once") {
  constexpr int kThreads = 4, kEach = 5000;
  LogRing ring(100);
  std::atomic<bool> done{false};
  std::atomic<int> badCopies{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto c = ring.copy();
      // Each writer's records appear in the order it wrote them, and the counts agree.
      std::map<std::string, int> last;
      for (const auto& r : c.records) {
        int seq = static_cast<int>(r.timeMs);
        auto it = last.find(r.logger);
        if (it != last.end() && it->second >= seq) ++badCopies;
        last[r.logger] = seq;
      }
      if (c.total - c.dropped != static_cast<int64_t>(c.records.size())) ++badCopies;
    }
  });
  std::vector<std::thread> writers;
  writers.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t)
    writers.emplace_back([&ring, t] {
      const std::string name = "w" + std::to_string(t);
      for (int i = 0; i < kEach; ++i) ring.push(i, "warning", name, "m");
    });
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  auto c = ring.copy();
  CHECK(badCopies.load() == 0);
  CHECK(c.records.size() == 100);
  CHECK(c.total == kThreads * kEach);
  CHECK(c.dropped == kThreads * kEach - 100);
}
