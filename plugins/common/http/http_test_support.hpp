#pragma once
// For the HTTP layer's tests only: a Server on a TcpListener of 127.0.0.1 with a handler the test
// scripts, and a raw-socket reader of HTTP answers (independent of Beast, so the layer is not
// tested against itself).

#include <poll.h>
#include <sys/socket.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "http/http_server.hpp"
#include "net/io_pool.hpp"
#include "net_test_support.hpp"

namespace sluice::plugins::http::testing {

using net::testing::RawClient;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::waitFor;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Answers "METHOD path?query body" unless the test sets its own functions.
class ScriptedHandler final : public Handler {
 public:
  std::function<bool(const Request&, Response&, BodyPolicy&)> head;
  std::function<void(Request&, Response&)> request;
  std::atomic<int> requests{0};
  std::atomic<int> heads{0};

  bool onHead(const Request& h, Response& res, BodyPolicy& body) override {
    ++heads;
    return head ? head(h, res, body) : true;
  }
  void onRequest(Request& req, Response& res) override {
    ++requests;
    if (request) return request(req, res);
    res.contentType = "text/plain";
    res.body.assign(req.method).append(" ").append(req.path);
    if (!req.query.empty()) res.body.append("?").append(req.query);
    if (req.body && !req.body->empty()) res.body.append(" ").append(*req.body);
  }
};

struct HttpServerFixture {
  CaptureLogger log;
  net::IoPool pool{"httptest", 2};
  ScriptedHandler handler;
  std::unique_ptr<Server> server;
  net::TcpListener listener;

  explicit HttpServerFixture(ServerOptions so = {}, net::ListenerOptions lo = {}) {
    REQUIRE(pool.start(log).ok());
    server = std::make_unique<Server>(handler, so, log);
    Server::prepare(lo, so);
    lo.bind = "127.0.0.1";
    lo.port = 0;
    const sdk::Result r = listener.start(pool, *server, lo, log);
    REQUIRE_MESSAGE(r.ok(), r.error());
  }
  ~HttpServerFixture() {
    listener.stop();
    pool.stop();
  }
  HttpServerFixture(const HttpServerFixture&) = delete;
  HttpServerFixture& operator=(const HttpServerFixture&) = delete;

  uint16_t port() const { return listener.port(); }
};

struct Answer {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string raw;  // the whole answer as received
};

// Reads HTTP answers from a socket; bytes past one answer stay for the next read().
class AnswerReader {
 public:
  explicit AnswerReader(int fd) : fd_(fd) {}

  // The next answer (status 0 when none arrived within the timeout or the peer closed first).
  // `head`: the answer to a HEAD request, whose Content-Length announces no body.
  Answer read(milliseconds timeout = milliseconds(10000), bool head = false) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      Answer a;
      const std::size_t end = buf_.find("\r\n\r\n");
      if (end != std::string::npos && parseHead(buf_.substr(0, end), a)) {
        std::size_t length = 0;
        if (!head && a.headers.count("content-length"))
          length = std::stoul(a.headers["content-length"]);
        if (buf_.size() >= end + 4 + length) {
          a.body = buf_.substr(end + 4, length);
          a.raw = buf_.substr(0, end + 4 + length);
          buf_.erase(0, end + 4 + length);
          return a;
        }
      }
      if (!readSome(deadline)) return Answer{};
    }
  }
  // True when the peer closed within the timeout (bytes before that are kept for read()).
  bool closed(milliseconds timeout = milliseconds(10000)) {
    const auto deadline = Clock::now() + timeout;
    while (!eof_)
      if (!readSome(deadline)) break;
    return eof_;
  }
  const std::string& pending() const { return buf_; }

 private:
  static bool parseHead(const std::string& head, Answer& a) {
    if (head.compare(0, 7, "HTTP/1.") != 0 || head.size() < 12) return false;
    a.status = std::stoi(head.substr(9, 3));
    std::size_t at = head.find("\r\n");
    while (at != std::string::npos) {
      const std::size_t next = head.find("\r\n", at + 2);
      const std::string line =
          head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
      const std::size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        a.headers[name] = value;
      }
      at = next;
    }
    return true;
  }
  bool readSome(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || eof_) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char b[65536];
    const ssize_t n = ::recv(fd_, b, sizeof b, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(b, static_cast<std::size_t>(n));
    return true;
  }

  int fd_;
  std::string buf_;
  bool eof_ = false;
};

}  // namespace sluice::plugins::http::testing
