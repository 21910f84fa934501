#pragma once
// Flume's HttpSink (type http): POSTs the body of each event to an HTTP or HTTPS endpoint, one
// event per request and per transaction, as Flume does, over a kept-alive connection
// (plugins/common/http's Client on the network layer's TcpClient). What the answer's status
// does is configured per status code and class, with Flume's keys and precedence: the event is
// committed or rolled back (rollback.*), the runner backs off or goes on (backoff.*), and
// EventDrainSuccessCount counts it or not (incrementMetrics.*). An I/O failure (refused, timed
// out, a malformed answer) always rolls the event back. README.md has the keys.
//
// Threads: process() runs on the sink's runner thread, which drives the client; nothing else.

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "http/http_client.hpp"
#include "net/log_throttle.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/sink.hpp"

namespace sluice::plugins::http_sink {

// The keys this sink accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& httpSinkSchema();

// Flume's per-status overrides: the most specific of "503", "5XX" and the default decides.
struct StatusPolicy {
  bool defaultBackoff = true;
  bool defaultRollback = true;
  bool defaultIncrementMetrics = false;
  std::map<std::string, bool> backoff, rollback, incrementMetrics;  // key: "503" or "5XX"

  struct Decision {
    bool backoff, rollback, incrementMetrics;
    std::string rollbackRule, backoffRule;  // the key that decided, e.g. "rollback.5XX"
  };
  Decision decide(int status) const;
};

class HttpSink final : public sdk::AbstractSink {
 public:
  // Counters this sink adds to its SinkCounter, after Flume's (the constructor checks them).
  enum : std::size_t {
    kEventRolledBackCount = sdk::SinkCounter::ChannelReadFail + 1,
    kEventDroppedCount,
    kEmptyEventCount,
  };

  HttpSink();
  ~HttpSink() override;

  void configure(const sdk::Context& context) override;
  void start() override;  // connects lazily, on the first event
  void stop() override;   // closes the connection; safe to repeat
  sdk::Status process() override;

  const StatusPolicy& policy() const noexcept { return policy_; }
  const http::Url& url() const noexcept { return url_; }

 private:
  http::Url url_;
  http::ClientOptions client_;
  StatusPolicy policy_;
  std::unique_ptr<http::Client> http_;
  std::unique_ptr<net::ThrottledLog> answerLog_;
};

}  // namespace sluice::plugins::http_sink
