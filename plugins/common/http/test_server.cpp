// The HTTP server protocol on real sockets: raw clients send exactly the bytes each case needs
// (keep-alive, pipelining, limits, chunked bodies, Expect, timeouts, garbage) and read the
// answers with a reader that does not use Beast.
#include <doctest/doctest.h>

#include <thread>

#include "http_test_support.hpp"

using namespace sluice::plugins;
using namespace sluice::plugins::http::testing;
using namespace std::chrono_literals;

namespace {

std::string post(std::string_view path, std::string_view body, std::string_view extra = "") {
  return "POST " + std::string(path) +
         " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra) + "\r\n" + std::string(body);
}

std::string chunked(std::initializer_list<std::string_view> chunks) {
  std::string out = "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  char len[32];
  for (std::string_view c : chunks) {
    std::snprintf(len, sizeof len, "%zx\r\n", c.size());
    out.append(len).append(c).append("\r\n");
  }
  return out + "0\r\n\r\n";
}

}  // namespace

TEST_SUITE("http-server") {
  TEST_CASE("keep-alive: several requests on one connection, GET and POST") {
    HttpServerFixture f;
    RawClient c(f.port());
    AnswerReader r(c.fd());
    REQUIRE(c.send("GET /a?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"));
    Answer a = r.read();
    CHECK(a.status == 200);
    CHECK(a.body == "GET /a?x=1");
    CHECK(a.headers["content-type"] == "text/plain");
    REQUIRE(c.send(post("/b", "hello")));
    a = r.read();
    CHECK(a.status == 200);
    CHECK(a.body == "POST /b hello");
    CHECK(a.headers.count("connection") == 0);  // HTTP/1.1 keeps the connection by default
    CHECK(f.server->stats().get(http::HttpStat::Requests) == 2);
    CHECK(f.listener.stats().get(net::Stat::Accepted) == 1);
  }

  TEST_CASE("pipelined requests are answered one at a time, in order") {
    HttpServerFixture f;
    RawClient c(f.port());
    AnswerReader r(c.fd());
    std::string all;
    for (int i = 0; i < 50; ++i)
      all += post(std::string("/p").append(std::to_string(i)),
                  std::string("b").append(std::to_string(i)));
    REQUIRE(c.send(all));
    for (int i = 0; i < 50; ++i) {
      Answer a = r.read();
      REQUIRE(a.status == 200);
      CHECK(a.body == "POST /p" + std::to_string(i) + " b" + std::to_string(i));
    }
    CHECK(f.handler.requests == 50);
  }

  TEST_CASE("a client that pipelines without reading is held back by TCP") {
    http::ServerOptions so;
    HttpServerFixture f(so);
    f.handler.request = [](http::Request&, http::Response& res) {
      res.body.assign(std::size_t{64} * 1024, 'x');
    };
    RawClient c(f.port(), 4096);
    // Send requests without ever reading: the server answers the first, cannot write it all,
    // and reads nothing more, so our socket's buffers fill and sending stops.
    const std::string one = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    std::string block;
    for (int i = 0; i < 1000; ++i) block += one;
    std::size_t sent = 0;
    std::string_view left = block;
    const auto deadline = Clock::now() + 60s;
    int idle = 0;
    while (Clock::now() < deadline && idle < 50) {
      const std::size_t n = c.trySend(left);
      if (n == 0) {
        ++idle;
        std::this_thread::sleep_for(10ms);
        continue;
      }
      idle = 0;
      sent += n;
      left.remove_prefix(n);
      if (left.empty()) left = block;
    }
    CHECK(idle >= 50);  // the sender is blocked
    const int answered = f.handler.requests.load();
    CHECK(answered < static_cast<int>(sent / one.size()));
    // The connection's kept input stays bounded by the layer's read buffer.
    CHECK(f.listener.stats().get(net::Stat::InputOverflow) == 0);
  }

  TEST_CASE("a head larger than maxHeaderBytes is answered 431, and the connection closes") {
    http::ServerOptions so;
    so.maxHeaderBytes = 1024;
    HttpServerFixture f(so);
    RawClient c(f.port());
    AnswerReader r(c.fd());
    REQUIRE(c.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n"));
    Answer a = r.read();
    CHECK(a.status == 431);
    CHECK(a.headers["connection"] == "close");
    CHECK(r.closed());
    CHECK(f.handler.requests == 0);
    CHECK(f.server->stats().get(http::HttpStat::Malformed) == 1);
  }

  TEST_CASE("too many header fields: 431; a target over maxTargetBytes: 414") {
    http::ServerOptions so;
    so.maxHeaders = 5;
    so.maxTargetBytes = 100;
    HttpServerFixture f(so);
    {
      RawClient c(f.port());
      AnswerReader r(c.fd());
      std::string req = "GET / HTTP/1.1\r\n";
      for (int i = 0; i < 10; ++i) req += "X-" + std::to_string(i) + ": v\r\n";
      REQUIRE(c.send(req + "\r\n"));
      CHECK(r.read().status == 431);
    }
    RawClient c(f.port());
    AnswerReader r(c.fd());
    REQUIRE(c.send("GET /" + std::string(200, 'p') + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    CHECK(r.read().status == 414);
    CHECK(r.closed());
  }

  TEST_CASE("a body over maxBodyBytes is answered 413 from its Content-Length, unread") {
    http::ServerOptions so;
    so.maxBodyBytes = 1000;
    HttpServerFixture f(so);
    RawClient c(f.port());
    AnswerReader r(c.fd());
    // Only the head is sent: the answer must not wait for the body.
    REQUIRE(c.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n"));
    Answer a = r.read(5s);
    CHECK(a.status == 413);
    CHECK(r.closed());
    CHECK(f.handler.requests == 0);
    CHECK(f.server->stats().get(http::HttpStat::BodyTooLarge) == 1);
  }

  TEST_CASE("a chunked body is decoded, and refused with 413 once it passes the limit") {
    http::ServerOptions so;
    so.maxBodyBytes = 100;
    HttpServerFixture f(so);
    {
      RawClient c(f.port());
      AnswerReader r(c.fd());
      REQUIRE(c.send(chunked({"hel", "lo ", "world"})));
      Answer a = r.read();
      CHECK(a.status == 200);
      CHECK(a.body == "POST /c hello world");
      // Chunk by chunk, slowly: the same.
      const std::string again = chunked({"abc", "def"});
      for (char ch : again) REQUIRE(c.send(std::string_view(&ch, 1)));
      CHECK(r.read().body == "POST /c abcdef");
    }
    RawClient c(f.port());
    AnswerReader r(c.fd());
    std::string big = "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 10; ++i) big += "14\r\n" + std::string(20, 'z') + "\r\n";
    REQUIRE(c.send(big));
    CHECK(r.read().status == 413);
    CHECK(r.closed());
    CHECK(f.handler.requests == 1 + 1);
  }

  TEST_CASE("Expect: 100-continue gets 100 Continue before the body, unless the head is refused") {
    HttpServerFixture f;
    f.handler.head = [](const http::Request& h, http::Response& res, http::BodyPolicy&) {
      if (h.path == "/no") {
        res.status = 403;
        res.body = "no\n";
        return false;
      }
      return true;
    };
    {
      RawClient c(f.port());
      AnswerReader r(c.fd());
      REQUIRE(c.send(
          "POST /yes HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
      Answer cont = r.read();
      CHECK(cont.status == 100);
      REQUIRE(c.send("body"));
      CHECK(r.read().body == "POST /yes body");
    }
    RawClient c(f.port());
    AnswerReader r(c.fd());
    REQUIRE(c.send(
        "POST /no HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
    Answer a = r.read();
    CHECK(a.status == 403);  // no 100 first
    CHECK(a.body == "no\n");
    CHECK(r.closed());  // its body was never read
    CHECK(f.server->stats().get(http::HttpStat::HeadRejected) == 1);
  }

  TEST_CASE("a refused head without a body keeps the connection") {
    HttpServerFixture f;
    f.handler.head = [](const http::Request& h, http::Response& res, http::BodyPolicy&) {
      if (h.method != "PUT") return true;
      res.status = 405;
      res.headers.emplace_back("Allow", "GET, POST");
      return false;
    };
    RawClient c(f.port());
    AnswerReader r(c.fd());
    REQUIRE(c.send("PUT /x HTTP/1.1\r\nHost: t\r\n\r\nGET /y HTTP/1.1\r\nHost: t\r\n\r\n"));
    Answer a = r.read();
    CHECK(a.status == 405);
    CHECK(a.headers["allow"] == "GET, POST");
    CHECK(r.read().body == "GET /y");
    CHECK(f.handler.requests == 1);
  }

  TEST_CASE("BodyPolicy::truncateAt keeps the head of a body and drops the rest") {
    HttpServerFixture f;
    f.handler.head = [](const http::Request&, http::Response&, http::BodyPolicy& b) {
      b.truncateAt = 10;
      return true;
    };
    f.handler.request = [](http::Request& req, http::Response& res) {
      res.body = *req.body + " " + std::to_string(req.bodyBytes) + " " +
                 (req.bodyTruncated ? "cut" : "whole");
    };
    RawClient c(f.port());
    AnswerReader r(c.fd());
    REQUIRE(c.send(post("/", std::string(5000, 'a') + "b")));
    CHECK(r.read().body == "aaaaaaaaaa 5001 cut");
    REQUIRE(c.send(post("/", "short")));
    CHECK(r.read().body == "short 5 whole");
  }

  TEST_CASE(
      "a request that does not complete within requestTimeout gets 408; idle ones just close") {
    net::ListenerOptions lo;
    lo.requestTimeout = 300ms;
    lo.idleTimeout = 600ms;
    HttpServerFixture f({}, lo);
    RawClient slow(f.port());
    AnswerReader r(slow.fd());
    REQUIRE(slow.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
    Answer a = r.read(5s);
    CHECK(a.status == 408);
    CHECK(r.closed());
    CHECK(f.server->stats().get(http::HttpStat::TimedOut) == 1);

    RawClient idle(f.port());
    AnswerReader ri(idle.fd());
    REQUIRE(idle.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    CHECK(ri.read().status == 200);
    CHECK(ri.closed(5s));
    CHECK(ri.pending().empty());  // closed without a word
    CHECK(f.listener.stats().get(net::Stat::IdleClosed) >= 1);
  }

  TEST_CASE("garbage is answered 400 and closed; other connections keep being served") {
    HttpServerFixture f;
    RawClient good(f.port());
    AnswerReader rg(good.fd());
    RawClient bad(f.port());
    AnswerReader rb(bad.fd());
    // A TLS ClientHello's first bytes (NULs included), then garbage.
    static constexpr char kTlsLike[] =
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage\r\n\r\n";
    REQUIRE(bad.send(std::string(kTlsLike, sizeof kTlsLike - 1)));
    CHECK(rb.read().status == 400);
    CHECK(rb.closed());
    REQUIRE(good.send("GET /still HTTP/1.1\r\nHost: t\r\n\r\n"));
    CHECK(rg.read().body == "GET /still");
    CHECK(f.server->stats().get(http::HttpStat::Malformed) == 1);
  }

  TEST_CASE("HEAD gets the head of the answer: Content-Length and no body") {
    HttpServerFixture f;
    RawClient c(f.port());
    AnswerReader r(c.fd());
    REQUIRE(c.send("HEAD /h HTTP/1.1\r\nHost: t\r\n\r\nGET /g HTTP/1.1\r\nHost: t\r\n\r\n"));
    Answer a = r.read(10s, true);
    CHECK(a.status == 200);
    CHECK(a.headers["content-length"] == "7");  // "HEAD /h"
    CHECK(a.body.empty());
    CHECK(r.read().body == "GET /g");  // the next answer follows right after the head
  }

  TEST_CASE("HTTP/1.0 closes after the answer unless it asks for keep-alive; HTTP/2.0 gets 505") {
    HttpServerFixture f;
    {
      RawClient c(f.port());
      AnswerReader r(c.fd());
      REQUIRE(c.send("GET /old HTTP/1.0\r\n\r\n"));
      Answer a = r.read();
      CHECK(a.status == 200);
      CHECK(a.raw.compare(0, 8, "HTTP/1.0") == 0);
      CHECK(r.closed());
    }
    {
      RawClient c(f.port());
      AnswerReader r(c.fd());
      REQUIRE(c.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
      Answer a = r.read();
      CHECK(a.headers["connection"] == "keep-alive");
      REQUIRE(c.send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
      CHECK(r.read().body == "GET /b");
    }
    RawClient c(f.port());
    AnswerReader r(c.fd());
    REQUIRE(c.send("GET / HTTP/2.0\r\nHost: t\r\n\r\n"));
    CHECK(r.read().status == 505);
  }

  TEST_CASE("clients over maxConnections get a 503 and are closed") {
    net::ListenerOptions lo;
    lo.maxConnections = 2;
    HttpServerFixture f({}, lo);
    RawClient a(f.port()), b(f.port());
    REQUIRE(waitFor([&] { return f.listener.stats().get(net::Stat::Open) == 2; }));
    RawClient c(f.port());
    AnswerReader r(c.fd());
    Answer refused = r.read();
    CHECK(refused.status == 503);
    CHECK(r.closed());
    CHECK(f.listener.stats().get(net::Stat::Rejected) == 1);
  }

  TEST_CASE("a handler that throws is answered 500; the connection goes on") {
    HttpServerFixture f;
    f.handler.request = [](http::Request& req, http::Response& res) {
      if (req.path == "/boom") throw std::runtime_error("boom");
      res.body = "fine";
    };
    RawClient c(f.port());
    AnswerReader r(c.fd());
    REQUIRE(c.send("GET /boom HTTP/1.1\r\nHost: t\r\n\r\n"));
    Answer a = r.read();
    CHECK(a.status == 500);
    CHECK(a.body.find("boom") != std::string::npos);
    REQUIRE(c.send("GET /ok HTTP/1.1\r\nHost: t\r\n\r\n"));
    CHECK(r.read().body == "fine");
    CHECK(f.server->stats().get(http::HttpStat::HandlerFailures) == 1);
  }

  TEST_CASE("a stop in the middle of a request answers 503") {
    auto f = std::make_unique<HttpServerFixture>();
    RawClient c(f->port());
    AnswerReader r(c.fd());
    REQUIRE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
    REQUIRE(waitFor([&] { return f->handler.heads.load() == 1; }));
    f->listener.stop();
    Answer a = r.read();
    CHECK(a.status == 503);
    CHECK(r.closed());
    CHECK(f->handler.requests == 0);
  }

  TEST_CASE("empty lines before a request are skipped") {
    HttpServerFixture f;
    RawClient c(f.port());
    AnswerReader r(c.fd());
    REQUIRE(c.send(post("/a", "x") + "\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n"));
    CHECK(r.read().body == "POST /a x");
    CHECK(r.read().body == "GET /b");
  }
}
