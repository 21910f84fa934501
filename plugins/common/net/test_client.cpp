// TcpClient against real servers on 127.0.0.1: a blackhole (full backlog), a server that comes
// back, one that never answers, one that closes idle connections, and a TLS handshake that
// never comes.
#include <doctest/doctest.h>

#include "example_line_source.hpp"
#include "net/io_pool.hpp"
#include "net/tcp_client.hpp"
#include "net/tcp_listener.hpp"
#include "net_test_support.hpp"

using namespace sluice::plugins::net;
using namespace sluice::plugins::net::testing;
namespace sdk = sluice::sdk;
using std::chrono::milliseconds;

namespace {

// A listening socket that never accepts, with a backlog of 0: once one connection waits in its
// queue, the kernel drops further SYNs, so a connect to it hangs (a blackhole on loopback).
struct Blackhole {
  int fd = -1;
  uint16_t port = 0;
  std::vector<int> fillers;
  Blackhole() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 0) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    // Fill the queue: connect until a connection does not complete within 200 ms.
    for (int i = 0; i < 16; ++i) {
      const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      fillers.push_back(c);
      (void)::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);  // completes or not: see poll
      pollfd p{c, POLLOUT, 0};
      if (::poll(&p, 1, 200) == 0) return;
    }
    FAIL("the backlog never filled");
  }
  ~Blackhole() {
    for (int c : fillers) ::close(c);
    ::close(fd);
  }
};

// Takes input and never answers.
class Silent final : public Protocol {
  struct S final : Session {
    Step onData(Connection&, std::string_view data) override { return Step::read(data.size()); }
  };

 public:
  std::unique_ptr<Session> open(Connection&) override { return std::make_unique<S>(); }
};

// A free port with nothing listening on it.
uint16_t unusedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

ClientOptions to(uint16_t port) {
  ClientOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.connectTimeout = milliseconds(300);
  o.requestTimeout = milliseconds(300);
  return o;
}

std::string ask(TcpClient& c, const std::string& line) {
  LineReader reader;
  const std::string text = line + "\n";
  const std::string_view parts[] = {std::string_view(text).substr(0, 2),
                                    std::string_view(text).substr(2)};
  const sdk::Result r = c.request(parts, reader);
  return r ? reader.line : "error: " + r.error();
}

}  // namespace

TEST_SUITE("net-client") {
  TEST_CASE("connect timeout against a blackhole") {
    Blackhole hole;
    TcpClient c(to(hole.port));
    const auto t0 = Clock::now();
    const sdk::Result r = c.connect();
    const auto took = Clock::now() - t0;
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "connect-timeout (300 ms) expired");
    CHECK(took >= milliseconds(300));
    CHECK(took < milliseconds(3000));
    CHECK(c.stats().get(Stat::ConnectTimeouts) == 1);
    CHECK(c.stats().get(Stat::ConnectFailures) == 1);
    CHECK_FALSE(c.connected());
  }

  TEST_CASE("reconnect back-off against a server that comes back") {
    const uint16_t port = unusedPort();
    ClientOptions o = to(port);
    o.backoffMin = milliseconds(200);
    o.backoffMax = milliseconds(400);
    TcpClient c(o);
    sdk::Result r = c.connect();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "Connection refused");
    r = c.connect();  // within the back-off: no attempt
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("not reconnecting for another") != std::string::npos);
    CHECK(r.error().find("Connection refused") != std::string::npos);
    CHECK(c.stats().get(Stat::ConnectAttempts) == 1);
    // A caller that retries every 10 ms for a second makes a handful of attempts, not a hundred:
    // at 0, 200, 600 and 1000 ms (200, then 400 at most).
    const auto until = Clock::now() + milliseconds(1000);
    while (Clock::now() < until) {
      CHECK_FALSE(c.connect().ok());
      std::this_thread::sleep_for(milliseconds(10));  // the caller's pace, not a wait
    }
    CHECK(c.stats().get(Stat::ConnectAttempts) >= 3);
    CHECK(c.stats().get(Stat::ConnectAttempts) <= 5);

    LineServer s(1);
    ListenerOptions lo;
    lo.port = port;
    s.start(lo, acking());
    CHECK(waitFor([&] { return c.connect().ok(); }, milliseconds(10000)));
    CHECK(ask(c, "back") == "OK");
    CHECK(c.stats().get(Stat::Connects) == 1);
    c.close();
    CHECK(c.connect().ok());  // a success reset the back-off
    CHECK(c.stats().get(Stat::Closed) == 1);
  }

  TEST_CASE("request timeout against a server that never answers") {
    Silent silent;
    LineServer s(1);
    s.start(silent, {});
    TcpClient c(to(s.port()));
    REQUIRE(c.connect().ok());
    const auto t0 = Clock::now();
    CHECK(ask(c, "hello?") == "error: request-timeout (300 ms) expired waiting for the answer");
    CHECK(Clock::now() - t0 >= milliseconds(300));
    CHECK(c.stats().get(Stat::RequestTimeouts) == 1);
    CHECK_FALSE(c.connected());  // the answer might still come: the connection is not reused
  }

  TEST_CASE("an idle connection the server closed is noticed before it is used") {
    LineServer s(1);
    ListenerOptions lo;
    lo.idleTimeout = milliseconds(200);
    s.start(lo, acking());
    TcpClient c(to(s.port()));
    REQUIRE(c.connect().ok());
    CHECK(ask(c, "one") == "OK");
    CHECK_FALSE(c.peerGone());
    CHECK(waitFor([&] { return c.peerGone(); }));
    c.close();
    REQUIRE(c.connect().ok());
    CHECK(ask(c, "two") == "OK");
    CHECK(s.processor.snapshot() == std::vector<std::string>{"one", "two"});
  }

  TEST_CASE("a TLS handshake that never comes ends at the connect timeout") {
    Silent silent;
    LineServer s(1);
    s.start(silent, {});  // plain TCP: it never answers the ClientHello
    TlsOptions trustAll;
    trustAll.trustAllCerts = true;
    ClientOptions o = to(s.port());
    TlsError e;
    o.tls = makeTlsContext(trustAll, TlsRole::Client, &e);
    REQUIRE(o.tls);
    TcpClient c(o);
    const sdk::Result r = c.connect();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "connect-timeout (300 ms) expired during the TLS handshake");
    CHECK(c.stats().get(Stat::TlsFailed) == 1);
  }

}  // TEST_SUITE
