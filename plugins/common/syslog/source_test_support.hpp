#pragma once
// For the syslog and UDP sources' unit tests only: a started source wired to a
// RecordingProcessor and a CaptureLogger, a UDP sender, and counters by name. TCP clients, TLS
// certificates and the OpenSSL client come from the network layer's test support.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "host_context.hpp"
#include "net/net_test_support.hpp"
#include "sluice/sdk/host_access.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::syslog::testing {

using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::RecordingProcessor;
using sluice::plugins::testing::waitFor;
using KV = std::initializer_list<std::pair<const char*, std::string>>;

inline sdk::Context contextOf(KV kv) {
  sdk::Context ctx("a1.sources.r1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// The schema function of a source (its key checks and defaults, applied as the host does).
using SchemaFn = const sdk::Schema& (*)();

// configure() of `src` as the host calls it: `kv` checked against the schema and its defaults
// filled in first (plugins/testing/host_context.hpp).
template <SchemaFn Schema, class Source>
sdk::Result configureAsHost(Source& src, KV kv) {
  return sluice::plugins::testing::configureAsHost(src, Schema(), contextOf(kv));
}

// configure() of a fresh source; the error text ("" when it succeeded).
template <class Source, SchemaFn Schema>
std::string configureError(KV kv) {
  Source src;
  const sdk::Result r = configureAsHost<Schema>(src, kv);
  return r.ok() ? std::string() : r.error();
}

// A source configured with `kv` and started, logging into `log`, delivering into `processor`.
template <class Source, SchemaFn Schema>
struct Started {
  CaptureLogger log;
  RecordingProcessor processor;
  Source source;

  explicit Started(KV kv) {
    sdk::HostAccess::attach(source, "r1", &log);
    sdk::HostAccess::setChannelProcessor(source, &processor);
    sdk::Result r = configureAsHost<Schema>(source, kv);
    REQUIRE_MESSAGE(r.ok(), r.error());
    r = sdk::HostAccess::start(source);
    REQUIRE_MESSAGE(r.ok(), r.error());
  }
  ~Started() {
    static_cast<void>(sdk::HostAccess::stop(source));
  }  // stop() is noexcept-safe to repeat
  Started(const Started&) = delete;
  Started& operator=(const Started&) = delete;

  int64_t counter(const char* name) {
    const auto v = source.sourceCounter().get(name);
    REQUIRE_MESSAGE(v.has_value(), name);
    return *v;
  }
  bool received(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return waitFor([&] { return processor.count() >= n; }, timeout);
  }
};

// Sends each payload as one datagram to 127.0.0.1:port.
class UdpSender {
 public:
  UdpSender() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) { REQUIRE(fd_ >= 0); }
  ~UdpSender() { ::close(fd_); }
  UdpSender(const UdpSender&) = delete;
  UdpSender& operator=(const UdpSender&) = delete;

  void send(uint16_t port, std::string_view payload) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::sendto(fd_, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&a),
                     sizeof a) == static_cast<ssize_t>(payload.size()));
  }
  // The port the datagrams come from.
  uint16_t localPort() const {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
  }

 private:
  int fd_;
};

inline std::string header(const sdk::Headers& h, std::string_view name) {
  const std::string* v = h.find(name);
  return v ? *v : std::string("<absent>");
}

}  // namespace sluice::plugins::syslog::testing

namespace sluice::plugins::syslog::testing {

// For the UDP sources (no back-pressure): while the channels refuse, `n` datagrams of `payload`
// are dropped and counted; once they accept again, the next datagram arrives as `body`.
template <class Fixture>
void checkRefusedDatagramsDropped(Fixture& f, int n, std::string_view payload,
                                  const std::string& body) {
  f.processor.refuse = true;
  UdpSender s;
  for (int i = 0; i < n; ++i) s.send(f.source.boundPort(), payload);
  REQUIRE(waitFor([&] { return f.counter("DatagramDroppedCount") == n; }));
  CHECK(f.counter("ChannelWriteFail") >= 1);
  f.processor.refuse = false;
  s.send(f.source.boundPort(), payload);
  REQUIRE(f.received(1));
  CHECK(f.processor.snapshot() == std::vector<std::string>{body});
  CHECK(f.counter("EventAcceptedCount") == 1);
}

// For the UDP sources: start and stop repeat safely, a second start keeps the port, and the
// restarted source receives again. payload(i)/body(i): round i's datagram and event body.
template <class Fixture, class Payload, class Body>
void checkUdpRestarts(Fixture& f, Payload payload, Body body) {
  UdpSender s;
  std::vector<std::string> want;
  for (int round = 0; round < 3; ++round) {
    const uint16_t port = f.source.boundPort();
    REQUIRE(port != 0);
    CHECK(sdk::HostAccess::start(f.source).ok());  // a second start does nothing
    CHECK(f.source.boundPort() == port);
    s.send(port, payload(round));
    want.push_back(body(round));
    REQUIRE(f.received(static_cast<std::size_t>(round) + 1));
    CHECK(sdk::HostAccess::stop(f.source).ok());
    CHECK(sdk::HostAccess::stop(f.source).ok());
    CHECK(f.source.boundPort() == 0);
    REQUIRE(sdk::HostAccess::start(f.source).ok());
  }
  CHECK(f.processor.snapshot() == want);
  CHECK(f.log.has("listening on 127.0.0.1:"));
}

}  // namespace sluice::plugins::syslog::testing
