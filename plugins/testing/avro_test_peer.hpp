#pragma once
// For the avro source and sink unit tests only: a blocking Avro RPC client (to drive the source)
// and a scriptable Avro RPC server (for the sink to talk to), both on 127.0.0.1 and built from
// plugins/common/avro_rpc.hpp. The independent check against Apache Avro's own encoder is the
// Python peer in tests/support/avro_peer.py; these exercise behaviour (failures, limits, bad
// frames) that needs precise control of the bytes.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "avro_rpc.hpp"
#include "net/tls.hpp"
#include "net/tls_impl.hpp"
#include "zlib_stream.hpp"

namespace sluice::plugins::testing {

namespace rpc = sluice::plugins::avro;

inline int connectLoopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

inline bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Encodes one frame of the given buffers (raw Netty framing, no compression).
inline std::string frameOf(int32_t serial, const std::vector<std::string>& buffers) {
  std::string out(8, '\0');
  rpc::putInt32be(out.data(), static_cast<uint32_t>(serial));
  rpc::putInt32be(out.data() + 4, static_cast<uint32_t>(buffers.size()));
  for (const auto& b : buffers) {
    char len[4];
    rpc::putInt32be(len, static_cast<uint32_t>(b.size()));
    out.append(len, 4);
    out += b;
  }
  return out;
}

// appendBatch's parameters for these events.
inline std::string batchParams(const sdk::EventBatch& events) {
  std::string p;
  rpc::appendEventArray(p, events);
  return p;
}

// A self-signed certificate for CN=localhost made with the openssl command line, as PEM files
// and a PKCS12 key store (password "changeit"), in a temporary directory.
struct TestCertificates {
  std::string dir, certPem, keyPem, p12;
  std::string password = "changeit";
  TestCertificates() {
    std::string tmpl = "/tmp/sluice-certs-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    certPem = dir + "/cert.pem";
    keyPem = dir + "/key.pem";
    p12 = dir + "/keystore.p12";
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout " + keyPem +
        " -out " + certPem + " >/dev/null 2>&1 && openssl pkcs12 -export -in " + certPem +
        " -inkey " + keyPem + " -out " + p12 + " -passout pass:" + password + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl could not make a cert");
  }
  ~TestCertificates() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;
};

// A client TLS context of the network layer from these options (trust store, CAs); throws
// with the layer's message when they cannot be used.
inline std::shared_ptr<const net::TlsContext> clientTls(const net::TlsOptions& options) {
  net::TlsError error;
  auto ctx = net::makeTlsContext(options, net::TlsRole::Client, &error);
  if (!ctx) throw std::runtime_error(error.key + ": " + error.message);
  return ctx;
}

class AvroTestClient {
 public:
  // tls: a client context of the network layer; the TLS handshake is done here, blocking, with
  // OpenSSL on the socket (the layer's own client is what the sink uses: this is the other one).
  explicit AvroTestClient(uint16_t port, bool deflate = false, const net::TlsContext* tls = nullptr)
      : fd_(connectLoopback(port)) {
    if (deflate) {
      deflater_ = std::make_unique<zlib_stream::Deflater>();
      inflater_ = std::make_unique<zlib_stream::Inflater>();
      deflater_->init(6);
      inflater_->init();
    }
    if (tls && fd_ >= 0) handshakeTls(*tls);
  }

  std::string tlsError;  // why the TLS handshake failed (the client is then closed)
  ~AvroTestClient() { close(); }
  AvroTestClient(const AvroTestClient&) = delete;
  AvroTestClient& operator=(const AvroTestClient&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void close() {
    if (ssl_) SSL_free(ssl_);
    ssl_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Raw bytes (compressed first when deflate is on).
  bool send(std::string_view bytes) {
    std::string z;
    if (deflater_) {
      if (!deflater_->compress(bytes.data(), bytes.size(), z)) return false;
      bytes = z;
    }
    if (!ssl_) return sendAll(fd_, bytes);
    return bytes.empty() || SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) ==
                                static_cast<int>(bytes.size());
  }

  // The next response frame's payload; false on timeout, close or a framing error.
  bool readFrame(int32_t& serial, std::string& payload,
                 std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool got = false;
    auto onFrame = [&](int32_t s, std::string_view p) {
      serial = s;
      payload.assign(p);
      got = true;
      return false;
    };
    while (!got) {
      if (!pending_.empty()) {  // bytes left over after the previous frame
        std::string data;
        data.swap(pending_);
        if (frames_.feed(data.data(), data.size(), onFrame) != rpc::FrameDecoder::Error::None)
          return false;
        continue;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if ((!ssl_ || SSL_pending(ssl_) == 0) && ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char buf[65536];
      const ssize_t n = ssl_ ? SSL_read(ssl_, buf, sizeof buf) : ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      std::string raw(buf, static_cast<std::size_t>(n));
      if (inflater_) {
        const char* err = nullptr;
        std::string plain;
        auto scratch = std::make_unique<char[]>(65536);
        if (!inflater_->feed(
                raw.data(), raw.size(), scratch.get(), 65536,
                [&](const char* d, std::size_t len) {
                  plain.append(d, len);
                  return true;
                },
                &err))
          return false;
        pending_ = std::move(plain);
      } else {
        pending_ = std::move(raw);
      }
    }
    return true;
  }

  // One call of `message` with the encoded parameters, handling the handshake as Java's
  // Requestor does (a NONE answer makes it send the request again with the protocol text).
  // Returns the response kind; *roundTrips counts the frames sent.
  rpc::ResponseKind call(std::string_view message, std::string_view params, rpc::RpcStatus& status,
                         std::string& error, int* roundTrips = nullptr) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      std::string payload;
      rpc::appendClientHandshake(payload, hs);
      rpc::appendCallHeader(payload, message);
      payload += params;
      const int32_t serial = ++serial_;
      if (roundTrips) ++*roundTrips;
      // Cut into two buffers, as Java cuts at 8 KiB: the cut carries no meaning.
      const std::size_t cut = payload.size() / 2;
      if (!send(frameOf(serial, {payload.substr(0, cut), payload.substr(cut)}))) {
        error = "send failed";
        return rpc::ResponseKind::Malformed;
      }
      int32_t got = 0;
      std::string resp;
      if (!readFrame(got, resp)) {
        error = "no response";
        return rpc::ResponseKind::Malformed;
      }
      if (got != serial) {
        error = "wrong serial";
        return rpc::ResponseKind::Malformed;
      }
      lastResponse = resp;
      const rpc::ResponseKind k = rpc::readCallResponse(resp, hs, limits_, status, error);
      if (k != rpc::ResponseKind::Resend) return k;
    }
    error = "handshake never completed";
    return rpc::ResponseKind::Malformed;
  }

  rpc::RpcStatus appendBatch(const sdk::EventBatch& events) {
    rpc::RpcStatus status = rpc::RpcStatus::Unknown;
    std::string error;
    if (call("appendBatch", batchParams(events), status, error) != rpc::ResponseKind::Status)
      return rpc::RpcStatus::Unknown;
    return status;
  }

  // True once the peer closed the connection (EOF or reset) within the timeout.
  bool waitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
    return false;
  }

  rpc::ClientHandshake hs;
  std::string lastResponse;

 private:
  int fd_;
  int32_t serial_ = 0;
  rpc::RpcLimits limits_;
  rpc::FrameDecoder frames_{limits_};
  std::string pending_;
  void handshakeTls(const net::TlsContext& ctx) {
    timeval tv{15, 0};  // a blocking handshake or read gives up instead of hanging a test
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssl_ = SSL_new(ctx.impl().ctx.native_handle());
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    ERR_clear_error();
    if (SSL_connect(ssl_) == 1) return;
    char buf[256] = "handshake failed";
    if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
    tlsError = buf;
    close();
  }

  std::unique_ptr<zlib_stream::Deflater> deflater_;
  std::unique_ptr<zlib_stream::Inflater> inflater_;
  SSL* ssl_ = nullptr;
};

// A scriptable server of AvroSourceProtocol. Its own protocol hash is not sluice's (as a peer
// whose protocol text differs), so a client that does not send its text gets NONE first
// unless `knowSluiceHash` is set. Records the events of every batch it answers OK.
class AvroTestServer {
 public:
  enum class Mode { Ok, Failed, NoAnswer, Close, Error };
  static constexpr rpc::Md5 kServerHash = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

  std::atomic<Mode> mode{Mode::Ok};
  std::atomic<bool> knowSluiceHash{false};
  std::atomic<int> handshakes{0};
  std::atomic<int> noneAnswers{0};
  std::atomic<int> requests{0};
  std::atomic<int> connections{0};

  explicit AvroTestServer(bool deflate = false, uint16_t port = 0) : deflate_(deflate) {
    listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listenFd_, 64) != 0)
      throw std::runtime_error("test server cannot listen");
    socklen_t len = sizeof addr;
    ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~AvroTestServer() { stop(); }

  uint16_t port() const { return port_; }

  void stop() {
    if (stopping_.exchange(true)) return;
    acceptor_.join();
    ::close(listenFd_);
    std::vector<std::thread> ts;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ts.swap(threads_);
    }
    for (auto& t : ts) t.join();
  }

  std::vector<std::string> bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  std::vector<sdk::Headers> headers() {
    std::lock_guard<std::mutex> lock(mu_);
    return headers_;
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_.size();
  }

 private:
  void acceptLoop() {
    while (!stopping_) {
      pollfd p{listenFd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections;
      std::lock_guard<std::mutex> lock(mu_);
      threads_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    rpc::RpcLimits limits;
    rpc::FrameDecoder frames(limits);
    bool handshaken = false;
    std::vector<rpc::Md5> known;
    zlib_stream::Inflater inflater;
    zlib_stream::Deflater deflater;
    if (deflate_) {
      inflater.init();
      deflater.init(6);
    }
    std::unique_ptr<char[]> scratch(new char[65536]);
    bool open = true;
    auto onFrame = [&](int32_t serial, std::string_view payload) {
      ++requests;
      rpc::AvroReader in(payload);
      std::string reply;
      if (!handshaken) {
        rpc::HandshakeRequestView hs;
        if (!rpc::readHandshakeRequest(in, limits, hs)) return open = false;
        ++handshakes;
        bool knows = hs.clientHash == kServerHash ||
                     (knowSluiceHash && hs.clientHash == rpc::kSourceProtocolMd5);
        for (const auto& k : known) knows = knows || k == hs.clientHash;
        if (!knows && hs.hasClientProtocol) {
          known.push_back(hs.clientHash);
          knows = true;
        }
        const int match = !knows ? 2 : hs.serverHash == kServerHash ? 0 : 1;
        rpc::appendAvroLong(reply, match);
        if (match == 0) {
          reply.append("\0\0", 2);
        } else {
          reply += '\x02';
          rpc::appendAvroBytes(reply, rpc::kSourceProtocolJson);
          reply += '\x02';
          reply.append(reinterpret_cast<const char*>(kServerHash.data()), 16);
        }
        reply += '\0';
        if (match == 2) {
          ++noneAnswers;
          return open = answer(fd, serial, reply, deflater);
        }
        handshaken = true;
      }
      std::string_view name;
      if (!rpc::skipMeta(in, limits) || !in.readBytes(name)) return open = false;
      sdk::EventBatch batch;
      int64_t count = 0;
      while (in.readBlockCount(count) && count > 0) {
        bool tooMany = false;
        for (int64_t i = 0; i < count; ++i)
          if (!rpc::readFlumeEvent(in, limits, batch.emplace_back(), &tooMany)) return open = false;
      }
      if (!in.ok()) return open = false;
      const Mode m = mode.load();
      if (m == Mode::NoAnswer) return true;
      if (m == Mode::Close) return open = false;
      if (m == Mode::Error) {
        rpc::appendErrorResponse(reply, "test server error");
      } else {
        rpc::appendStatusResponse(reply,
                                  m == Mode::Ok ? rpc::RpcStatus::Ok : rpc::RpcStatus::Failed);
        if (m == Mode::Ok) {
          std::lock_guard<std::mutex> lock(mu_);
          for (auto& e : batch) {
            bodies_.push_back(std::move(e.body));
            headers_.push_back(std::move(e.headers));
          }
        }
      }
      return open = answer(fd, serial, reply, deflater);
    };
    char buf[65536];
    while (open && !stopping_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      if (deflate_) {
        const char* err = nullptr;
        if (!inflater.feed(
                buf, static_cast<std::size_t>(n), scratch.get(), 65536,
                [&](const char* d, std::size_t len) {
                  return frames.feed(d, len, onFrame) == rpc::FrameDecoder::Error::None && open;
                },
                &err))
          break;
      } else if (frames.feed(buf, static_cast<std::size_t>(n), onFrame) !=
                 rpc::FrameDecoder::Error::None) {
        break;
      }
    }
    ::close(fd);
  }

  bool answer(int fd, int32_t serial, const std::string& payload, zlib_stream::Deflater& z) {
    std::string frame = frameOf(serial, {payload});
    if (!deflate_) return sendAll(fd, frame);
    std::string out;
    return z.compress(frame.data(), frame.size(), out) && sendAll(fd, out);
  }

  bool deflate_;
  int listenFd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<std::string> bodies_;
  std::vector<sdk::Headers> headers_;
};

}  // namespace sluice::plugins::testing
