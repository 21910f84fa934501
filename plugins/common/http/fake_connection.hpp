#pragma once
// For tests and the fuzz target only: a net::Connection without a socket, and a driver that
// plays the network layer's part for one Session (keeps what onData did not consume, offers it
// again in front of the next bytes, stops at Next::Close). Lets a protocol session be exercised
// byte by byte, deterministically, without threads.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "net/tcp_listener.hpp"

namespace sluice::plugins::http::testing {

class FakeConnection final : public net::Connection,
                             public std::enable_shared_from_this<FakeConnection> {
 public:
  std::string output;  // everything sent
  bool closed = false;
  bool inRequest = false;
  std::string kept;  // unconsumed input

  void send(std::string_view bytes) override { output.append(bytes); }
  std::size_t pendingOutput() const noexcept override { return 0; }
  void resume() noexcept override {}
  void setInRequest(bool v) noexcept override { inRequest = v; }
  void close() noexcept override { closed = true; }
  std::string_view unconsumed() const noexcept override { return kept; }
  const std::string& peer() const noexcept override { return peer_; }
  const std::string& peerIp() const noexcept override { return ip_; }
  uint16_t localPort() const noexcept override { return 8080; }
  std::size_t worker() const noexcept override { return 0; }
  bool tls() const noexcept override { return false; }
  std::weak_ptr<Connection> handle() noexcept override { return weak_from_this(); }

 private:
  std::string peer_ = "127.0.0.1:40000";
  std::string ip_ = "127.0.0.1";
};

// Feeds `bytes` to the session as the layer would; false once the session closed the
// connection (the rest of the input is then ignored).
inline bool feed(net::Session& s, FakeConnection& c, std::string_view bytes) {
  if (c.closed) return false;
  c.kept.append(bytes);
  for (int rounds = 0; rounds < 1000; ++rounds) {
    const std::string data = c.kept;  // the session may look at unconsumed() meanwhile
    const net::Step step = s.onData(c, data);
    const std::size_t consumed = std::min(step.consumed, data.size());
    c.kept.erase(0, consumed);
    if (step.next == net::Next::Close || c.closed) {
      c.closed = true;
      s.onClose(c, net::CloseReason::Closed);
      return false;
    }
    // As with maxPendingOutputBytes = 1: kept bytes after an answer are offered again at once
    // (the answer counts as written); otherwise the session waits for more input.
    if (consumed == 0 || c.kept.empty()) return true;
  }
  return true;
}

}  // namespace sluice::plugins::http::testing
