#include "core/monitoring/udp_reporter.hpp"
#include "plugins/common/text_util.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace sluice::core::monitoring {

std::string UdpTarget::str() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

UdpReporter::UdpReporter(UdpReporterOptions options, Provider provider, Render render, Sent sent,
                         std::shared_ptr<spdlog::logger> log)
    : options_(std::move(options)),
      provider_(std::move(provider)),
      render_(std::move(render)),
      sent_(std::move(sent)),
      log_(std::move(log)) {}

UdpReporter::~UdpReporter() { stop(); }

sdk::Result UdpReporter::start() {
  if (thread_.joinable()) return sdk::Result::success();
  std::string where;
  for (const UdpTarget& t : options_.targets) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(t.port);
    if (int rc = ::getaddrinfo(t.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      closeAll();
      return sdk::Result::failure(options_.hostKey + ": cannot resolve '" + t.host +
                                  "': " + ::gai_strerror(rc));
    }
    Socket s;
    std::string err;
    for (addrinfo* a = res; a && s.fd < 0; a = a->ai_next) {
      s.fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (s.fd < 0) {
        err = plugins::text::errnoText(errno);
        continue;
      }
      // Connected UDP: send() needs no address, and an ICMP "port unreachable" shows as an error.
      if (::connect(s.fd, a->ai_addr, a->ai_addrlen) != 0) {
        err = plugins::text::errnoText(errno);
        ::close(s.fd);
        s.fd = -1;
      }
    }
    ::freeaddrinfo(res);
    if (s.fd < 0) {
      closeAll();
      return sdk::Result::failure("monitoring: " + options_.name + " " + t.str() + ": " + err);
    }
    sockets_.push_back(s);
    where += (where.empty() ? "" : ", ") + t.str();
  }
  stop_ = false;
  thread_ = std::thread([this] { run(); });
  if (log_)
    log_->info("monitoring: pushing {} metrics to {} (udp) every {} ms", options_.name, where,
               options_.interval.count());
  return sdk::Result::success();
}

void UdpReporter::stop() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  closeAll();
}

void UdpReporter::closeAll() {
  for (Socket& s : sockets_)
    if (s.fd >= 0) ::close(s.fd);
  sockets_.clear();
}

void UdpReporter::run() {
  std::unique_lock lock(mutex_);
  bool first = options_.pushAtStart;
  while (!stop_) {
    if (!first) cv_.wait_for(lock, options_.interval, [&] { return stop_; });
    first = false;
    lock.unlock();
    pushOnce();
    lock.lock();
  }
}

void UdpReporter::pushOnce() {
  Snapshot s;
  // The agent may be busy (a reload, or the HTTP server reading it this instant): retry briefly,
  // else skip this push; counters are cumulative, so the next push carries the increments.
  bool got = false;
  for (int attempt = 0; attempt < 20 && !got; ++attempt) {
    got = provider_ && provider_(s);
    if (!got) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!got) return;
  const std::vector<std::string> datagrams = render_(s);
  bool allSent = true;
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    Socket& sock = sockets_[i];
    const UdpTarget& target = options_.targets[i];
    bool ok = true;
    for (const std::string& d : datagrams) {
      if (::send(sock.fd, d.data(), d.size(), MSG_NOSIGNAL) >= 0) continue;
      if (!sock.failing && log_)
        log_->warn("monitoring: cannot send {} metrics to {}: {}", options_.name, target.str(),
                   plugins::text::errnoText(errno));
      ok = false;
      break;  // a refused first datagram, the usual failure: the rest would fail too
    }
    if (ok && sock.failing && log_)
      log_->info("monitoring: {} metrics are sent to {} again", options_.name, target.str());
    sock.failing = !ok;
    allSent = allSent && ok;
  }
  if (sent_) sent_(allSent);
}

}  // namespace sluice::core::monitoring
