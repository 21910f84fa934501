// Fuzz target: bytes from a client through one HTTP server session (the http source's and, once
// ported, the monitoring server's request parsing), fed whole and in pieces whose sizes come
// from the input itself, as a slow client would send them. The session must never crash, keep
// its limits, answer only well-formed HTTP/1.x, and reach the same answers however the bytes
// are cut.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/fake_connection.hpp"
#include "http/http_server.hpp"

using namespace sluice::plugins;

namespace {

// Echoes what it saw, so that the answers depend on everything the parser produced.
class EchoHandler final : public http::Handler {
 public:
  bool onHead(const http::Request& head, http::Response& res, http::BodyPolicy& body) override {
    if (head.method == "DELETE") {
      res.status = 405;
      return false;
    }
    body.truncateAt = head.header("x-truncate").empty() ? 0 : 16;
    return true;
  }
  void onRequest(http::Request& req, http::Response& res) override {
    if (req.headers.size() > 8) std::abort();  // maxHeaders below
    if (req.body && req.body->size() > 64) std::abort();
    res.contentType = "text/plain";
    res.body.assign(req.method).append(" ").append(req.path).append("?").append(req.query);
    res.body.append(" ").append(std::to_string(req.bodyBytes)).append(":");
    if (req.body) res.body.append(*req.body);
  }
};

std::string run(std::string_view input, std::size_t piece) {
  EchoHandler handler;
  http::ServerOptions o;
  o.maxHeaderBytes = 512;
  o.maxTargetBytes = 128;
  o.maxHeaders = 8;
  o.maxBodyBytes = 64;
  http::Server server(handler, o, sluice::sdk::NullLogger::instance());
  auto conn = std::make_shared<http::testing::FakeConnection>();
  std::unique_ptr<net::Session> session = server.open(*conn);
  for (std::size_t at = 0; at < input.size(); at += piece)
    if (!http::testing::feed(*session, *conn, input.substr(at, piece))) break;
  if (!conn->closed) session->onClose(*conn, net::CloseReason::PeerClosed);
  // An open connection keeps no more than a head's worth of input (request line and fields are
  // limited one by one).
  if (!conn->closed && conn->kept.size() > 2 * o.maxHeaderBytes + 8) std::abort();
  if (!conn->output.empty() && conn->output.compare(0, 7, "HTTP/1.") != 0) std::abort();
  return conn->output;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string whole = run(text, size == 0 ? 1 : size);
  // Cut into pieces of a size taken from the first byte: the answers must be the same.
  const std::size_t piece = size == 0 ? 1 : 1 + data[0] % 7;
  if (run(text, piece) != whole) std::abort();
  return 0;
}
