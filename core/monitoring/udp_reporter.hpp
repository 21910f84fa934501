#pragma once
// What the UDP push reporters (StatsD, Ganglia) share: one connected UDP socket per target, a
// thread that every interval takes a snapshot through the provider and sends the datagrams the
// reporter renders from it, and a log line when sending to a target starts failing and one when
// it works again. The reporter supplies only the rendering.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/fwd.h>

#include "core/monitoring/snapshot.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::core::monitoring {

struct UdpTarget {
  std::string host;
  int port = 0;
  std::string str() const;  // host:port ([v6]:port)
};

struct UdpReporterOptions {
  std::string name;     // "StatsD", "Ganglia 3.1": for log lines
  std::string hostKey;  // the option that names the hosts, for a resolve error
  std::vector<UdpTarget> targets;
  std::chrono::milliseconds interval{10000};
  // Push once as soon as the thread starts (Flume's Ganglia reporter does), not only after the
  // first interval.
  bool pushAtStart = false;
};

class UdpReporter {
 public:
  // `provider` fills a snapshot or returns false when the agent cannot be read right now.
  // `render` turns a snapshot into the datagrams of one push. `sent` (may be empty) hears after
  // each push whether every datagram went out to every target. All three run on the reporter's
  // thread only.
  using Provider = std::function<bool(Snapshot&)>;
  using Render = std::function<std::vector<std::string>(const Snapshot&)>;
  using Sent = std::function<void(bool)>;

  UdpReporter(UdpReporterOptions options, Provider provider, Render render, Sent sent,
              std::shared_ptr<spdlog::logger> log);
  ~UdpReporter();
  UdpReporter(const UdpReporter&) = delete;
  UdpReporter& operator=(const UdpReporter&) = delete;

  // Resolves and connects every target, starts the thread and logs
  // "monitoring: pushing <name> metrics to <targets> (udp) every <interval> ms".
  sdk::Result start();
  // Pushes once more (so that the last increments are not lost) and joins.
  void stop();

 private:
  struct Socket {
    int fd = -1;
    bool failing = false;  // reporter thread only: log a send error once per failing run
  };
  void run();
  void pushOnce();
  void closeAll();

  UdpReporterOptions options_;
  Provider provider_;
  Render render_;
  Sent sent_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<Socket> sockets_;  // one per target, same order
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sluice::core::monitoring
