// TcpListener with real sockets on 127.0.0.1: limits, deadlines, back-pressure and stop.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "example_line_source.hpp"
#include "net/io_pool.hpp"
#include "net/tcp_listener.hpp"
#include "net/tcp_service.hpp"
#include "net_test_support.hpp"

using namespace sluice::plugins::net;
using namespace sluice::plugins::net::testing;
namespace sdk = sluice::sdk;
using std::chrono::milliseconds;

TEST_SUITE("net-listener") {
  TEST_CASE("port 0 is reported; lines arrive; a half-closed client still gets every reply") {
    LineServer s;
    s.start({}, acking());
    RawClient c(s.port());
    REQUIRE(c.connected());
    REQUIRE(c.send("alpha\nbeta\r\ngam"));
    REQUIRE(c.send("ma\n"));
    c.shutdownWrite();
    CHECK(c.readLines(3) == "OK\nOK\nOK\n");
    CHECK(c.waitClosed(milliseconds(5000)));
    CHECK(s.processor.snapshot() == std::vector<std::string>{"alpha", "beta", "gamma"});
    CHECK(waitFor([&] { return s.stat(Stat::Open) == 0; }));
    CHECK(s.stat(Stat::Accepted) == 1);
    CHECK(s.stat(Stat::Closed) == 1);
    CHECK(s.counter.getEventAcceptedCount() == 3);
  }

  TEST_CASE("an address that cannot be bound fails start, naming it and the reason") {
    LineServer a;
    a.start({});
    LineServer b;
    example::LineSource source(b.processor, b.counter, b.pool.size(), {});
    ListenerOptions o;
    o.bind = "127.0.0.1";
    o.port = a.listener.port();
    sdk::Result r = b.listener.start(b.pool, source, o, b.log);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() ==
          "cannot bind to 127.0.0.1:" + std::to_string(o.port) + ": Address already in use");
    o.bind = "no-such-host.invalid";
    r = b.listener.start(b.pool, source, o, b.log);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("cannot resolve 'no-such-host.invalid'") != std::string::npos);
    b.listener.stop();  // stopping a listener that never started does nothing
  }

  TEST_CASE("TcpService starts threads, protocol and listener together, or nothing at all") {
    CaptureLogger log;
    RecordingProcessor processor;
    sdk::SourceCounter counter;
    std::size_t madeFor = 0;
    const TcpService::MakeProtocol make = [&](std::size_t ioThreads) {
      madeFor = ioThreads;
      return std::make_unique<example::LineSource>(processor, counter, ioThreads, acking());
    };
    ListenerOptions o;
    o.bind = "127.0.0.1";
    TcpService a;
    REQUIRE(a.start("svc", 2, o, log, make).ok());
    CHECK(a.running());
    CHECK(madeFor == 2);
    CHECK(a.ioThreads() == 2);
    const uint16_t port = a.port();
    REQUIRE(port != 0);
    CHECK(a.address() == "127.0.0.1:" + std::to_string(port) + " (port chosen by the system)");
    {
      RawClient c(port);
      REQUIRE(c.send("one\n"));
      CHECK(c.readLines(1) == "OK\n");
    }
    CHECK(processor.snapshot() == std::vector<std::string>{"one"});

    // The port is taken: the second service fails naming it, and runs nothing.
    TcpService b;
    o.port = port;
    madeFor = 0;
    const sdk::Result r = b.start("svc", 1, o, log, make);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() ==
          "cannot bind to 127.0.0.1:" + std::to_string(port) + ": Address already in use");
    CHECK_FALSE(b.running());
    CHECK(b.port() == 0);
    CHECK(b.ioThreads() == 0);

    a.stop();
    CHECK_FALSE(a.running());
    CHECK(a.port() == 0);
    a.stop();  // safe to repeat
    // Freed: the second service starts on it, with the address as configured.
    REQUIRE(b.start("svc", 1, o, log, make).ok());
    CHECK(madeFor == 1);
    CHECK(b.port() == port);
    CHECK(b.address() == "127.0.0.1:" + std::to_string(port));
  }

  TEST_CASE("TcpService on several ports: one protocol, one set of counters; a taken port undoes") {
    CaptureLogger log;
    RecordingProcessor processor;
    sdk::SourceCounter counter;
    int made = 0;
    const TcpService::MakeProtocol make = [&](std::size_t ioThreads) {
      ++made;
      return std::make_unique<example::LineSource>(processor, counter, ioThreads, acking());
    };
    ListenerOptions o;
    o.bind = "127.0.0.1";
    TcpService a;
    REQUIRE(a.start("svc", 2, o, log, make, {0, 0}).ok());
    CHECK(made == 1);
    const std::vector<uint16_t> ports = a.ports();
    REQUIRE(ports.size() == 2);
    CHECK(ports[0] != ports[1]);
    CHECK(a.port() == ports[0]);
    CHECK(a.address(1) == "127.0.0.1:" + std::to_string(ports[1]) + " (port chosen by the system)");
    for (const uint16_t port : ports) {
      RawClient c(port);
      REQUIRE(c.send("via " + std::to_string(port) + "\n"));
      CHECK(c.readLines(1) == "OK\n");
    }
    CHECK(processor.snapshot().size() == 2);
    CHECK(waitFor([&] { return a.stats().get(Stat::Accepted) == 2; }));

    // The second port is taken: the first one, already bound, is closed again.
    TcpService b;
    const sdk::Result r = b.start("svc", 1, o, log, make, {0, ports[1]});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find(":" + std::to_string(ports[1]) + ": Address already in use") !=
          std::string::npos);
    CHECK_FALSE(b.running());
    CHECK(b.ports().empty());
    CHECK(b.port() == 0);
  }

  TEST_CASE("a client that connects and sends nothing is closed after the idle timeout") {
    LineServer s;
    ListenerOptions o;
    o.idleTimeout = milliseconds(300);
    s.start(o);
    const auto t0 = Clock::now();
    RawClient c(s.port());
    REQUIRE(c.connected());
    CHECK(c.waitClosed(milliseconds(10000)));
    CHECK(Clock::now() - t0 >= milliseconds(300));
    CHECK(waitFor([&] { return s.stat(Stat::IdleClosed) == 1; }));
    CHECK(waitFor([&] { return s.stat(Stat::Open) == 0; }));
  }

  TEST_CASE("a client sending a byte per second is closed by the request deadline") {
    LineServer s;
    ListenerOptions o;
    o.requestTimeout = milliseconds(1500);
    o.idleTimeout = milliseconds(60000);  // it is never idle: the request deadline must act
    s.start(o);
    RawClient c(s.port());
    REQUIRE(c.connected());
    const auto t0 = Clock::now();
    int sent = 0;
    // The client's pace is the behaviour under test: one byte, then a second of waiting for the
    // server to close (which ends the wait early).
    while (sent < 15) {
      if (!c.send("x")) break;
      ++sent;
      if (c.waitClosed(milliseconds(1000))) break;
    }
    const auto took = Clock::now() - t0;
    CHECK(c.peerClosed());
    CHECK(sent <= 4);  // bounded: ~1.5 s of request time plus the sweep
    CHECK(took < milliseconds(5000));
    CHECK(waitFor([&] { return s.stat(Stat::RequestTimedOut) == 1; }));
    CHECK(s.stat(Stat::IdleClosed) == 0);
    CHECK(s.processor.count() == 0);
    CHECK(waitFor([&] { return s.stat(Stat::Open) == 0; }));
    CHECK(waitFor([&] { return s.source->partialDropped.load() == 1; }));
  }

  TEST_CASE("a steady client whose reads end mid-line is not taken for a slow one") {
    LineServer s;
    ListenerOptions o;
    o.requestTimeout = milliseconds(300);
    s.start(o);
    RawClient c(s.port());
    const auto until = Clock::now() + milliseconds(1500);
    int lines = 0;
    REQUIRE(c.send("l0-"));
    while (Clock::now() < until) {
      // Each send finishes a line and starts the next: the server always keeps half a line.
      REQUIRE(c.send("end\nl" + std::to_string(++lines) + "-"));
      CHECK_FALSE(c.waitClosed(milliseconds(50)));  // the client's pace
    }
    REQUIRE(c.send("end\n"));
    CHECK(waitFor([&] { return s.processor.count() == static_cast<std::size_t>(lines) + 1; }));
    CHECK(s.stat(Stat::RequestTimedOut) == 0);
  }

  TEST_CASE(
      "max-connections + 50 clients: the extra ones are accepted and closed, the others work") {
    LineServer s;
    ListenerOptions o;
    o.maxConnections = 20;
    s.start(o, acking());
    std::vector<std::unique_ptr<RawClient>> kept;
    for (int i = 0; i < 20; ++i) {
      kept.push_back(std::make_unique<RawClient>(s.port()));
      REQUIRE(kept.back()->send("first-" + std::to_string(i) + "\n"));
      REQUIRE(kept.back()->readLines(1) == "OK\n");
    }
    REQUIRE(waitFor([&] { return s.stat(Stat::Open) == 20; }));
    std::vector<std::unique_ptr<RawClient>> extra;
    extra.reserve(50);
    for (int i = 0; i < 50; ++i) extra.push_back(std::make_unique<RawClient>(s.port()));
    int closed = 0;
    for (auto& c : extra) closed += c->waitClosed(milliseconds(10000)) ? 1 : 0;
    CHECK(closed == 50);
    CHECK(waitFor([&] { return s.stat(Stat::Rejected) == 50; }));
    CHECK(s.log.has("connections are open (max-connections)"));
    for (int i = 0; i < 20; ++i) {
      REQUIRE(kept[i]->send("second-" + std::to_string(i) + "\n"));
      CHECK(kept[i]->readLines(1) == "OK\n");
    }
    CHECK(s.processor.count() == 40);
    CHECK(s.stat(Stat::Open) == 20);
    CHECK(s.stat(Stat::Accepted) == 20);
  }

  TEST_CASE("more unconsumed input than the read buffer limit closes the connection") {
    LineServer s;
    ListenerOptions o;
    o.maxBufferedInputBytes = 1024;
    s.start(o);
    RawClient c(s.port());
    REQUIRE(c.send("ok\n" + std::string(5000, 'y')));
    CHECK(c.waitClosed(milliseconds(10000)));
    CHECK(waitFor([&] { return s.stat(Stat::InputOverflow) == 1; }));
    CHECK(s.processor.snapshot() == std::vector<std::string>{"ok"});
  }

  TEST_CASE("stop while 100 clients are mid-request: replies complete or the connection closes") {
    LineServer s;
    ListenerOptions o;
    o.maxConnections = 200;
    s.start(o, acking());
    constexpr int kClients = 100;
    struct Outcome {
      std::vector<std::string> acked;  // lines answered OK
      std::string leftover;            // bytes after the last complete reply
      bool sawClose = false;
    };
    std::vector<Outcome> out(kClients);
    std::vector<std::atomic<int>> acks(kClients);
    std::vector<std::thread> threads;
    threads.reserve(kClients);
    for (int k = 0; k < kClients; ++k)
      threads.emplace_back([&, k] {
        RawClient c(s.port());
        if (!c.connected()) return;
        Outcome& me = out[k];
        for (int i = 0;; ++i) {
          const std::string line = "c" + std::to_string(k) + "-" + std::to_string(i);
          // Half a line, then the rest: the server holds an unfinished request most of the time.
          if (!c.send(line.substr(0, 3)) || !c.send(line.substr(3) + "\n")) break;
          std::string got = c.readLines(1, milliseconds(20000));
          if (got == "OK\n") {
            me.acked.push_back(line);
            acks[k].fetch_add(1);
            continue;
          }
          me.leftover = got;
          break;
        }
        me.sawClose = c.waitClosed(milliseconds(20000), &me.leftover) || c.peerClosed();
      });
    // Every client is connected and going (at least two requests answered).
    REQUIRE(waitFor(
        [&] { return std::all_of(acks.begin(), acks.end(), [](auto& a) { return a >= 2; }); },
        milliseconds(60000)));
    const auto t0 = Clock::now();
    s.listener.stop(milliseconds(3000));
    const auto took = Clock::now() - t0;
    for (auto& t : threads) t.join();
    CHECK(took < milliseconds(3000 + 2000));
    const std::vector<std::string> stored = s.processor.snapshot();
    const std::set<std::string> inStore(stored.begin(), stored.end());
    int lost = 0, partial = 0, open = 0;
    for (const Outcome& o2 : out) {
      for (const std::string& l : o2.acked) lost += inStore.count(l) ? 0 : 1;
      partial += o2.leftover.empty() ? 0 : 1;
      open += o2.sawClose ? 0 : 1;
    }
    CHECK(lost == 0);     // nothing acknowledged was lost
    CHECK(partial == 0);  // no client saw half a reply
    CHECK(open == 0);     // every client saw its connection end
    CHECK(s.listener.stats().get(Stat::Open) == 0);
  }

}  // TEST_SUITE
