// Messages per second of the syslog layer on one thread: framing alone, parsing alone (building
// each event, the batch then freed as a sink would), and both, for ~150-byte RFC 5424 and RFC
// 3164 messages on Flume's two paths. Each figure is the best of three runs, per CPU second of
// the thread (the machine may be shared) and per wall-clock second. Usage:
// bench_syslog [messages=2000000]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "syslog/framer.hpp"
#include "syslog/syslog_parser.hpp"
#include "syslog/syslog_utils.hpp"

namespace sdk = sluice::sdk;
using namespace sluice::plugins::syslog;

namespace {

std::string rfc5424(int i) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "<165>1 2026-06-15T12:%02d:%02d.%06d+02:00 web-frontend-03.example.com nginx "
                "12345 ID47 [origin@32473 ip=\"192.0.2.17\"] GET /index.html 200 %d",
                (i / 60) % 60, i % 60, i % 1000000, i);
  return buf;
}

std::string rfc3164(int i) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "<34>Jun 15 12:%02d:%02d web-frontend-03 sshd[12345]: Accepted publickey for "
                "deploy from 192.0.2.17 port 53124 ssh2: RSA SHA256:Zm9vYmFyYmF6 %d",
                (i / 60) % 60, i % 60, i);
  return buf;
}

double threadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Best of `runs`, in wall-clock seconds and in this thread's CPU seconds (what a dedicated core
// would take, on a machine shared with other work).
struct Timing {
  double wall = 1e9;
  double cpu = 1e9;
};
Timing best(int runs, const std::function<void()>& f) {
  Timing t;
  for (int r = 0; r < runs; ++r) {
    const auto w0 = std::chrono::steady_clock::now();
    const double c0 = threadCpuSeconds();
    f();
    const double cpu = threadCpuSeconds() - c0;
    const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - w0;
    t.wall = std::min(t.wall, wall.count());
    t.cpu = std::min(t.cpu, cpu);
  }
  return t;
}

void report(const char* what, std::size_t messages, std::size_t bytes, Timing t) {
  std::printf("%-44s %6.2f M msg/s CPU (%6.1f MB/s)  %6.2f M msg/s wall\n", what,
              messages / t.cpu / 1e6, bytes / t.cpu / 1e6, messages / t.wall / 1e6);
}

// The stream as a connection sees it, read in 256 KiB pieces; the unconsumed tail is kept in
// front of the next piece as the network layer keeps it.
template <class Framer, class OnMessage>
std::size_t frameStream(const std::string& stream, OnMessage&& on) {
  Framer f(FramerOptions{});
  constexpr std::size_t kRead = std::size_t{256} * 1024;
  std::string buf;
  std::size_t n = 0;
  for (std::size_t pos = 0; pos < stream.size(); pos += kRead) {
    buf.append(stream, pos, kRead);
    std::string_view view = buf;
    while (true) {
      const FrameStep s = f.next(view);
      view.remove_prefix(s.consumed);
      if (s.kind != FrameStep::Message) break;
      on(s.message);
      ++n;
    }
    buf.erase(0, buf.size() - view.size());
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2'000'000;
  std::vector<std::string> m5424, m3164;
  std::string newline5424, octet5424, newline3164;
  std::size_t bytes5424 = 0, bytes3164 = 0;
  for (int i = 0; i < n; ++i) {
    m5424.push_back(rfc5424(i));
    m3164.push_back(rfc3164(i));
    bytes5424 += m5424.back().size();
    bytes3164 += m3164.back().size();
    newline5424 += m5424.back() + "\n";
    octet5424 += std::to_string(m5424.back().size()) + " " + m5424.back();
    newline3164 += m3164.back() + "\n";
  }
  const int64_t now = 1'781'000'000'000;  // June 2026
  std::printf("%d messages per run (average %zu bytes), best of 3\n", n, bytes5424 / n);

  std::size_t got = 0;
  report("frame RFC 5424, newline (syslogtcp)", n, bytes5424,
         best(3, [&] { got = frameStream<UtilsFramer>(newline5424, [](const Message&) {}); }));
  report("frame RFC 5424, octet-counted (syslogtcp)", n, bytes5424,
         best(3, [&] { got = frameStream<UtilsFramer>(octet5424, [](const Message&) {}); }));
  report("frame RFC 5424, newline (multiport)", n, bytes5424,
         best(3, [&] { got = frameStream<LineFramer>(newline5424, [](const Message&) {}); }));
  if (got != static_cast<std::size_t>(n)) std::printf("framing lost messages: %zu\n", got);

  sdk::EventBatch batch;
  batch.reserve(100);
  auto flush = [&] {
    if (batch.size() == 100) batch.clear();  // as a sink frees what it took
  };
  SyslogUtilsParser utils(parseKeepFields("none"), {});
  MultiportParser multi(parseKeepFields("none"), {}, CharsetConfig{});
  auto parseAll = [&](const std::vector<std::string>& msgs, auto&& parse) {
    return [&msgs, &batch, &flush, parse] {
      for (const std::string& s : msgs) {
        Message m;
        m.bytes = s;
        m.priorityDigits = static_cast<uint8_t>(s.find('>') - 1);
        parse(m, batch.emplace_back());
        flush();
      }
      batch.clear();
    };
  };
  auto viaUtils = [&](const Message& m, sdk::Event& e) { utils.parse(m, now, {}, e); };
  auto viaMulti = [&](const Message& m, sdk::Event& e) { multi.parse(m, now, 514, {}, e); };
  report("parse RFC 5424, SyslogUtils (syslogtcp/udp)", n, bytes5424,
         best(3, parseAll(m5424, viaUtils)));
  report("parse RFC 3164, SyslogUtils (syslogtcp/udp)", n, bytes3164,
         best(3, parseAll(m3164, viaUtils)));
  report("parse RFC 5424, SyslogParser (multiport)", n, bytes5424,
         best(3, parseAll(m5424, viaMulti)));
  report("parse RFC 3164, SyslogParser (multiport)", n, bytes3164,
         best(3, parseAll(m3164, viaMulti)));

  auto frameAndParse = [&](const std::string& stream, auto&& parse, auto framerTag) {
    using F = decltype(framerTag);
    return [&stream, &batch, &flush, parse] {
      frameStream<F>(stream, [&](const Message& m) {
        parse(m, batch.emplace_back());
        flush();
      });
      batch.clear();
    };
  };
  report("frame + parse RFC 5424 newline (syslogtcp)", n, bytes5424,
         best(3, frameAndParse(newline5424, viaUtils, UtilsFramer(FramerOptions{}))));
  report("frame + parse RFC 5424 octet (syslogtcp)", n, bytes5424,
         best(3, frameAndParse(octet5424, viaUtils, UtilsFramer(FramerOptions{}))));
  report("frame + parse RFC 3164 newline (syslogtcp)", n, bytes3164,
         best(3, frameAndParse(newline3164, viaUtils, UtilsFramer(FramerOptions{}))));
  report("frame + parse RFC 5424 newline (multiport)", n, bytes5424,
         best(3, frameAndParse(newline5424, viaMulti, LineFramer(FramerOptions{}))));
  return 0;
}
