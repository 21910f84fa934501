// The layer's data path allocates nothing per event beyond the event itself: counted with a
// replaced global operator new (allocation_counter.hpp, hence a test binary of its own).
#include <doctest/doctest.h>

#include <cstdio>

#include "allocation_counter.hpp"
#include "net_test_support.hpp"

using namespace sluice::plugins::net;
using namespace sluice::plugins::net::testing;
using sluice::plugins::testing::gAllocations;

TEST_SUITE("net-alloc") {
  TEST_CASE("lines through the listener cost one allocation each: the event's body") {
    LineServer s(1);
    s.start({});  // the example line source: no acks, batches of 100
    RawClient c(s.port());
    REQUIRE(c.connected());
    // Warm up: the connection, its session and the first batch allocate once, outside the count.
    REQUIRE(c.send(std::string(39, 'w') + "\n"));
    REQUIRE(waitFor([&] { return s.processor.count() == 1; }));
    constexpr std::size_t kLines = 20000;
    s.processor.reserve(kLines + 1);  // the recorder must not grow either
    std::string data;
    for (std::size_t i = 0; i < kLines; ++i) {
      char line[64];
      std::snprintf(line, sizeof line, "%039zu\n", i);  // a 39-byte body: beyond any SSO
      data += line;
    }
    const long before = gAllocations.load();
    const bool sent = c.send(data);
    const bool arrived = waitFor([&] { return s.processor.count() == kLines + 1; });
    const long allocations = gAllocations.load() - before;
    REQUIRE(sent);
    REQUIRE(arrived);
    MESSAGE(allocations, " allocations for ", kLines, " lines");
    CHECK(allocations >= static_cast<long>(kLines));                 // the bodies are counted...
    CHECK(allocations <= static_cast<long>(kLines + kLines / 100));  // ...and little else
  }
}
