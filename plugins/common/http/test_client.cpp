// The HTTP client against the layer's own server (keep-alive, limits, TLS) and against servers
// written here on raw sockets that answer exactly what a case needs: interim 1xx answers,
// bodies that end with the connection, a keep-alive connection closed under the client, a
// server that never answers, garbage.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "http/http_client.hpp"
#include "http_test_support.hpp"
#include "wait.hpp"

using namespace sluice::plugins;
namespace sdk = sluice::sdk;
using namespace sluice::plugins::http::testing;
using namespace std::chrono_literals;

namespace {

// Accepts connections on 127.0.0.1 and runs `script` on each, one at a time, on its thread.
class ScriptServer {
 public:
  explicit ScriptServer(std::function<void(int fd, int index)> script)
      : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      for (int i = 0;; ++i) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        script_(c, i);
        ::close(c);
        ++closed_;
      }
    });
  }
  ~ScriptServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  // Connections the script has finished with and closed.
  int closed() const { return closed_.load(); }

 private:
  std::function<void(int, int)> script_;
  std::atomic<int> closed_{0};
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

// Reads one request (head and Content-Length body) from fd; "" when the peer closed.
std::string readRequest(int fd, std::string& buf) {
  for (;;) {
    const std::size_t end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::size_t length = 0;
      const std::size_t cl = buf.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) length = std::stoul(buf.substr(cl + 16));
      if (buf.size() >= end + 4 + length) {
        std::string req = buf.substr(0, end + 4 + length);
        buf.erase(0, end + 4 + length);
        return req;
      }
    }
    char b[65536];
    const ssize_t n = ::recv(fd, b, sizeof b, 0);
    if (n <= 0) return "";
    buf.append(b, static_cast<std::size_t>(n));
  }
}

void sendAll(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

http::Url urlOf(uint16_t port, const std::string& path = "/in") {
  http::Url u;
  std::string error;
  REQUIRE(http::parseUrl("http://127.0.0.1:" + std::to_string(port) + path, &u, &error));
  return u;
}

http::ClientOptions quick() {
  http::ClientOptions o;
  o.connectTimeout = 2000ms;
  o.requestTimeout = 1000ms;
  return o;
}

}  // namespace

TEST_SUITE("http-client") {
  TEST_CASE("parseUrl: schemes, ports, IPv6, paths, errors") {
    http::Url u;
    std::string e;
    REQUIRE(http::parseUrl("http://example.com", &u, &e));
    CHECK(!u.https);
    CHECK(u.host == "example.com");
    CHECK(u.port == 80);
    CHECK(u.target == "/");
    CHECK(u.authority == "example.com");
    REQUIRE(http::parseUrl("HTTPS://user:pw@[::1]:8443/a/b?c=d#frag", &u, &e));
    CHECK(u.https);
    CHECK(u.host == "::1");
    CHECK(u.port == 8443);
    CHECK(u.target == "/a/b?c=d");
    CHECK(u.authority == "[::1]:8443");
    CHECK(u.hasUserInfo);
    REQUIRE(http::parseUrl("http://h:8080?q=1", &u, &e));
    CHECK(u.target == "/?q=1");
    CHECK(u.authority == "h:8080");
    CHECK_FALSE(http::parseUrl("ftp://h/", &u, &e));
    CHECK(e.find("http://") != std::string::npos);
    CHECK_FALSE(http::parseUrl("http://h:99999/", &u, &e));
    CHECK(e.find("bad port") != std::string::npos);
    CHECK_FALSE(http::parseUrl("http:///path", &u, &e));
    CHECK_FALSE(http::parseUrl("http://h/a b", &u, &e));
    CHECK_FALSE(http::parseUrl("localhost:8080", &u, &e));
  }

  TEST_CASE("POSTs go out over one kept-alive connection, with the configured headers") {
    HttpServerFixture f;
    std::mutex mu;
    std::vector<std::string> seen;
    f.handler.request = [&](http::Request& req, http::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      seen.push_back(std::string(req.header("content-type")) + "|" +
                     std::string(req.header("accept")) + "|" + std::string(req.header("host")) +
                     "|" + *req.body);
      res.status = req.body->empty() ? 400 : 201;
      res.body = "ok";
    };
    http::ClientOptions o = quick();
    o.contentType = "application/json";
    o.accept = "*/*";
    http::Client client(urlOf(f.port()), o);
    for (int i = 0; i < 100; ++i) {
      http::ClientResponse res;
      const sdk::Result r = client.post("event " + std::to_string(i), &res);
      REQUIRE_MESSAGE(r.ok(), r.error());
      CHECK(res.status == 201);
      CHECK(res.bodyHead == "ok");
    }
    CHECK(client.stats().get(net::Stat::Connects) == 1);
    REQUIRE(seen.size() == 100);
    CHECK(seen[7] == "application/json|*/*|127.0.0.1:" + std::to_string(f.port()) + "|event 7");
  }

  TEST_CASE("interim 1xx answers are skipped; a body that ends with the connection works") {
    ScriptServer s([](int fd, int) {
      std::string buf;
      if (readRequest(fd, buf).empty()) return;
      sendAll(fd,
              "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
              "HTTP/1.0 202 Accepted\r\n\r\nthe body runs until the close");
    });
    http::Client client(urlOf(s.port()), quick());
    for (int i = 0; i < 3; ++i) {
      http::ClientResponse res;
      const sdk::Result r = client.post("x", &res);
      REQUIRE_MESSAGE(r.ok(), r.error());
      CHECK(res.status == 202);
      CHECK_FALSE(res.keepAlive);
    }
    CHECK(client.stats().get(net::Stat::Connects) == 3);
  }

  TEST_CASE("answers with a Content-Length body, head and body in separate writes") {
    // Python's http.server and nginx write the head, then the body: the client must take both
    // (Boost 1.74 refuses any body when the parser's limit is left empty).
    ScriptServer s([](int fd, int) {
      std::string buf;
      for (int i = 0; !readRequest(fd, buf).empty(); ++i) {
        sendAll(fd, i % 2 == 0 ? "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 7\r\n\r\n"
                               : "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n");
        ::usleep(20 * 1000);
        sendAll(fd, "thanks\n");
      }
    });
    http::Client client(urlOf(s.port()), quick());
    for (int i = 0; i < 4; ++i) {
      http::ClientResponse res;
      const sdk::Result r = client.post("x", &res);
      REQUIRE_MESSAGE(r.ok(), r.error());
      CHECK(res.status == (i % 2 == 0 ? 503 : 200));
      CHECK(res.bodyHead == "thanks\n");
      CHECK(res.keepAlive);
    }
    CHECK(client.stats().get(net::Stat::Connects) == 1);
  }

  TEST_CASE("a kept-alive connection the server closed is replaced once, without a failure") {
    ScriptServer s([](int fd, int) {
      std::string buf;
      // Answer one request, then close as an idle timeout would.
      if (readRequest(fd, buf).empty()) return;
      sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
      ::usleep(100 * 1000);
    });
    http::Client client(urlOf(s.port()), quick());
    for (int i = 0; i < 5; ++i) {
      http::ClientResponse res;
      const sdk::Result r = client.post("x", &res);
      REQUIRE_MESSAGE(r.ok(), r.error());
      CHECK(res.status == 200);
      REQUIRE(sluice::plugins::testing::waitFor([&] { return s.closed() == i + 1; }));
    }
    CHECK(client.stats().get(net::Stat::Connects) == 5);
  }

  TEST_CASE("failures: a server that never answers, garbage, a refused connection") {
    SUBCASE("no answer within requestTimeout") {
      std::atomic<bool> done{false};
      ScriptServer s([&](int fd, int) {
        std::string buf;
        readRequest(fd, buf);
        while (!done) ::usleep(10 * 1000);
      });
      http::Client client(urlOf(s.port()), quick());
      http::ClientResponse res;
      const auto t0 = Clock::now();
      const sdk::Result r = client.post("x", &res);
      done = true;
      CHECK_FALSE(r.ok());
      CHECK(r.error().find("request-timeout") != std::string::npos);
      CHECK(r.error().find("POST http://127.0.0.1:") == 0);
      CHECK(Clock::now() - t0 < 5s);
      CHECK(client.stats().get(net::Stat::RequestTimeouts) == 1);
    }
    SUBCASE("garbage instead of HTTP") {
      ScriptServer s([](int fd, int) {
        std::string buf;
        readRequest(fd, buf);
        sendAll(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
      });
      http::Client client(urlOf(s.port()), quick());
      http::ClientResponse res;
      const sdk::Result r = client.post("x", &res);
      CHECK_FALSE(r.ok());
      CHECK(r.error().find("bad answer") != std::string::npos);
    }
    SUBCASE("nobody listening") {
      uint16_t port = 0;
      {
        ScriptServer s([](int, int) {});
        port = s.port();
      }
      http::Client client(urlOf(port), quick());
      http::ClientResponse res;
      const sdk::Result r = client.post("x", &res);
      CHECK_FALSE(r.ok());
      CHECK(client.stats().get(net::Stat::ConnectFailures) == 1);
    }
  }

  TEST_CASE("https with a CA file") {
    net::testing::TestPki pki;
    net::TlsOptions so;
    so.certificate = pki.serverPem;
    so.key = pki.serverKey;
    net::TlsError err;
    net::ListenerOptions lo;
    lo.tls = net::makeTlsContext(so, net::TlsRole::Server, &err);
    REQUIRE_MESSAGE(lo.tls, err.message);
    HttpServerFixture f({}, lo);
    net::TlsOptions co;
    co.ca = pki.caPem;
    http::ClientOptions o = quick();
    o.tls = net::makeTlsContext(co, net::TlsRole::Client, &err);
    REQUIRE_MESSAGE(o.tls, err.message);
    http::Url u;
    std::string e;
    REQUIRE(http::parseUrl("https://localhost:" + std::to_string(f.port()) + "/tls", &u, &e));
    http::Client client(u, o);
    http::ClientResponse res;
    const sdk::Result r = client.post("secret", &res);
    REQUIRE_MESSAGE(r.ok(), r.error());
    CHECK(res.bodyHead == "POST /tls secret");
    // Trusting another CA: the handshake fails, nothing is sent.
    net::TlsOptions other;
    other.ca = pki.roguePem;
    o.tls = net::makeTlsContext(other, net::TlsRole::Client, &err);
    http::Client untrusting(u, o);
    CHECK_FALSE(untrusting.post("secret", &res).ok());
    CHECK(f.handler.requests == 1);
  }
}
