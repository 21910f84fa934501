// Throughput of the netcat source alone: one client on 127.0.0.1 sends 120-byte lines without
// acks; a processor hands each batch to a consumer thread (as a channel would) which discards
// it. Usage: bench_source_netcat [lines=10000000] [batchSize=100]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "host_context.hpp"
#include "netcat_source.hpp"
#include "sluice/sdk/host_access.hpp"

namespace sdk = sluice::sdk;

namespace {

// Moves batches to a consumer thread under one lock per batch, like a memory channel put.
class HandoffProcessor final : public sdk::ChannelProcessor {
 public:
  HandoffProcessor() : consumer_([this] { drain(); }) {}
  ~HandoffProcessor() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    consumer_.join();
  }
  sdk::Result processEventBatch(sdk::EventBatch& events) noexcept override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& e : events) queue_.push_back(std::move(e));
    }
    events.clear();
    cv_.notify_one();
    return sdk::Result::success();
  }
  sdk::Result processEvent(sdk::Event&& event) noexcept override {
    sdk::EventBatch one;
    one.push_back(std::move(event));
    return processEventBatch(one);
  }
  uint64_t consumed() {
    std::lock_guard<std::mutex> lock(mu_);
    return consumed_;
  }

 private:
  void drain() {
    sdk::EventBatch local;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return done_ || !queue_.empty(); });
      if (queue_.empty() && done_) return;
      local.swap(queue_);
      lock.unlock();
      const std::size_t n = local.size();
      local.clear();  // frees the bodies, as a sink would after writing
      lock.lock();
      consumed_ += n;
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  sdk::EventBatch queue_;
  uint64_t consumed_ = 0;
  bool done_ = false;
  std::thread consumer_;
};

double cpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// CPU seconds used so far by the thread of this process with the given name.
double threadCpuSeconds(const std::string& name) {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string c;
    std::getline(comm, c);
    if (c != name) continue;
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i)
      if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t lines = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10000000;
  const std::string batchSize = argc > 2 ? argv[2] : "100";

  HandoffProcessor processor;
  sluice::plugins::netcat::NetcatSource source;
  sdk::HostAccess::setChannelProcessor(source, &processor);
  sdk::Context ctx("bench.sources.r1");
  ctx.put("bind", "127.0.0.1");
  ctx.put("port", "0");
  ctx.put("ack-every-event", "false");
  ctx.put("batchSize", batchSize);
  if (auto r = sluice::plugins::testing::configureAsHost(
          source, sluice::plugins::netcat::netcatSourceSchema(), ctx, "netcat");
      !r)
    return std::fprintf(stderr, "%s\n", r.error().c_str()), 1;
  if (auto r = sdk::HostAccess::start(source); !r)
    return std::fprintf(stderr, "%s\n", r.error().c_str()), 1;

  std::string line(119, 'x');
  line += '\n';
  std::string block;
  for (int i = 0; i < 8192; ++i) block += line;  // ~1 MiB

  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(source.boundPort());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return 1;

  const double cpu0 = cpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  std::thread client([&] {
    uint64_t left = lines;
    while (left > 0) {
      const uint64_t n = std::min<uint64_t>(left, 8192);
      std::size_t len = n * line.size(), off = 0;
      while (off < len) {
        ssize_t w = ::send(fd, block.data() + off, len - off, 0);
        if (w <= 0) return;
        off += static_cast<std::size_t>(w);
      }
      left -= n;
    }
  });
  while (processor.consumed() < lines) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpuSeconds() - cpu0;
  const double ioCpu = threadCpuSeconds(sluice::plugins::netcat::NetcatSource::kThreadName);
  client.join();
  ::close(fd);
  (void)sdk::HostAccess::stop(source);
  std::printf(
      "netcat source: %llu lines of 120 bytes in %.2f s = %.2f M lines/s, %.0f MB/s; "
      "CPU: all threads (client, source, consumer) %.0f ns per line, source I/O thread "
      "%.0f ns per line (batchSize %s)\n",
      static_cast<unsigned long long>(lines), secs, lines / secs / 1e6, lines * 120.0 / secs / 1e6,
      cpu / lines * 1e9, ioCpu / lines * 1e9, batchSize.c_str());
  return 0;
}
