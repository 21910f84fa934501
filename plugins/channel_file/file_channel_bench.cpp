// Benchmark driver for the file channel (not a test; scripts/bench.d/file_channel.sh runs it).
//
//   bench_channel_file throughput DIR EVENTS BATCH BODY_BYTES PRODUCERS [fsync=1]
//     PRODUCERS threads put EVENTS events in total in batches of BATCH while one consumer
//     takes them in batches of BATCH; prints events/s and MB/s of bodies.
//   bench_channel_file fill DIR EVENTS BODY_BYTES     put EVENTS events, then exit at once
//     (no close, no checkpoint), so the next `replay` replays the whole log
//   bench_channel_file replay DIR                     open the channel: time the replay
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "file_channel.hpp"
#include "host_context.hpp"
#include "sluice/sdk/host_access.hpp"
#include "store_options.hpp"

namespace sdk = sluice::sdk;
namespace fc = sluice::plugins::filechannel;

namespace {

fc::FileChannel* makeChannel(const std::string& dir, bool fsync, bool checkpointOnClose) {
  auto* ch = new fc::FileChannel();
  sdk::Context ctx("a1.channels.c1");
  ctx.put("checkpointDir", dir + "/checkpoint");
  ctx.put("dataDirs", dir + "/data");
  ctx.put("capacity", "2000000");
  ctx.put("transactionCapacity", "10000");
  ctx.put("minimumRequiredSpace", "0");
  ctx.put("checkpointInterval", "600000");
  ctx.put("fsyncPerTransaction", fsync ? "true" : "false");
  ctx.put("checkpointOnClose", checkpointOnClose ? "true" : "false");
  sdk::Result r =
      sluice::plugins::testing::configureAsHost(*ch, fc::fileChannelSchema(), ctx, "file");
  if (!r) {
    std::fprintf(stderr, "configure: %s\n", r.error().c_str());
    std::exit(1);
  }
  r = sdk::HostAccess::start(*ch);
  if (!r) {
    std::fprintf(stderr, "start: %s\n", r.error().c_str());
    std::exit(1);
  }
  return ch;
}

long peakRssKb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: see the comment at the top of file_channel_bench.cpp\n");
    return 2;
  }
  const std::string mode = argv[1], dir = argv[2];
  if (mode == "throughput" && argc >= 7) {
    const long events = std::atol(argv[3]);
    const std::size_t batch = std::strtoul(argv[4], nullptr, 10);
    const std::size_t body = std::strtoul(argv[5], nullptr, 10);
    const int producers = std::atoi(argv[6]);
    const bool fsync = argc < 8 || std::atoi(argv[7]) != 0;
    fc::FileChannel* ch = makeChannel(dir, fsync, true);
    const long perProducer = events / producers;
    const long total = perProducer * producers;
    std::atomic<long> taken{0};
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(producers));
    for (int p = 0; p < producers; ++p)
      threads.emplace_back([&, p] {
        sdk::EventBatch b;
        const std::string payload(body, 'x');
        long done = 0;
        while (done < perProducer) {
          const long n = std::min<long>(static_cast<long>(batch), perProducer - done);
          for (;;) {
            b.clear();
            for (long i = 0; i < n; ++i) b.emplace_back(payload);
            sdk::TransactionGuard tx(*ch);
            if (tx->putBatch(b) && tx.commit()) break;
          }
          done += n;
        }
        (void)p;
      });
    std::thread consumer([&] {
      while (taken.load() < total) {
        sdk::TransactionGuard tx(*ch);
        std::span<sdk::Event> got;
        if (!tx->takeBatch(batch, got)) continue;
        const std::size_t n = got.size();
        if (tx.commit()) taken += static_cast<long>(n);
      }
    });
    for (auto& t : threads) t.join();
    consumer.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-44s %10ld events %8.3f s %12.0f events/s %8.1f MB/s  peak RSS %6.1f MB\n",
                ("file channel put+take b" + std::to_string(batch) + " " + std::to_string(body) +
                 "B x" + std::to_string(producers) + (fsync ? "" : " nofsync"))
                    .c_str(),
                total, s, total / s, total * static_cast<double>(body) / s / 1e6,
                peakRssKb() / 1024.0);
    (void)sdk::HostAccess::stop(*ch);
    delete ch;
    return 0;
  }
  if (mode == "fill" && argc >= 5) {
    const long events = std::atol(argv[3]);
    const std::size_t body = std::strtoul(argv[4], nullptr, 10);
    fc::FileChannel* ch = makeChannel(dir, false, false);
    const std::string payload(body, 'x');
    sdk::EventBatch b;
    for (long done = 0; done < events;) {
      const long n = std::min<long>(10000, events - done);
      b.clear();
      for (long i = 0; i < n; ++i) b.emplace_back(payload);
      sdk::TransactionGuard tx(*ch);
      if (!tx->putBatch(b) || !tx.commit()) {
        std::fprintf(stderr, "fill failed\n");
        return 1;
      }
      done += n;
    }
    ::sync();
    std::_Exit(0);  // a crash: no close, no checkpoint; the next open replays the whole log
  }
  if (mode == "replay") {
    const auto t0 = std::chrono::steady_clock::now();
    fc::FileChannel* ch = makeChannel(dir, true, true);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto& r = ch->lastReplay();
    std::printf(
        "%-44s %10zu events %8.3f s (replay %.3f s, %zu records, from %s)  peak RSS %6.1f MB\n",
        "file channel open after crash", r.liveEvents, s, r.seconds, r.recordsRead,
        r.source.c_str(), peakRssKb() / 1024.0);
    (void)sdk::HostAccess::stop(*ch);
    delete ch;
    return 0;
  }
  std::fprintf(stderr, "bad arguments\n");
  return 2;
}
