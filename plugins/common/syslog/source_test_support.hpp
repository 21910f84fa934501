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
  ~Started() { sdk::HostAccess::stop(source); }
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
