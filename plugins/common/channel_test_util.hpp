#pragma once
// Helpers for the channels' unit tests (memory, file, spillable memory): numbered events in, a
// transaction that puts or takes and commits, and the bodies that came out. Test-only: include
// it after doctest.

#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::plugins::channeltx::testing {

// Events with bodies "from".."to" inclusive, right-padded with spaces to `pad` bytes.
inline sdk::EventBatch numbered(int from, int to, std::size_t pad = 0) {
  sdk::EventBatch b;
  for (int i = from; i <= to; ++i) {
    std::string s = std::to_string(i);
    if (pad > s.size()) s.append(pad - s.size(), ' ');
    b.emplace_back(std::move(s));
  }
  return b;
}

// The bodies numbered() makes, unpadded.
inline std::vector<std::string> seq(int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i <= to; ++i) v.push_back(std::to_string(i));
  return v;
}

// One transaction: put the batch, commit.
inline sdk::Result putCommit(sdk::Channel& ch, sdk::EventBatch batch) {
  sdk::TransactionGuard tx(ch);
  sdk::Result r = tx->putBatch(batch);
  if (!r) return r;
  return tx.commit();
}

// One transaction: take up to max, commit; the bodies without numbered()'s padding. CHECK, not
// REQUIRE: tests call this from helper threads too, where REQUIRE cannot throw.
inline std::vector<std::string> takeCommit(sdk::Channel& ch, std::size_t max) {
  sdk::TransactionGuard tx(ch);
  std::span<sdk::Event> taken;
  sdk::Result r = tx->takeBatch(max, taken);
  CHECK_MESSAGE(r.ok(), r.error());
  std::vector<std::string> bodies;
  bodies.reserve(taken.size());
  for (const auto& e : taken) {
    std::string b = e.body;
    while (!b.empty() && b.back() == ' ') b.pop_back();
    bodies.push_back(std::move(b));
  }
  CHECK(tx.commit().ok());
  return bodies;
}

// Takes until a take finds nothing; every body, in order.
inline std::vector<std::string> drain(sdk::Channel& ch, std::size_t batch = 1000) {
  std::vector<std::string> all;
  for (;;) {
    std::vector<std::string> got = takeCommit(ch, batch);
    if (got.empty()) return all;
    all.insert(all.end(), got.begin(), got.end());
  }
}

// `producers` threads each put `batches` batches of `batchSize` events ("p:n") while two
// consumers take up to takeMax at a time, rolling back every rollbackEvery-th take; returns
// every body a consumer committed. The caller checks counts: nothing lost, nothing twice.
inline std::multiset<std::string> putAndTakeConcurrently(sdk::Channel& ch, int producers,
                                                         int batches, int batchSize,
                                                         std::size_t takeMax, int rollbackEvery) {
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(producers) + 2);
  std::mutex mu;
  std::multiset<std::string> got;
  std::atomic<int> putting{producers};
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      for (int b = 0; b < batches; ++b) {
        sdk::EventBatch batch;
        for (int i = 0; i < batchSize; ++i)
          batch.emplace_back(std::to_string(p) + ":" + std::to_string(b * batchSize + i));
        CHECK(putCommit(ch, std::move(batch)).ok());
      }
      putting.fetch_sub(1);
    });
  for (int k = 0; k < 2; ++k)
    threads.emplace_back([&] {
      int round = 0;
      while (putting.load() > 0 || ch.channelCounter().getChannelSize() > 0) {
        sdk::TransactionGuard tx(ch);
        std::span<sdk::Event> taken;
        if (!tx->takeBatch(takeMax, taken)) continue;
        std::vector<std::string> bodies;
        bodies.reserve(taken.size());
        for (auto& e : taken) bodies.push_back(e.body);
        if (++round % rollbackEvery == 0) continue;  // rolled back
        if (tx.commit()) {
          std::lock_guard lock(mu);
          got.insert(bodies.begin(), bodies.end());
        }
      }
    });
  for (auto& t : threads) t.join();
  return got;
}

}  // namespace sluice::plugins::channeltx::testing
