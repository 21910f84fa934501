// Throughput of the network layer (not a test): the README's example line source over
// TcpListener, fed by tests/bench/line_sender (the sender scripts/bench uses) with 1 and 8
// senders, each line handed downstream in batches to a consumer thread that frees the events
// (as a memory channel and its sink would). For comparison, the same run against the netcat
// source's own epoll loop, when this bench is built beside it.
//
//   bench_net [lines=10000000] [line-bytes=120] [io-threads=0 (one per core, at most 4)]
//             [which=both|layer|netcat]
//
// Prints one line per run: lines/s, MB/s, and CPU per line of the I/O threads and of the
// whole process.

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "example_line_source.hpp"
#include "net/io_pool.hpp"
#include "net/tcp_listener.hpp"
#ifdef SLUICE_BENCH_NETCAT
#include "netcat_source.hpp"
#include "sluice/sdk/host_access.hpp"
#endif

extern char** environ;

namespace sdk = sluice::sdk;
namespace net = sluice::plugins::net;

namespace {

// Moves each batch to a consumer thread under one lock per batch, like a memory channel put.
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
    sdk::EventBatch taken;
    std::unique_lock<std::mutex> lock(mu_);
    while (!(done_ && queue_.empty())) {
      cv_.wait(lock, [&] { return done_ || !queue_.empty(); });
      taken.swap(queue_);
      lock.unlock();
      const std::size_t n = taken.size();
      taken.clear();  // frees the bodies, as a sink would after writing them
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

double processCpu() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// CPU seconds of this process's threads whose name starts with `prefix`.
double threadsCpu(const std::string& prefix) {
  double ticks = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 15 && rest >> field; ++i)
      if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Runs `senders` line_sender processes against the port and waits until the consumer freed
// every line. Prints the figures under `label`.
void run(const char* label, uint16_t port, HandoffProcessor& processor, uint64_t lines,
         int lineBytes, int senders, const std::string& threadPrefix) {
  const uint64_t before = processor.consumed();
  const uint64_t per = lines / static_cast<uint64_t>(senders);
  const uint64_t total = per * static_cast<uint64_t>(senders);
  const double cpu0 = processCpu(), io0 = threadsCpu(threadPrefix);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<pid_t> pids;
  const std::string portText = std::to_string(port), perText = std::to_string(per),
                    bytesText = std::to_string(lineBytes);
  for (int i = 0; i < senders; ++i) {
    const char* argv[] = {SLUICE_LINE_SENDER, "127.0.0.1",       portText.c_str(),
                          perText.c_str(),    bytesText.c_str(), nullptr};
    pid_t pid = 0;
    if (::posix_spawn(&pid, SLUICE_LINE_SENDER, nullptr, nullptr, const_cast<char**>(argv),
                      environ) != 0) {
      std::perror("posix_spawn " SLUICE_LINE_SENDER);
      std::exit(1);
    }
    pids.push_back(pid);
  }
  while (processor.consumed() - before < total)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (pid_t p : pids) ::waitpid(p, nullptr, 0);
  const double cpu = processCpu() - cpu0, io = threadsCpu(threadPrefix) - io0;
  const auto n = static_cast<double>(total);
  std::printf(
      "%-28s %d sender(s): %llu lines of %d bytes in %.2f s = %.2f M lines/s, %.0f MB/s; "
      "CPU per line: I/O threads %.0f ns, whole process %.0f ns\n",
      label, senders, static_cast<unsigned long long>(total), lineBytes + 1, secs, n / secs / 1e6,
      n * (lineBytes + 1) / secs / 1e6, io / n * 1e9, cpu / n * 1e9);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t lines = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10000000;
  const int lineBytes = argc > 2 ? std::atoi(argv[2]) : 120;
  const std::size_t threads = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 0;
  const std::string which = argc > 4 ? argv[4] : "both";
  ::signal(SIGPIPE, SIG_IGN);

  HandoffProcessor processor;
  sdk::Logger& log = sdk::NullLogger::instance();
  if (which != "netcat") {
    net::IoPool pool("bench", threads);
    if (auto r = pool.start(log); !r) return std::fprintf(stderr, "%s\n", r.error().c_str()), 1;
    sdk::SourceCounter counter;
    net::example::LineSourceOptions lo;  // no acks, batches of 100
    net::example::LineSource source(processor, counter, pool.size(), lo);
    net::TcpListener listener;
    net::ListenerOptions o;
    o.bind = "127.0.0.1";
    if (auto r = listener.start(pool, source, o, log); !r)
      return std::fprintf(stderr, "%s\n", r.error().c_str()), 1;
    const std::string label = "net layer (" + std::to_string(pool.size()) + " I/O threads)";
    for (int senders : {1, 8})
      run(label.c_str(), listener.port(), processor, lines, lineBytes, senders, "sluice-bench");
    listener.stop();
    pool.stop();
  }
#ifdef SLUICE_BENCH_NETCAT
  if (which != "layer") {
    sluice::plugins::netcat::NetcatSource netcat;
    sdk::HostAccess::setChannelProcessor(netcat, &processor);
    sdk::Context ctx("bench.sources.r1");
    ctx.put("bind", "127.0.0.1");
    ctx.put("port", "0");
    ctx.put("ack-every-event", "false");
    if (auto r = sdk::HostAccess::configure(netcat, ctx); !r)
      return std::fprintf(stderr, "%s\n", r.error().c_str()), 1;
    if (auto r = sdk::HostAccess::start(netcat); !r) return std::fprintf(stderr, "%s\n", r.error().c_str()), 1;
    for (int senders : {1, 8})
      run("netcat source (epoll loop)", netcat.boundPort(), processor, lines, lineBytes, senders,
          sluice::plugins::netcat::NetcatSource::kThreadName);
    (void)sdk::HostAccess::stop(netcat);
  }
#endif
  return 0;
}
