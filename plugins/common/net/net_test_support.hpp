#pragma once
// For the network layer's tests only: certificates made with the openssl command line in a
// temporary directory, blocking raw-socket clients, and a TLS client written directly on
// OpenSSL (independent of Asio, so the layer is not tested against itself).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "example_line_source.hpp"
#include "net/io_pool.hpp"
#include "net/tcp_client.hpp"
#include "net/tcp_listener.hpp"
#include "sluice/sdk/context.hpp"
#include "source_test_support.hpp"

namespace sluice::plugins::net::testing {

using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::RecordingProcessor;
using sluice::plugins::testing::waitFor;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A listener on 127.0.0.1 serving the example line source (README.md) into a
// RecordingProcessor, or any other protocol, on a pool of its own.
struct LineServer {
  CaptureLogger log;
  RecordingProcessor processor;
  sdk::SourceCounter counter;
  IoPool pool;
  std::unique_ptr<example::LineSource> source;
  TcpListener listener;

  explicit LineServer(std::size_t threads = 2) : pool("nettest", threads) {
    REQUIRE(pool.start(log).ok());
  }
  ~LineServer() {
    listener.stop();
    pool.stop();
  }
  LineServer(const LineServer&) = delete;
  LineServer& operator=(const LineServer&) = delete;

  void start(ListenerOptions o, example::LineSourceOptions lo = {}) {
    source = std::make_unique<example::LineSource>(processor, counter, pool.size(), lo);
    start(*source, std::move(o));
  }
  // `protocol` must outlive this server.
  void start(Protocol& protocol, ListenerOptions o) {
    o.bind = "127.0.0.1";
    const sdk::Result r = listener.start(pool, protocol, std::move(o), log);
    REQUIRE_MESSAGE(r.ok(), r.error());
    REQUIRE(listener.port() != 0);
  }
  uint16_t port() const { return listener.port(); }
  int64_t stat(Stat s) const { return listener.stats().get(s); }
};

// The example line source answering OK per line.
inline example::LineSourceOptions acking() {
  example::LineSourceOptions lo;
  lo.ack = true;
  return lo;
}

// Reads one line of an answer.
struct LineReader final : ResponseReader {
  std::string line;
  Result onData(std::string_view data) override {
    const std::size_t nl = data.find('\n');
    if (nl == std::string_view::npos) return {0, false, nullptr};
    line.assign(data.substr(0, nl));
    return {nl + 1, true, nullptr};
  }
};

// A component's context holding these keys, under the path a1.sources.r1.
inline sdk::Context contextOf(const std::map<std::string, std::string>& keys) {
  sdk::Context ctx("a1.sources.r1");
  for (const auto& [k, v] : keys) ctx.put(k, v);
  return ctx;
}

// A CA; a server certificate for localhost / 127.0.0.1 and a client certificate, both signed by
// it; a self-signed client certificate that the CA never signed; the server's PKCS12 key store
// (password "changeit"); and a file that starts like a real JKS store.
struct TestPki {
  std::string dir;
  std::string caPem, caKey, serverPem, serverKey, clientPem, clientKey, roguePem, rogueKey;
  std::string serverP12, jks;
  std::string password = "changeit";

  TestPki() {
    std::string tmpl = "/tmp/sluice-net-pki-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    auto path = [&](const char* name) { return dir + "/" + name; };
    caPem = path("ca.pem");
    caKey = path("ca.key");
    serverPem = path("server.pem");
    serverKey = path("server.key");
    clientPem = path("client.pem");
    clientKey = path("client.key");
    roguePem = path("rogue.pem");
    rogueKey = path("rogue.key");
    serverP12 = path("server.p12");
    jks = path("store.jks");
    std::ofstream(path("server.ext")) << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    const std::string q = " >/dev/null 2>&1";
    const std::string cmd =
        "cd " + dir + " && openssl req -x509" + ec + "-days 2 -subj /CN=sluice-test-ca" +
        " -keyout ca.key -out ca.pem" + q + " && openssl req" + ec +
        "-subj /CN=localhost -keyout server.key -out server.csr" + q +
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
        " -extfile server.ext -out server.pem" +
        q + " && openssl req" + ec +
        "-subj /CN=sluice-test-client -keyout client.key -out client.csr" + q +
        " && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
        " -days 2 -out client.pem" +
        q + " && openssl req -x509" + ec +
        "-days 2 -subj /CN=rogue -keyout rogue.key -out rogue.pem" + q +
        " && openssl pkcs12 -export -in server.pem -inkey server.key -certfile ca.pem"
        " -out server.p12 -passout pass:" +
        password + q;
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl could not make the PKI");
    std::ofstream(jks, std::ios::binary) << std::string("\xFE\xED\xFE\xED\x00\x00\x00\x02", 8);
  }
  ~TestPki() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;
};

// A blocking TCP client on 127.0.0.1.
class RawClient {
 public:
  explicit RawClient(uint16_t port, int sendBufferBytes = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    if (sendBufferBytes > 0)
      ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sendBufferBytes, sizeof sendBufferBytes);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Sends without blocking; the bytes the socket took (0 when its buffers are full).
  std::size_t trySend(std::string_view data) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }

  // Reads until `lines` newlines arrived, the peer closed, or the timeout; returns the bytes.
  std::string readLines(std::size_t lines, milliseconds timeout = milliseconds(10000)) {
    std::string got;
    const auto deadline = Clock::now() + timeout;
    while (static_cast<std::size_t>(std::count(got.begin(), got.end(), '\n')) < lines) {
      if (!readSome(got, deadline)) break;
    }
    return got;
  }

  // True when the peer closed (end of stream or reset) within the timeout; what it sent before
  // is appended to *got.
  bool waitClosed(milliseconds timeout, std::string* got = nullptr) {
    std::string sink;
    std::string& into = got ? *got : sink;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (!readSome(into, deadline)) return closed_;
    }
    return false;
  }

  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  // Closes with a reset (SO_LINGER 0) instead of a FIN.
  void reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd_);
    fd_ = -1;
  }
  bool peerClosed() const { return closed_; }

 private:
  // One read within the deadline; false on timeout or when the peer closed (closed_ set).
  bool readSome(std::string& into, Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    into.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

// A blocking TLS client on raw OpenSSL. Verifies the server against `ca` when given.
class OpenSslClient {
 public:
  OpenSslClient(uint16_t port, const std::string& ca, const std::string& cert = {},
                const std::string& key = {}) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    REQUIRE(ctx_ != nullptr);
    if (!ca.empty()) {
      REQUIRE(SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr) == 1);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (!cert.empty()) {
      REQUIRE(SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) == 1);
      REQUIRE(SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) == 1);
    }
    tcp_ = std::make_unique<RawClient>(port);
    REQUIRE(tcp_->connected());
    timeval tv{10, 0};  // reads give up after 10 s instead of hanging a test
    ::setsockopt(tcp_->fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, tcp_->fd());
    SSL_set_tlsext_host_name(ssl_, "localhost");
    ERR_clear_error();
    handshakeOk_ = SSL_connect(ssl_) == 1;
    if (!handshakeOk_) error_ = lastError();
  }
  ~OpenSslClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  OpenSslClient(const OpenSslClient&) = delete;
  OpenSslClient& operator=(const OpenSslClient&) = delete;

  bool handshakeOk() const { return handshakeOk_; }
  const std::string& error() const { return error_; }

  bool write(std::string_view data) {
    return SSL_write(ssl_, data.data(), static_cast<int>(data.size())) ==
           static_cast<int>(data.size());
  }
  // Reads until `lines` newlines arrived or a read fails (the server refused us, closed, or the
  // 10 s receive timeout passed).
  std::string readLines(std::size_t lines) {
    std::string got;
    char buf[4096];
    while (static_cast<std::size_t>(std::count(got.begin(), got.end(), '\n')) < lines) {
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) {
        error_ = lastError();
        break;
      }
      got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
  }

 private:
  static std::string lastError() {
    char buf[256] = "";
    if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
    return buf;
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::unique_ptr<RawClient> tcp_;
  bool handshakeOk_ = false;
  std::string error_;
};

}  // namespace sluice::plugins::net::testing
