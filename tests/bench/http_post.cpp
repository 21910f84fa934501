// A load client for the http source benchmark (scripts/bench.d/http.sh): C connections, each on a
// thread of its own, POST the same body R/C times one after the other over keep-alive, reading
// each answer (status line and Content-Length body) before sending the next request, the way
// an application's HTTP client does. Prints the answers counted by status and the rate.
//
//   http_post HOST PORT REQUESTS CONNECTIONS BODY_FILE [CONTENT_TYPE]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<long> ok{0}, other{0}, failed{0};

// One connection: `n` requests in sequence. Reconnects once if the server closed it.
void run(const sockaddr_in& addr, const std::string& request, long n) {
  int fd = -1;
  std::string buf;
  auto connectNow = [&] {
    if (fd >= 0) ::close(fd);
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    buf.clear();
    return ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  };
  if (!connectNow()) {
    failed += n;
    return;
  }
  char chunk[65536];
  for (long i = 0; i < n; ++i) {
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      ++failed;
      if (!connectNow()) return;
      continue;
    }
    // Read one answer: the head, then Content-Length bytes of body.
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t r = ::recv(fd, chunk, sizeof chunk, 0);
      if (r <= 0) break;
      buf.append(chunk, static_cast<std::size_t>(r));
    }
    if (end == std::string::npos) {
      ++failed;
      if (!connectNow()) return;
      continue;
    }
    std::size_t length = 0;
    const std::size_t cl = buf.find("Content-Length: ");
    if (cl != std::string::npos && cl < end)
      length = std::strtoul(buf.c_str() + cl + 16, nullptr, 10);
    while (buf.size() < end + 4 + length) {
      const ssize_t r = ::recv(fd, chunk, sizeof chunk, 0);
      if (r <= 0) break;
      buf.append(chunk, static_cast<std::size_t>(r));
    }
    const bool is200 = buf.compare(9, 3, "200") == 0;
    (is200 ? ok : other)++;
    buf.erase(0, std::min(buf.size(), end + 4 + length));
  }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s HOST PORT REQUESTS CONNECTIONS BODY_FILE [CONTENT_TYPE]\n",
                 argv[0]);
    return 2;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  if (::inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    std::fprintf(stderr, "not an IPv4 address: %s\n", argv[1]);
    return 2;
  }
  const long requests = std::atol(argv[3]);
  const int connections = std::max(1, std::atoi(argv[4]));
  std::ifstream in(argv[5], std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string body = ss.str();
  const std::string type = argc > 6 ? argv[6] : "application/json";
  const std::string request =
      "POST / HTTP/1.1\r\nHost: " + std::string(argv[1]) + "\r\nContent-Type: " + type +
      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(connections));
  for (int c = 0; c < connections; ++c)
    threads.emplace_back(run, addr, request,
                         requests / connections + (c < requests % connections ? 1 : 0));
  for (auto& t : threads) t.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%ld requests answered 200, %ld otherwise, %ld failed, %.3f s, %.0f requests/s\n",
              ok.load(), other.load(), failed.load(), s, static_cast<double>(ok.load()) / s);
  return other.load() + failed.load() == 0 ? 0 : 1;
}
