// Unit tests with real sockets on 127.0.0.1 and an in-test ChannelProcessor that records what it
// accepts and can be told to refuse (a full channel).
#include "netcat_source.hpp"

#include "net/io_pool.hpp"
#include "netcat_lines.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include "host_context.hpp"
#include "net/ip_filter.hpp"
#include "net/net_test_support.hpp"
#include "net/tls.hpp"
#include "readme_schema_check.hpp"
#include "source_test_support.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
namespace net = sluice::plugins::net;
using sluice::plugins::netcat::NetcatSource;
using sluice::plugins::netcat::netcatSourceSchema;
using sluice::plugins::testing::checkReadmeMatchesSchema;
using sluice::plugins::testing::configureAsHost;
using namespace std::chrono_literals;

namespace {

using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::RecordingProcessor;
using sluice::plugins::testing::waitFor;

using KV = std::initializer_list<std::pair<const char*, std::string>>;

sdk::Context contextOf(KV kv) {
  sdk::Context ctx("a1.sources.r1");
  for (const auto& [k, v] : kv) ctx.put(k, v);
  return ctx;
}

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(NetcatSource& src, const sdk::Context& ctx) {
  return configureAsHost(src, netcatSourceSchema(), ctx, "netcat");
}

// A source listening on an ephemeral port of 127.0.0.1, wired to a RecordingProcessor.
struct Fixture {
  RecordingProcessor processor;
  NetcatSource source;

  explicit Fixture(KV extra = {}, sdk::Logger* log = nullptr) {
    sdk::Context ctx = contextOf({{"bind", "127.0.0.1"}, {"port", "0"}});
    for (const auto& [k, v] : extra) ctx.put(k, v);
    if (log) sdk::HostAccess::attach(source, "r1", log);
    sdk::HostAccess::setChannelProcessor(source, &processor);
    sdk::Result r = configure(source, ctx);
    REQUIRE_MESSAGE(r.ok(), r.error());
    r = sdk::HostAccess::start(source);
    REQUIRE_MESSAGE(r.ok(), r.error());
    REQUIRE(source.boundPort() != 0);
  }
  int64_t counter(const char* name) const {
    auto v = const_cast<NetcatSource&>(source).sourceCounter().get(name);
    REQUIRE_MESSAGE(v.has_value(), name);
    return *v;
  }
};

class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() { close(); }

  bool ok() const { return ok_; }
  int fd() const { return fd_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Reads until `want` bytes arrived, the peer closed, or the deadline passed.
  std::string read(std::size_t want, std::chrono::milliseconds timeout = 15s) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < want) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, std::min(sizeof buf, want - out.size()), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  // True once the server closed the connection (EOF or reset) within the timeout.
  bool waitClosed(std::chrono::milliseconds timeout = 15s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(netcatSourceSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config: every schema key is accepted") {
  NetcatSource src;
  sdk::Result r = configure(src, contextOf({{"bind", "0.0.0.0"},
                                            {"port", "44444"},
                                            {"max-line-length", "1024"},
                                            {"ack-every-event", "false"},
                                            {"batchSize", "500"},
                                            {"max-connections", "10"},
                                            {"idleTimeout", "30"},
                                            {"threads", "3"},
                                            {"encoding", "utf-8"}}));
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(src.settings().port == 44444);
  CHECK(src.settings().maxLineLength == 1024);
  CHECK_FALSE(src.settings().ackEveryEvent);
  CHECK(src.settings().batchSize == 500);
  CHECK(src.settings().maxConnections == 10);
  CHECK(src.settings().idleTimeout == 30s);
  CHECK(src.settings().threads == 3);
  // Netcat's own keys all have a default (or are required or ignored); the network layer's TLS
  // and IP filter keys are optional by design and tested with the layer.
  std::set<std::string> shared;
  for (const sdk::Key& k : net::tlsServerKeys()) shared.insert(k.name);
  for (const sdk::Key& k : net::ipFilterKeys()) shared.insert(k.name);
  for (const sdk::Key& k : netcatSourceSchema().keys) {
    if (shared.count(k.name) != 0) continue;
    INFO(k.name);
    CHECK((k.required || k.ignored || !k.defaultValue.empty()));
  }
}

TEST_CASE("configure errors name the key") {
  // Through the host, as in production: its schema check refuses bad values before configure().
  auto errorOf = [](KV kv) {
    NetcatSource src;
    sdk::Result r = configure(src, contextOf(kv));
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  // configure() itself, handed a Context without the host's check, still names a missing key.
  auto pluginErrorOf = [](KV kv) {
    NetcatSource src;
    sdk::Result r = sdk::HostAccess::configure(src, contextOf(kv));
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  CHECK(pluginErrorOf({{"port", "1"}}) == "a1.sources.r1.bind: is required but missing");
  CHECK(pluginErrorOf({{"bind", "127.0.0.1"}}) == "a1.sources.r1.port: is required but missing");
  CHECK(errorOf({{"port", "1"}}).find("a1.sources.r1: missing required key 'bind'") == 0);
  CHECK(errorOf({{"bind", "127.0.0.1"}}).find("a1.sources.r1: missing required key 'port'") == 0);
  CHECK(errorOf({{"bind", "127.0.0.1"}, {"port", "65536"}}).find("a1.sources.r1.port:") == 0);
  CHECK(errorOf({{"bind", "127.0.0.1"}, {"port", "-1"}}).find("a1.sources.r1.port:") == 0);
  CHECK(errorOf({{"bind", "127.0.0.1"}, {"port", "http"}}).find("a1.sources.r1.port:") == 0);
  CHECK(errorOf({{"bind", "x"}, {"port", "1"}, {"max-line-length", "0"}})
            .find("a1.sources.r1.max-line-length:") == 0);
  CHECK(errorOf({{"bind", "x"}, {"port", "1"}, {"batchSize", "0"}})
            .find("a1.sources.r1.batchSize:") == 0);
  CHECK(errorOf({{"bind", "x"}, {"port", "1"}, {"ack-every-event", "yes"}})
            .find("a1.sources.r1.ack-every-event:") == 0);
  CHECK(errorOf({{"bind", "x"}, {"port", "1"}, {"idleTimeout", "-5"}})
            .find("a1.sources.r1.idleTimeout:") == 0);
}

TEST_CASE("the host fills the schema defaults configure() reads") {
  NetcatSource src;
  sdk::Result r = configure(src, contextOf({{"bind", "127.0.0.1"}, {"port", "0"}}));
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(src.settings().maxLineLength == 512);  // Flume's default, declared only in the schema
  CHECK(src.settings().ackEveryEvent);
  CHECK(src.settings().batchSize == 100);
  CHECK(src.settings().maxConnections == 1000);
  CHECK(src.settings().idleTimeout == 0s);
  CHECK(src.settings().threads == net::IoPool::halfCoreThreads());  // 0: one per two cores
}

TEST_CASE("an out-of-range value is refused by the host with the key and file:line") {
  sdk::Context ctx = contextOf({{"bind", "127.0.0.1"}, {"port", "0"}});
  ctx.put("max-line-length", "0", sdk::Location{"conf/a.properties", 7});
  NetcatSource src;
  sdk::Result r = configure(src, ctx);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("a1.sources.r1.max-line-length: expected a value between 1 and ") == 0);
  CHECK(r.error().find(", got 0 (conf/a.properties:7)") != std::string::npos);
}

TEST_CASE("each line is one event; OK per line; \\r\\n stripped; empty lines kept") {
  Fixture f;
  Client c(f.source.boundPort());
  REQUIRE(c.ok());
  REQUIRE(c.send("one\r\ntwo\n\nthree\n"));
  CHECK(c.read(12) == "OK\nOK\nOK\nOK\n");
  CHECK(f.processor.snapshot() == std::vector<std::string>{"one", "two", "", "three"});
  CHECK(f.counter("EventReceivedCount") == 4);
  CHECK(f.counter("EventAcceptedCount") == 4);
  CHECK(f.counter("OpenConnectionCount") == 1);
  c.close();
  CHECK(waitFor([&] { return f.counter("OpenConnectionCount") == 0; }));
}

TEST_CASE("Flume's defaults: max-line-length 512, an OK per line") {
  Fixture f;  // only bind and port set
  Client c(f.source.boundPort());
  REQUIRE(c.ok());
  const std::string fits(512, 'a'), over(700, 'b');
  REQUIRE(c.send(fits + "\n" + over + "\nnext\n"));
  CHECK(c.read(9) == "OK\nOK\nOK\n");  // acks are on by default
  REQUIRE(waitFor([&] { return f.processor.count() == 3; }));
  const auto bodies = f.processor.snapshot();
  CHECK(bodies[0] == fits);
  CHECK(bodies[1] == std::string(512, 'b'));  // cut to 512, the rest of the line skipped
  CHECK(bodies[2] == "next");
}

TEST_CASE("binary bytes pass through unchanged") {
  Fixture f({{"ack-every-event", "false"}});
  Client c(f.source.boundPort());
  const std::string body("a\0b\xff\xfe z", 7);
  REQUIRE(c.send(body + "\n"));
  REQUIRE(waitFor([&] { return f.processor.count() == 1; }));
  CHECK(f.processor.snapshot()[0] == body);
}

TEST_CASE("many clients at once: exact multiset of lines") {
  for (bool ack : {false, true}) {
    CAPTURE(ack);
    // Without acks on three I/O threads, whatever the machine's default.
    Fixture f({{"ack-every-event", ack ? "true" : "false"}, {"threads", ack ? "0" : "3"}});
    constexpr int kClients = 20, kLines = 500;
    std::vector<std::string> expected;
    for (int i = 0; i < kClients; ++i)
      for (int j = 0; j < kLines; ++j)
        expected.push_back("client-" + std::to_string(i) + " line-" + std::to_string(j) + " " +
                           std::string(static_cast<std::size_t>(j % 97), 'x'));
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    threads.reserve(kClients);
    for (int i = 0; i < kClients; ++i)
      threads.emplace_back([&, i] {
        Client c(f.source.boundPort());
        if (!c.ok()) return void(failures++);
        // Send in uneven chunks so lines straddle reads.
        std::string all;
        for (int j = 0; j < kLines; ++j)
          all +=
              expected[static_cast<std::size_t>(i) * kLines + static_cast<std::size_t>(j)] + "\n";
        for (std::size_t pos = 0; pos < all.size();) {
          std::size_t n = std::min<std::size_t>(all.size() - pos, 1 + (pos * 7919) % 3000);
          if (!c.send(std::string_view(all).substr(pos, n))) return void(failures++);
          pos += n;
        }
        if (ack && c.read(std::size_t{3} * kLines) != repeat("OK\n", kLines)) failures++;
      });
    for (auto& t : threads) t.join();
    CHECK(failures.load() == 0);
    REQUIRE(waitFor([&] { return f.processor.count() >= expected.size(); }));
    auto got = f.processor.snapshot();
    std::sort(got.begin(), got.end());
    std::sort(expected.begin(), expected.end());
    CHECK(got == expected);
    // Counted after the channel returned: wait for the last batch's count.
    constexpr int64_t kTotal = int64_t{kClients} * kLines;
    CHECK(waitFor([&] { return f.counter("EventAcceptedCount") == kTotal; }));
    CHECK(f.counter("EventReceivedCount") == kClients * kLines);
    CHECK(f.counter("AppendBatchAcceptedCount") == f.counter("AppendBatchReceivedCount"));
    for (std::size_t n : f.processor.batchSizes()) CHECK(n <= 100);
  }
}

TEST_CASE("lines of one read go to the channel in batches of batchSize") {
  Fixture f({{"ack-every-event", "false"}, {"batchSize", "100"}});
  Client c(f.source.boundPort());
  std::string all;
  for (int i = 0; i < 1000; ++i) all += "line " + std::to_string(i) + "\n";
  REQUIRE(c.send(all));
  REQUIRE(waitFor([&] { return f.processor.count() == 1000; }));
  auto sizes = f.processor.batchSizes();
  CHECK(sizes.size() < 100);  // far fewer transactions than lines
  for (std::size_t n : sizes) CHECK(n <= 100);
  CHECK(waitFor([&] {
    return static_cast<std::size_t>(f.counter("AppendBatchAcceptedCount")) == sizes.size();
  }));
  auto bodies = f.processor.snapshot();
  for (int i = 0; i < 1000; ++i)
    CHECK(bodies[static_cast<std::size_t>(i)] == "line " + std::to_string(i));
}

TEST_CASE("an over-long line is truncated to max-line-length, counted and logged rate-limited") {
  CaptureLogger log;
  Fixture f({{"max-line-length", "10"}, {"ack-every-event", "false"}}, &log);
  const auto reports = [&] { return log.occurrences("truncated "); };
  Client c(f.source.boundPort());
  REQUIRE(c.send("short\n" + std::string(25, 'x') + "\n0123456789\r\n0123456789A\r\nafter\n"));
  REQUIRE(waitFor([&] { return f.processor.count() == 5; }));
  CHECK(f.processor.snapshot() == std::vector<std::string>{"short", std::string(10, 'x'),
                                                           "0123456789", "0123456789", "after"});
  CHECK(f.counter("LineTruncatedCount") == 2);
  // The first truncation is logged, naming the client and the limit.
  REQUIRE(waitFor([&] { return reports() == 1; }));
  CHECK(log.has("to max-line-length (10 bytes)"));

  // A flood of over-long lines: every one counted, the log held to one line per 10 s.
  std::string flood;
  for (int i = 0; i < 2000; ++i) flood += std::string(30, 'f') + "\n";
  REQUIRE(c.send(flood));
  REQUIRE(waitFor([&] { return f.processor.count() == 2005; }));
  CHECK(f.counter("LineTruncatedCount") == 2002);

  // A line far longer than any read buffer, sent in pieces: kept prefix only, no growth.
  std::string huge = "HEAD" + std::string(std::size_t{3} * 1024 * 1024, 'y');
  for (std::size_t pos = 0; pos < huge.size(); pos += 100000)
    REQUIRE(c.send(std::string_view(huge).substr(pos, 100000)));
  REQUIRE(c.send("\nnext\n"));
  REQUIRE(waitFor([&] { return f.processor.count() == 2007; }));
  auto bodies = f.processor.snapshot();
  CHECK(bodies[2005] == "HEADyyyyyy");
  CHECK(bodies[2006] == "next");
  CHECK(f.counter("LineTruncatedCount") == 2003);
  // 2003 truncations, one report (two if this test straddled the 10 s interval on a slow run).
  CHECK(reports() <= 2);
}

TEST_CASE("a refused batch starting with the end of an over-long line is delivered intact") {
  // The line is longer than any read, so its end arrives without its start: the first line of
  // that batch is the splitter's kept prefix, which the unfinished over-long line after it
  // replaces before the refused batch is rebuilt.
  Fixture f({{"max-line-length", "10"}, {"ack-every-event", "false"}});
  Client c(f.source.boundPort());
  f.processor.refuse = true;
  std::string huge = "HEAD" + std::string(3 * NetcatSource::kReadBufferBytes, 'y');
  for (std::size_t pos = 0; pos < huge.size(); pos += 100000)
    REQUIRE(c.send(std::string_view(huge).substr(pos, 100000)));
  REQUIRE(c.send("\nafter\n" + std::string(50, 'Z')));
  REQUIRE(waitFor([&] { return f.processor.refusedCalls.load() >= 2; }));
  f.processor.refuse = false;
  REQUIRE(waitFor([&] { return f.processor.count() == 2; }));
  CHECK(f.processor.snapshot() == std::vector<std::string>{"HEADyyyyyy", "after"});
  CHECK(f.counter("LineTruncatedCount") == 1);
  REQUIRE(c.send("ZZ\nnext\n"));  // the unfinished line goes on being skipped, then cut
  REQUIRE(waitFor([&] { return f.processor.count() == 4; }));
  CHECK(f.processor.snapshot() ==
        std::vector<std::string>{"HEADyyyyyy", "after", std::string(10, 'Z'), "next"});
  CHECK(f.counter("LineTruncatedCount") == 2);
}

TEST_CASE("splitBatches: the same lines and batches however the bytes are cut into reads") {
  const std::string in = "a\r\nbb\n" + std::string(30, 'c') + "\r\n\n0123456789\r\nend";
  const std::vector<std::string> want{"a", "bb", std::string(8, 'c'), "", "01234567"};
  for (std::size_t chunk = 1; chunk <= in.size(); ++chunk) {
    CAPTURE(chunk);
    sluice::plugins::lines::LineSplitter splitter(8);
    std::vector<std::string> got;
    std::size_t batches = 0;
    std::string carry;
    for (std::size_t pos = 0; pos < in.size(); pos += chunk) {
      const std::string buf = carry + in.substr(pos, chunk);
      const std::size_t keep = sluice::plugins::netcat::splitBatches(
          splitter, buf.data(), buf.size(), 2,
          [&](const sluice::plugins::lines::Line& l, std::size_t) { got.emplace_back(l.body); },
          [&](std::size_t) {
            ++batches;
            return true;
          });
      carry = buf.substr(keep);
      CHECK(carry.size() <= 9);
    }
    CHECK(got == want);
    CHECK(carry == "end");
    CHECK(batches >= 3);
  }
}

TEST_CASE("client disconnect mid-line drops the partial line and counts it") {
  Fixture f({{"ack-every-event", "false"}});
  {
    Client c(f.source.boundPort());
    REQUIRE(c.send("a\nb\npartial line without newline"));
  }
  REQUIRE(waitFor([&] { return f.counter("PartialLineDroppedCount") == 1; }));
  CHECK(f.processor.snapshot() == std::vector<std::string>{"a", "b"});
  CHECK(waitFor([&] { return f.counter("OpenConnectionCount") == 0; }));
}

TEST_CASE("half-closed client still gets every reply") {
  Fixture f;
  Client c(f.source.boundPort());
  REQUIRE(c.send(repeat("x\n", 2000)));
  c.shutdownWrite();
  CHECK(c.read(6000) == repeat("OK\n", 2000));
  CHECK(c.waitClosed());
  CHECK(f.processor.count() == 2000);
}

TEST_CASE("channel full with acks: FAILED per line, nothing acknowledged is lost") {
  Fixture f;
  Client c(f.source.boundPort());
  f.processor.refuse = true;
  REQUIRE(c.send("r1\nr2\nr3\n"));
  CHECK(c.read(std::size_t{3} * 27) == repeat("FAILED: channel c1 is full\n", 3));
  CHECK(f.processor.count() == 0);
  CHECK(f.counter("ChannelWriteFail") >= 1);
  CHECK(f.counter("EventAcceptedCount") == 0);

  f.processor.refuse = false;
  REQUIRE(c.send("a1\na2\n"));
  CHECK(c.read(6) == "OK\nOK\n");
  CHECK(f.processor.snapshot() == std::vector<std::string>{"a1", "a2"});

  // Alternate: every line acknowledged OK is in the channel, no FAILED one is.
  std::vector<std::string> acked;
  for (int round = 0; round < 6; ++round) {
    f.processor.refuse = round % 2 == 1;
    std::string lines;
    for (int i = 0; i < 50; ++i)
      lines += "round" + std::to_string(round) + "-" + std::to_string(i) + "\n";
    REQUIRE(c.send(lines));
    std::string expectReply =
        f.processor.refuse ? repeat("FAILED: channel c1 is full\n", 50) : repeat("OK\n", 50);
    REQUIRE(c.read(expectReply.size()) == expectReply);
    if (round % 2 == 0)
      for (int i = 0; i < 50; ++i)
        acked.push_back("round" + std::to_string(round) + "-" + std::to_string(i));
  }
  auto bodies = f.processor.snapshot();
  bodies.erase(bodies.begin(), bodies.begin() + 2);
  CHECK(bodies == acked);
}

TEST_CASE("channel full without acks: connection held, then every line arrives once") {
  Fixture f({{"ack-every-event", "false"}, {"batchSize", "64"}});
  Client c(f.source.boundPort());
  f.processor.refuse = true;
  std::string all;
  for (int i = 0; i < 1000; ++i) all += "held-" + std::to_string(i) + "\n";
  REQUIRE(c.send(all));
  // Retries with back-off while the channel stays full; nothing is accepted.
  REQUIRE(waitFor([&] { return f.processor.refusedCalls.load() >= 3; }));
  CHECK(f.processor.count() == 0);
  f.processor.refuse = false;
  REQUIRE(waitFor([&] { return f.processor.count() >= 1000; }));
  auto bodies = f.processor.snapshot();
  REQUIRE(bodies.size() == 1000);
  for (int i = 0; i < 1000; ++i)
    CHECK(bodies[static_cast<std::size_t>(i)] == "held-" + std::to_string(i));
  // The source counts a batch accepted after the channel returned it, so the count may trail
  // the events by a moment.
  CHECK(waitFor([&] { return f.counter("EventAcceptedCount") == 1000; }));
  CHECK(f.counter("EventReceivedCount") == 1000);  // retries are not counted as new lines
  CHECK(f.counter("ChannelWriteFail") >= 3);
  // The connection is read again afterwards.
  REQUIRE(c.send("later\n"));
  REQUIRE(waitFor([&] { return f.processor.count() == 1001; }));
  CHECK(f.processor.snapshot().back() == "later");
}

TEST_CASE("channel full without acks: TCP backpressure reaches the client") {
  Fixture f({{"ack-every-event", "false"}});
  Client c(f.source.boundPort());
  f.processor.refuse = true;
  // Write without blocking until the socket stays unwritable: the source stopped reading.
  const std::string line = std::string(100, 'p') + "\n";
  std::string chunk;
  for (int i = 0; i < 64; ++i) chunk += line;
  std::size_t sent = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  bool blocked = false;
  while (!blocked && std::chrono::steady_clock::now() < deadline) {
    pollfd p{c.fd(), POLLOUT, 0};
    if (::poll(&p, 1, 500) == 0) {
      blocked = true;  // not writable for 500 ms
      break;
    }
    ssize_t n = ::send(c.fd(), chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  REQUIRE(blocked);
  MESSAGE("client blocked after ", sent / 1024, " KiB");
  CHECK(f.processor.count() == 0);
  // Finish the last partial line, then let the channel recover: everything arrives once.
  const std::size_t tail = sent % line.size();
  f.processor.refuse = false;
  if (tail) REQUIRE(c.send(line.substr(tail)));
  const std::size_t lines = (sent + line.size() - 1) / line.size();
  REQUIRE(waitFor([&] { return f.processor.count() >= lines; }, 60s));
  CHECK(f.processor.count() == lines);
  for (const auto& b : f.processor.snapshot()) REQUIRE(b == line.substr(0, 100));
}

TEST_CASE("stopping while held drops the pending lines and counts them") {
  Fixture f({{"ack-every-event", "false"}, {"batchSize", "10"}});
  Client c(f.source.boundPort());
  f.processor.refuse = true;
  REQUIRE(c.send(repeat("z\n", 10)));
  REQUIRE(waitFor([&] { return f.processor.refusedCalls.load() >= 1; }));
  CHECK(sdk::HostAccess::stop(f.source).ok());
  CHECK(f.counter("PendingLineDroppedCount") == 10);
  CHECK(c.waitClosed());
}

TEST_CASE("max-connections: further clients are accepted and closed at once") {
  Fixture f({{"max-connections", "2"}});
  Client a(f.source.boundPort()), b(f.source.boundPort());
  REQUIRE(waitFor([&] { return f.counter("OpenConnectionCount") == 2; }));
  Client third(f.source.boundPort());
  CHECK(third.waitClosed());
  CHECK(waitFor([&] { return f.counter("ConnectionRejectedCount") == 1; }));
  CHECK(f.counter("OpenConnectionCount") == 2);
  REQUIRE(a.send("still\n"));
  CHECK(a.read(3) == "OK\n");
  b.close();
  REQUIRE(waitFor([&] { return f.counter("OpenConnectionCount") == 1; }));
  Client fourth(f.source.boundPort());
  REQUIRE(fourth.send("welcome\n"));
  CHECK(fourth.read(3) == "OK\n");
}

TEST_CASE("idleTimeout closes a silent connection") {
  Fixture f({{"idleTimeout", "1"}});
  Client quiet(f.source.boundPort());
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(quiet.waitClosed(10s));
  CHECK(std::chrono::steady_clock::now() - t0 >= 900ms);
  CHECK(f.counter("ConnectionIdleClosedCount") == 1);
}

TEST_CASE("TLS: lines over TLS are acknowledged; a plain-text client is refused and counted") {
  net::testing::TestPki pki;
  Fixture f({{"ssl", "true"}, {"ssl.certificate", pki.serverPem}, {"ssl.key", pki.serverKey}});
  net::testing::OpenSslClient c(f.source.boundPort(), pki.caPem);
  REQUIRE_MESSAGE(c.handshakeOk(), c.error());
  REQUIRE(c.write("over tls\nsecond\n"));
  CHECK(c.readLines(2) == "OK\nOK\n");
  CHECK(f.processor.snapshot() == std::vector<std::string>{"over tls", "second"});
  Client plain(f.source.boundPort());
  REQUIRE(plain.send("plain\n"));
  CHECK(plain.waitClosed(15s));
  CHECK(waitFor([&] { return f.counter("TlsHandshakeFailCount") >= 1; }));
  CHECK(f.processor.count() == 2);
}

TEST_CASE("ipFilterRules: a denied client is closed at once and counted; nothing of it arrives") {
  Fixture f({{"ipFilter", "true"}, {"ipFilterRules", "deny:ip:127.0.0.*,allow:ip:*"}});
  Client c(f.source.boundPort());
  REQUIRE(c.send("denied\n"));
  CHECK(c.waitClosed(10s));
  CHECK(waitFor([&] { return f.counter("ConnectionDeniedCount") == 1; }));
  CHECK(f.processor.count() == 0);
}

TEST_CASE("bind failure: start() fails naming bind:port and the reason") {
  // Occupy a port with a listener of our own.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string port = std::to_string(ntohs(addr.sin_port));

  RecordingProcessor processor;
  NetcatSource src;
  sdk::HostAccess::setChannelProcessor(src, &processor);
  REQUIRE(configure(src, contextOf({{"bind", "127.0.0.1"}, {"port", port}})).ok());
  sdk::Result r = sdk::HostAccess::start(src);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == "cannot bind to 127.0.0.1:" + port + ": Address already in use");
  CHECK(src.getLifecycleState() == sdk::LifecycleState::ERROR);
  CHECK(src.boundPort() == 0);
  CHECK(sdk::HostAccess::stop(src).ok());

  REQUIRE(configure(src, contextOf({{"bind", "no-such-host.invalid"}, {"port", "0"}})).ok());
  r = sdk::HostAccess::start(src);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("cannot bind to no-such-host.invalid:0: cannot resolve") == 0);

  // The same object starts fine once the address is usable.
  ::close(fd);
  REQUIRE(configure(src, contextOf({{"bind", "127.0.0.1"}, {"port", port}})).ok());
  r = sdk::HostAccess::start(src);
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(std::to_string(src.boundPort()) == port);
  CHECK(sdk::HostAccess::stop(src).ok());
}

TEST_CASE("start and stop are repeatable") {
  RecordingProcessor processor;
  NetcatSource src;
  sdk::HostAccess::setChannelProcessor(src, &processor);
  REQUIRE(configure(src, contextOf({{"bind", "127.0.0.1"}, {"port", "0"}})).ok());
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    REQUIRE(sdk::HostAccess::start(src).ok());
    CHECK(sdk::HostAccess::start(src).ok());  // a second start while running does nothing
    Client c(src.boundPort());
    REQUIRE(c.ok());
    REQUIRE(c.send("round " + std::to_string(round) + "\n"));
    CHECK(c.read(3) == "OK\n");
    CHECK(sdk::HostAccess::stop(src).ok());
    CHECK(c.waitClosed());  // stop closes open connections
    CHECK(sdk::HostAccess::stop(src).ok());
    CHECK(src.boundPort() == 0);
    CHECK(src.sourceCounter().get("OpenConnectionCount") == 0);
  }
  CHECK(processor.snapshot() == std::vector<std::string>{"round 0", "round 1", "round 2"});
}
