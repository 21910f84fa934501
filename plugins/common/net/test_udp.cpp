// UdpReceiver with real datagrams on 127.0.0.1: the size limit, refused and kernel-dropped
// datagrams.
#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>

#include "net/io_pool.hpp"
#include "net/udp_receiver.hpp"
#include "net_test_support.hpp"

using namespace sluice::plugins::net;
using namespace sluice::plugins::net::testing;
namespace sdk = sluice::sdk;
using std::chrono::milliseconds;

namespace {

struct Received {
  std::string data;
  std::size_t size;
  bool truncated;
  std::string from;
};

// Keeps what arrives; refuses while `refuse`; blocks inside the first batch while `block`.
class Recorder final : public DatagramHandler {
 public:
  std::size_t onDatagrams(std::span<const Datagram> batch) override {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return !block; });
    if (refuse) return 0;
    for (const Datagram& d : batch)
      got.push_back({std::string(d.data), d.size, d.truncated(), d.senderIp()});
    return batch.size();
  }
  std::vector<Received> snapshot() {
    std::lock_guard<std::mutex> lock(mu);
    return got;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mu);
      block = false;
    }
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  bool block = false;
  bool refuse = false;
  std::vector<Received> got;
};

class UdpSender {
 public:
  explicit UdpSender(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    to_.sin_family = AF_INET;
    to_.sin_port = htons(port);
    to_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  ~UdpSender() { ::close(fd_); }
  bool send(std::string_view d) {
    return ::sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&to_),
                    sizeof to_) == static_cast<ssize_t>(d.size());
  }

 private:
  int fd_ = -1;
  sockaddr_in to_{};
};

struct UdpServer {
  CaptureLogger log;
  IoPool pool{"udptest", 2};
  Recorder handler;
  UdpReceiver receiver;
  explicit UdpServer(UdpOptions o) {
    REQUIRE(pool.start(log).ok());
    o.bind = "127.0.0.1";
    const sdk::Result r = receiver.start(pool, handler, o, log);
    REQUIRE_MESSAGE(r.ok(), r.error());
    REQUIRE(receiver.port() != 0);
  }
  ~UdpServer() {
    handler.release();
    receiver.stop();
    pool.stop();
  }
  int64_t stat(Stat s) const { return receiver.stats().get(s); }
};

}  // namespace

TEST_SUITE("net-udp") {
  TEST_CASE("datagrams arrive; longer ones are cut to the limit and counted") {
    UdpOptions o;
    o.maxDatagramBytes = 100;
    UdpServer s(o);
    UdpSender tx(s.receiver.port());
    REQUIRE(tx.send("hello"));
    REQUIRE(tx.send(std::string(150, 'L')));
    REQUIRE(tx.send(std::string(100, 'E')));  // exactly the limit: not truncated
    // The receiver counts a read's datagrams before its handler has them: wait for both.
    REQUIRE(waitFor(
        [&] { return s.stat(Stat::Datagrams) == 3 && s.handler.snapshot().size() == 3; }));
    const std::vector<Received> got = s.handler.snapshot();
    REQUIRE(got.size() == 3);
    CHECK(got[0].data == "hello");
    CHECK_FALSE(got[0].truncated);
    CHECK(got[0].from == "127.0.0.1");
    CHECK(got[1].data == std::string(100, 'L'));
    CHECK(got[1].size == 150);
    CHECK(got[1].truncated);
    CHECK_FALSE(got[2].truncated);
    CHECK(s.stat(Stat::Truncated) == 1);
    CHECK(s.log.has("longer than 100 bytes"));
  }

  TEST_CASE("datagrams the protocol refuses are counted as dropped") {
    UdpServer s(UdpOptions{});
    s.handler.refuse = true;
    UdpSender tx(s.receiver.port());
    for (int i = 0; i < 10; ++i) REQUIRE(tx.send(std::string("d").append(std::to_string(i))));
    CHECK(waitFor([&] { return s.stat(Stat::Dropped) == 10; }));
    CHECK(s.handler.snapshot().empty());
  }

  TEST_CASE("datagrams the kernel drops on a full socket queue are counted") {
    UdpOptions o;
    o.receiveBufferBytes = std::size_t{16} * 1024;
    UdpServer s(o);
    s.handler.block = true;  // the I/O thread waits inside the first batch
    UdpSender tx(s.receiver.port());
    REQUIRE(tx.send("first"));
    REQUIRE(waitFor([&] { return s.stat(Stat::Datagrams) == 1; }));
    constexpr int kBurst = 2000;
    for (int i = 0; i < kBurst; ++i) REQUIRE(tx.send(std::string(200, 'b')));
    s.handler.release();
    // The kernel reports its drop count with the next datagram it delivers: send probes until one
    // arrives (the first ones may still find the queue full).
    int probes = 0;
    REQUIRE(waitFor([&] {
      const auto got = s.handler.snapshot();
      if (!got.empty() && got.back().data == "probe") return true;
      REQUIRE(tx.send("probe"));
      ++probes;
      return false;
    }));
    // The queue has room again: a last datagram arrives, reporting drops of probes in flight.
    REQUIRE(tx.send("end"));
    REQUIRE(waitFor([&] { return s.handler.snapshot().back().data == "end"; }));
    CHECK(s.stat(Stat::KernelDropped) > 0);
    CHECK(s.stat(Stat::Datagrams) + s.stat(Stat::KernelDropped) == 1 + kBurst + probes + 1);
  }

  TEST_CASE("stop is safe to repeat and a stopped receiver frees its port") {
    UdpServer s(UdpOptions{});
    const uint16_t port = s.receiver.port();
    s.receiver.stop();
    s.receiver.stop();
    CHECK(s.receiver.port() == 0);
    UdpOptions o;
    o.bind = "127.0.0.1";
    o.port = port;
    const sdk::Result r = s.receiver.start(s.pool, s.handler, o, s.log);
    REQUIRE_MESSAGE(r.ok(), r.error());
    UdpSender tx(port);
    REQUIRE(tx.send("again"));
    CHECK(waitFor([&] { return s.stat(Stat::Datagrams) == 1; }));
  }

}  // TEST_SUITE
