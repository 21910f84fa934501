#pragma once
// Flume's HTTPSource (type http): an HTTP/1.1 server (plugins/common/http on the network layer)
// whose handler turns each request into events. One request is one put transaction: the answer
// is 200 only after the channels committed its events; 400 when the handler finds the input
// malformed and 500 when it fails otherwise (nothing put, EventReadFail); 503 when the channels
// refuse the batch (nothing put, ChannelWriteFail: the client sends it again); 413 for a body
// over maxBodyBytes (not read). POST, GET and HEAD reach the handler as in Flume; TRACE and
// OPTIONS are answered 403 as Flume's constraints do, other methods 405. README.md has the keys.
//
// Threads: requests are handled on the listener's I/O threads (a pool of up to 4), each with a
// reused batch; the handler is shared by them (see http_source_handler.hpp).

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "http/http_server.hpp"
#include "http_source_handler.hpp"
#include "net/log_throttle.hpp"
#include "net/tcp_service.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::plugins::http_source {

// The keys this source accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& httpSourceSchema();

// A built-in handler by its Flume class name (or short name); null for an unknown one.
std::unique_ptr<HttpSourceHandler> makeHandler(const std::string& type);

class HttpSource final : public sdk::EventDrivenSource, private http::Handler {
 public:
  // Counters this source adds to its SourceCounter, after Flume's (the constructor checks the
  // indices).
  enum : std::size_t {
    kConnectionRejectedCount = sdk::SourceCounter::GenericProcessingFail + 1,
    kConnectionIdleClosedCount,
    kConnectionDeniedCount,
    kTlsHandshakeFailedCount,
    kRequestTimedOutCount,
    kMalformedRequestCount,
    kRequestTooLargeCount,
    kRequestRefusedCount,
  };

  HttpSource();
  ~HttpSource() override;

  void configure(const sdk::Context& context) override;
  // Binds and listens; throws naming the address when it cannot. A second start() does nothing.
  void start() override;
  // Stops accepting, answers what is in flight (a request still arriving gets 503) and closes
  // every connection. Safe to repeat.
  void stop() override;

  // The bound port (the system's choice for port 0); 0 when stopped.
  uint16_t boundPort() const noexcept { return service_.port(); }
  HttpSourceHandler& handler() noexcept { return *handler_; }

 private:
  // http::Handler, on the I/O threads.
  bool onHead(const http::Request& head, http::Response& res, http::BodyPolicy& body) override;
  void onRequest(http::Request& req, http::Response& res) override;

  struct Worker {
    sdk::EventBatch batch;
    std::vector<HttpHeaderView> headers;
  };

  net::ListenerOptions listen_;
  http::ServerOptions http_;
  std::shared_ptr<HttpSourceHandler> handler_;  // built in, or a plugin the host made
  std::string handlerType_;

  // Declared before service_, which uses them until it stops (members go in reverse order).
  std::vector<Worker> workers_;  // [Connection::worker()]
  std::unique_ptr<net::ThrottledLog> badRequestLog_, channelFullLog_;
  net::TcpService service_;
};

}  // namespace sluice::plugins::http_source
