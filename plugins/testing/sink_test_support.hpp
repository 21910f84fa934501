#pragma once
// Helpers for the unit tests of the file-writing sinks (file_roll, hdfs): an in-test channel with
// the SDK's take contract whose commits can be made to fail, a temporary directory, and a lower
// RLIMIT_FSIZE to make writes fail.
//
// Why RLIMIT_FSIZE: the tests run as root in CI, where permission bits (chmod 0555) do not stop
// a write. With the limit lowered (and SIGXFSZ ignored) the kernel refuses to grow any file past
// it, for root too. A batch that crosses the limit gets a short write followed by EFBIG, the
// worst case: part of the batch is already in the file when the error comes.

#include <sys/resource.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <system_error>

#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/host_access.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::plugins::testing {

// A minimal transactional channel: a take moves events from the queue into the transaction,
// which keeps them until commit (gone for good) or rollback (back at the head, in order). Puts
// reach the queue on commit. Commits fail while failCommit is set.
class TestChannel final : public sdk::Channel {
 public:
  std::atomic<bool> failCommit{false};

  void put(sdk::EventBatch events) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& e : events) q_.push_back(std::move(e));
  }
  // Bodies "event-<i>" for i in [from, to).
  void putBodies(int from, int to) {
    sdk::EventBatch b;
    for (int i = from; i < to; ++i) b.emplace_back("event-" + std::to_string(i));
    put(std::move(b));
  }
  // The same with a timestamp header of ts (ms).
  void putAt(int from, int to, int64_t ts) {
    sdk::EventBatch b;
    for (int i = from; i < to; ++i)
      b.emplace_back(sdk::Headers{{"timestamp", std::to_string(ts)}}, "event-" + std::to_string(i));
    put(std::move(b));
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return q_.size();
  }

  std::unique_ptr<sdk::Transaction> getTransaction() override {
    return std::make_unique<Tx>(*this);
  }
  // Locks, unlike a real channel's; fine for a test.
  sdk::Backlog backlog() const noexcept override {
    return size() > 0 ? sdk::Backlog::Events : sdk::Backlog::Empty;
  }

 private:
  class Tx final : public sdk::Transaction {
   public:
    explicit Tx(TestChannel& ch) : ch_(ch) {}
    void begin() noexcept override {}
    sdk::Result putBatch(sdk::EventBatch& events) noexcept override {
      for (auto& e : events) puts_.push_back(std::move(e));
      events.clear();
      return sdk::Result::success();
    }
    sdk::Result takeBatch(std::size_t max, std::span<sdk::Event>& taken) noexcept override {
      std::lock_guard<std::mutex> lock(ch_.mu_);
      const std::size_t first = taken_.size();
      while (max-- > 0 && !ch_.q_.empty()) {
        taken_.push_back(std::move(ch_.q_.front()));
        ch_.q_.pop_front();
      }
      taken = std::span<sdk::Event>(taken_).subspan(first);
      return sdk::Result::success();
    }
    sdk::Result commit() noexcept override {
      if (ch_.failCommit.load()) return sdk::Result::failure("commit refused by test");
      std::lock_guard<std::mutex> lock(ch_.mu_);
      for (auto& e : puts_) ch_.q_.push_back(std::move(e));
      puts_.clear();
      taken_.clear();
      return sdk::Result::success();
    }
    void rollback() noexcept override {
      std::lock_guard<std::mutex> lock(ch_.mu_);
      for (auto it = taken_.rbegin(); it != taken_.rend(); ++it) ch_.q_.push_front(std::move(*it));
      taken_.clear();
      puts_.clear();
    }
    void close() noexcept override {}

   private:
    TestChannel& ch_;
    sdk::EventBatch puts_;
    sdk::EventBatch taken_;
  };

  mutable std::mutex mu_;
  std::deque<sdk::Event> q_;
};

// Calls the sink's process() until the channel is empty and a call succeeded (15 s at most).
template <class Sink>
void drain(Sink& sink, const TestChannel& channel) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    sdk::ProcessOutcome o = sdk::HostAccess::process(sink);
    REQUIRE_MESSAGE(!o.failed, o.error);
    if (channel.size() == 0) return;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
  }
}

// A counter of the sink by name; fails the test if the sink has no such counter.
template <class Sink>
int64_t counterOf(Sink& sink, const char* name) {
  auto v = sink.sinkCounter().get(name);
  REQUIRE_MESSAGE(v.has_value(), name);
  return *v;
}

// A new directory under /tmp, removed with everything in it at the end of the test.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "sluice-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// While it lives, no file of this process may grow past `bytes` (see the top of this file).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    std::signal(SIGXFSZ, SIG_IGN);  // otherwise exceeding the limit kills the process
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved_) == 0);
    rlimit l = saved_;
    l.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &l) == 0);
  }
  ~FileSizeLimit() { ::setrlimit(RLIMIT_FSIZE, &saved_); }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
};

}  // namespace sluice::plugins::testing
