// TcpListener's flow control with real sockets: back-pressure (hold and resume), pipelined
// requests answered one at a time, yielding, slow readers, and a protocol that throws.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "net/io_pool.hpp"
#include "net/tcp_listener.hpp"
#include "net_test_support.hpp"

using namespace sluice::plugins::net;
using namespace sluice::plugins::net::testing;
namespace sdk = sluice::sdk;
using std::chrono::milliseconds;

namespace {

// Collects complete lines. While the gate is closed it holds the connection (consuming
// nothing) and keeps a handle to resume it. Lines equal to "boom" throw. With onePerCall, only
// the first line of each call is taken and answered ("re:<line>\n"), then `next` says how to go on.
class TestProtocol final : public Protocol {
 public:
  std::unique_ptr<Session> open(Connection&) override { return std::make_unique<S>(*this); }

  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu);
    return got;
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return got.size();
  }

  std::atomic<bool> gateOpen{true};
  std::atomic<int> holds{0};
  bool onePerCall = false;
  Next next = Next::Read;
  std::size_t replyBytes = 0;  // > 0: every line is answered with this many bytes
  std::mutex mu;
  std::vector<std::string> got;
  std::weak_ptr<Connection> held;

 private:
  struct S final : Session {
    explicit S(TestProtocol& p) : p(p) {}
    Step onData(Connection& c, std::string_view data) override {
      if (!p.gateOpen.load()) {
        {
          std::lock_guard<std::mutex> lock(p.mu);
          p.held = c.handle();
        }
        p.holds.fetch_add(1);
        return Step::hold(0);
      }
      std::size_t pos = 0;
      while (true) {
        const std::size_t nl = data.find('\n', pos);
        if (nl == std::string_view::npos) break;
        std::string line(data.substr(pos, nl - pos));
        pos = nl + 1;
        if (line == "boom") throw std::runtime_error("the protocol blew up");
        if (p.replyBytes > 0) c.send(std::string(p.replyBytes, 'r'));
        {
          std::lock_guard<std::mutex> lock(p.mu);
          p.got.push_back(line);
        }
        if (p.onePerCall) {
          c.send("re:" + line + "\n");
          return Step{pos, p.next, {}};
        }
      }
      return Step::read(pos);
    }
    TestProtocol& p;
  };
};

// A line server running the test protocol.
struct Server : LineServer {
  TestProtocol protocol;
  ~Server() { listener.stop(); }  // before the protocol goes
  void start(ListenerOptions o = {}) { LineServer::start(protocol, std::move(o)); }
};

std::string numbered(std::size_t i) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%010zu-", i);
  std::string line(buf);
  line.resize(99, 'p');  // 100 bytes with the newline
  return line;
}

}  // namespace

TEST_SUITE("net-flow") {
  TEST_CASE(
      "back-pressure: a held connection stalls the sender at TCP level; resume delivers all") {
    Server s;
    s.protocol.gateOpen = false;
    s.start();
    RawClient c(s.port(), 64 * 1024);
    REQUIRE(c.connected());
    constexpr std::size_t kLines = 200000;  // 20 MB: far more than the socket buffers hold
    std::string all;
    all.reserve(kLines * 100);
    for (std::size_t i = 0; i < kLines; ++i) all += numbered(i) + "\n";

    // Send without blocking until the socket takes nothing for 300 ms: the sender is stalled.
    std::size_t sent = 0;
    for (;;) {
      const std::size_t n = c.trySend(std::string_view(all).substr(sent, 65536));
      sent += n;
      REQUIRE(sent < all.size());  // everything went through: nothing held it back
      if (n > 0) continue;
      pollfd p{c.fd(), POLLOUT, 0};
      if (::poll(&p, 1, 300) == 0) break;
    }
    CHECK(s.protocol.holds.load() >= 1);
    CHECK(s.protocol.count() == 0);
    // The layer stopped reading after the first chunk; the rest waits in the kernel's buffers.
    CHECK(s.stat(Stat::BytesIn) <= 256 * 1024 + 64 * 1024);
    CHECK(static_cast<std::size_t>(s.stat(Stat::BytesIn)) < sent);

    s.protocol.gateOpen = true;
    std::shared_ptr<Connection> held;
    {
      std::lock_guard<std::mutex> lock(s.protocol.mu);
      held = s.protocol.held.lock();
    }
    REQUIRE(held);
    held->resume();  // from this (a foreign) thread
    held.reset();
    REQUIRE(c.send(std::string_view(all).substr(sent)));
    c.shutdownWrite();
    REQUIRE(waitFor([&] { return s.protocol.count() == kLines; }, milliseconds(60000)));
    const std::vector<std::string> got = s.protocol.lines();
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < kLines; ++i) wrong += got[i] == numbered(i) ? 0 : 1;
    CHECK(wrong == 0);  // every line, once, in order
    CHECK(c.waitClosed(milliseconds(10000)));
  }

  TEST_CASE("pipelined requests are answered one at a time while replies are pending") {
    for (Next next : {Next::Read, Next::Yield}) {
      CAPTURE(static_cast<int>(next));
      Server s;
      s.protocol.onePerCall = true;
      s.protocol.next = next;
      ListenerOptions o;
      if (next == Next::Read) o.maxPendingOutputBytes = 1;  // no reading while a reply is out
      s.start(o);
      RawClient c(s.port());
      std::string requests, expected;
      for (int i = 0; i < 100; ++i) {
        const std::string q = std::string("q").append(std::to_string(i));
        requests += q + "\n";
        expected += "re:" + q + "\n";
      }
      REQUIRE(c.send(requests));  // all at once, in one segment
      CHECK(c.readLines(100) == expected);
    }
  }

  TEST_CASE("an exception in a session closes that connection only") {
    Server s;
    s.start();
    RawClient good(s.port());
    RawClient bad(s.port());
    REQUIRE(good.send("one\n"));
    REQUIRE(waitFor([&] { return s.protocol.count() == 1; }));
    REQUIRE(bad.send("boom\n"));
    CHECK(bad.waitClosed(milliseconds(10000)));
    CHECK(waitFor([&] { return s.stat(Stat::Errors) == 1; }));
    CHECK(s.log.has("the protocol blew up"));
    REQUIRE(good.send("two\n"));
    CHECK(waitFor([&] { return s.protocol.count() == 2; }));
  }

  TEST_CASE("a peer that does not take its replies is closed after the write timeout") {
    Server s;
    s.protocol.replyBytes = 1 << 20;
    ListenerOptions o;
    o.writeTimeout = milliseconds(500);
    o.maxPendingOutputBytes = 4 << 20;
    s.start(o);
    RawClient c(s.port());
    std::string lines;
    for (int i = 0; i < 32; ++i) lines += "l\n";
    REQUIRE(c.send(lines));  // asks for 32 MB of replies and never reads them
    CHECK(waitFor([&] { return s.stat(Stat::WriteTimedOut) == 1; }));
    CHECK(waitFor([&] { return s.stat(Stat::Open) == 0; }));
  }

  TEST_CASE("stop sends the replies already queued within its grace period, then closes") {
    Server s;
    s.protocol.replyBytes = 8 << 20;  // more than the socket buffers hold
    s.start();
    RawClient c(s.port());
    REQUIRE(c.send("big\n"));
    REQUIRE(waitFor([&] { return s.protocol.count() == 1; }));  // the reply is queued
    std::thread stopper([&] { s.listener.stop(milliseconds(10000)); });
    std::string got;
    CHECK(c.waitClosed(milliseconds(20000), &got));
    stopper.join();
    CHECK(got.size() == std::size_t{8} << 20);
    CHECK(got.find_first_not_of('r') == std::string::npos);
  }

  TEST_CASE("stop and start again: same port, counters kept, stop safe to repeat") {
    Server s;
    ListenerOptions o;
    s.start(o);
    const uint16_t port = s.port();
    {
      RawClient c(port);
      REQUIRE(c.send("a\n"));
      REQUIRE(waitFor([&] { return s.protocol.count() == 1; }));
    }
    s.listener.stop();
    s.listener.stop();
    CHECK(s.port() == 0);
    o.port = port;
    s.start(o);
    CHECK(s.port() == port);
    RawClient c(port);
    REQUIRE(c.send("b\n"));
    CHECK(waitFor([&] { return s.protocol.count() == 2; }));
    CHECK(s.stat(Stat::Accepted) == 2);
  }

}  // TEST_SUITE
