// Throughput of the file_roll sink alone: a channel that hands out fresh 119-byte bodies (one
// allocation each, as events from a source would be) feeds the sink, which writes 120-byte lines
// (TEXT adds the newline). Reports wall time and CPU time.
// Usage: bench_sink_file_roll [events=10000000] [sink.batchSize=1000] [serializer=TEXT] [dir]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>

#include "host_context.hpp"
#include "rolling_file_sink.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;

namespace {

class GeneratorChannel final : public sdk::Channel {
 public:
  explicit GeneratorChannel(uint64_t total) : left_(total) {}
  std::unique_ptr<sdk::Transaction> getTransaction() override {
    return std::make_unique<Tx>(*this);
  }
  sdk::Backlog backlog() const noexcept override { return sdk::Backlog::Unknown; }

 private:
  class Tx final : public sdk::Transaction {
   public:
    explicit Tx(GeneratorChannel& ch) : ch_(ch) {}
    void begin() noexcept override {}
    sdk::Result putBatch(sdk::EventBatch& events) noexcept override {
      events.clear();
      return sdk::Result::success();
    }
    // Fresh events each take (one allocation per body, as a source makes them); commit frees
    // them, as a channel does once a take commits.
    sdk::Result takeBatch(std::size_t max, std::span<sdk::Event>& taken) noexcept override {
      const uint64_t n = std::min<uint64_t>(max, ch_.left_);
      const std::size_t first = events_.size();
      for (uint64_t i = 0; i < n; ++i) events_.emplace_back().body.assign(ch_.body_);
      taken = std::span<sdk::Event>(events_).subspan(first);
      return sdk::Result::success();
    }
    sdk::Result commit() noexcept override {
      ch_.left_ -= events_.size();
      events_.clear();
      return sdk::Result::success();
    }
    void rollback() noexcept override { events_.clear(); }
    void close() noexcept override {}

   private:
    GeneratorChannel& ch_;
    sdk::EventBatch events_;
  };

  uint64_t left_;
  std::string body_ = std::string(119, 'x');
};

double cpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t events = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10000000;
  const std::string batch = argc > 2 ? argv[2] : "1000";
  const std::string serializer = argc > 3 ? argv[3] : "TEXT";
  const std::string dir = argc > 4 ? argv[4] : "/tmp/sluice-bench-file-roll";
  std::filesystem::remove_all(dir);

  GeneratorChannel channel(events);
  sluice::plugins::file_roll::RollingFileSink sink;
  sdk::HostAccess::setChannel(sink, &channel);
  sdk::Context ctx("bench.sinks.k1");
  ctx.put("sink.directory", dir);
  ctx.put("sink.batchSize", batch);
  ctx.put("sink.serializer", serializer);
  if (auto r = sluice::plugins::testing::configureAsHost(
          sink, sluice::plugins::file_roll::rollingFileSinkSchema(), ctx, "file_roll");
      !r)
    return std::fprintf(stderr, "%s\n", r.error().c_str()), 1;
  if (auto r = sdk::HostAccess::start(sink); !r)
    return std::fprintf(stderr, "%s\n", r.error().c_str()), 1;

  const double cpu0 = cpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  while (sink.sinkCounter().getEventDrainSuccessCount() < static_cast<int64_t>(events)) {
    sdk::ProcessOutcome o = sdk::HostAccess::process(sink);
    if (o.failed) return std::fprintf(stderr, "%s\n", o.error.c_str()), 1;
  }
  (void)sdk::HostAccess::stop(sink);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpuSeconds() - cpu0;
  uint64_t bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) bytes += e.file_size();
  std::printf(
      "file_roll %s: %llu events, %.0f MB in %.2f s = %.0f MB/s wall, %.2f M events/s; "
      "CPU %.2f s = %.0f MB per CPU-second (sink.batchSize %s)\n",
      serializer.c_str(), static_cast<unsigned long long>(events), bytes / 1e6, secs,
      bytes / secs / 1e6, events / secs / 1e6, cpu, bytes / cpu / 1e6, batch.c_str());
  std::filesystem::remove_all(dir);
  return 0;
}
