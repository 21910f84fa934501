// Benchmark load generator (not a test): sends N newline-terminated lines of a given length to
// host:port over one TCP connection, as fast as the socket takes them, then closes.
//
//   line_sender <host> <port> <lines> <line-bytes-without-newline>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: line_sender <host> <port> <lines> <line-bytes>\n");
    return 2;
  }
  long long lines = std::atoll(argv[3]);
  int len = std::atoi(argv[4]);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  inet_pton(AF_INET, argv[1], &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("connect");
    return 1;
  }
  // One buffer of whole lines, each "<12-digit counter>xxxx...\n", rewritten per chunk.
  const int perChunk = 8192;
  std::string chunk;
  chunk.reserve(static_cast<size_t>(perChunk) * (len + 1));
  long long sent = 0;
  while (sent < lines) {
    chunk.clear();
    for (int i = 0; i < perChunk && sent < lines; ++i, ++sent) {
      char num[32];
      int n = std::snprintf(num, sizeof num, "%012lld", sent);
      chunk.append(num, static_cast<size_t>(n));
      chunk.append(static_cast<size_t>(len > n ? len - n : 0), 'x');
      chunk.push_back('\n');
    }
    const char* p = chunk.data();
    size_t left = chunk.size();
    while (left > 0) {
      ssize_t w = write(fd, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        std::perror("write");
        return 1;
      }
      p += w;
      left -= static_cast<size_t>(w);
    }
  }
  close(fd);
  return 0;
}
