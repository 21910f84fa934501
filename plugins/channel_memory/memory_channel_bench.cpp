// Micro-benchmark: one producer thread (putBatch + commit) and one consumer thread
// (takeBatch + commit) through one MemoryChannel, as seq -> memory -> null would drive it.
//
//   bench_channel_memory [events=20000000] [batch=1000] [capacity=100000] [bodyBytes=0]
//
// bodyBytes 0 means decimal counters like the seq source (small strings, no heap body).

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <thread>

#include "host_context.hpp"
#include "memory_channel.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;
using sluice::plugins::memory::MemoryChannel;

int main(int argc, char** argv) {
  const long total = argc > 1 ? std::atol(argv[1]) : 20000000;
  const long batch = argc > 2 ? std::atol(argv[2]) : 1000;
  const long capacity = argc > 3 ? std::atol(argv[3]) : 100000;
  const long bodyBytes = argc > 4 ? std::atol(argv[4]) : 0;

  MemoryChannel ch;
  sdk::Context ctx("bench.channels.c1");
  ctx.put("capacity", std::to_string(capacity));
  ctx.put("transactionCapacity", std::to_string(batch));
  if (!sluice::plugins::testing::configureAsHost(ch, sluice::plugins::memory::memoryChannelSchema(),
                                                 ctx, "memory") ||
      !sdk::HostAccess::start(ch))
    return 1;

  const std::string fixed(static_cast<std::size_t>(bodyBytes), 'x');
  auto t0 = std::chrono::steady_clock::now();
  std::thread producer([&] {
    sdk::EventBatch events;
    char digits[24];
    for (long sent = 0; sent < total;) {
      const long n = std::min(batch, total - sent);
      for (long i = 0; i < n; ++i) {
        events.emplace_back();
        if (bodyBytes > 0) {
          events.back().body = fixed;
        } else {
          auto [end, ec] = std::to_chars(digits, digits + sizeof digits, sent + i);
          events.back().body.assign(digits, end);
        }
      }
      sdk::TransactionGuard tx(ch);
      if (tx->putBatch(events) && tx.commit()) sent += n;
      events.clear();
    }
  });
  long received = 0;
  std::thread consumer([&] {
    while (received < total) {
      sdk::TransactionGuard tx(ch);
      std::span<sdk::Event> taken;
      if (!tx->takeBatch(static_cast<std::size_t>(batch), taken)) return;
      if (!tx.commit()) return;
      received += static_cast<long>(taken.size());
    }
  });
  producer.join();
  consumer.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%ld events, batch %ld, body %s: %.3f s, %.2f M events/s\n", received, batch,
              bodyBytes > 0 ? (std::to_string(bodyBytes) + " bytes").c_str() : "counter", secs,
              static_cast<double>(received) / secs / 1e6);
  return received == total ? 0 : 1;
}
