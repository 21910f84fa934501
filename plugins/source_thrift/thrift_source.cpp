#include "thrift_source.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config_keys.hpp"
#include "counter_layout.hpp"
#include "listener.hpp"
#include "net/io_pool.hpp"
#include "net/ip_filter.hpp"
#include "net/keys.hpp"
#include "net/log_throttle.hpp"
#include "net/tls.hpp"
#include "source_put.hpp"
#include "text_util.hpp"
#include "thrift/keys.hpp"

namespace sluice::plugins::thrift_source {

namespace rpc = sluice::plugins::thrift;
using std::chrono::milliseconds;

namespace {

constexpr std::size_t kKeepBatchEvents = 10000;  // a larger reused batch is given back
constexpr milliseconds kRetryMin{10};            // the hold after a FAILED, doubling ...
constexpr milliseconds kRetryMax{1000};          // ... up to this

}  // namespace

const sdk::Schema& thriftSourceSchema() {
  static const sdk::Schema schema = net::withKeys(
      {
          net::bindKey(),
          net::portKey(),
          net::threadsKey(),
          rpc::protocolKey(
              "Thrift protocol the clients speak: compact (Flume's default) or binary"),
          rpc::kerberosKey(),
          rpc::kerberosOnlyKey("agent-principal"),
          rpc::kerberosOnlyKey("agent-keytab"),
          sdk::Key("keymanager-type")
              .flumeIgnored("accepted and ignored: Java's KeyManagerFactory algorithm (older "
                            "Flume releases), which OpenSSL has no equivalent of"),
          net::maxConnectionsKey(),
          sdk::Key("max-frame-size")
              .integer()
              .def("16384000")
              .range(1024, static_cast<double>(rpc::kMaxFrameLimit))
              .doc("Largest frame (one request) in bytes; a larger one closes its connection"),
          net::maxBatchSizeKey(),
          net::maxHeadersKey(),
          sdk::Key("frame-timeout")
              .longValue()
              .def("30000")
              .range(0, 3600000)
              .doc("Milliseconds a frame may take to arrive, and replies to be taken; a slower "
                   "connection is closed; 0 means never"),
          net::idleTimeoutKey(),
      },
      net::tlsServerKeys(), net::ipFilterKeys());
  return schema;
}

// ---- the protocol on the network layer ----

// Shared by the sessions of one running source; the per-thread parts are indexed by
// Connection::worker(), so the I/O threads never share a decoder or a batch.
class ThriftServer final : public net::Protocol {
 public:
  ThriftServer(ThriftSource& source, const ThriftSourceSettings& s, std::size_t workers)
      : processor(source.getChannelProcessor()),
        counter(source.sourceCounter()),
        log(source.logger()),
        limits(s.limits),
        badFrameLog(log, sdk::LogLevel::warn, std::chrono::seconds(1)),
        refuseLog(log, sdk::LogLevel::warn, std::chrono::seconds(1)),
        limitLog(log, sdk::LogLevel::warn, std::chrono::seconds(1)),
        timeoutLog(log, sdk::LogLevel::warn, std::chrono::seconds(1)),
        protocolLog(log, sdk::LogLevel::warn, std::chrono::seconds(1)) {
    for (std::size_t i = 0; i < workers; ++i) perThread.push_back(std::make_unique<Worker>(s));
  }

  std::unique_ptr<net::Session> open(net::Connection& c) override;

  struct Worker {
    explicit Worker(const ThriftSourceSettings& s) : decoder(s.protocol, s.limits) {}
    rpc::RequestDecoder decoder;
    sdk::EventBatch batch;  // reused; the processor leaves it empty with its capacity
  };

  sdk::ChannelProcessor& processor;
  sdk::SourceCounter& counter;
  sdk::Logger& log;
  const rpc::ServerLimits limits;
  std::vector<std::unique_ptr<Worker>> perThread;
  net::ThrottledLog badFrameLog;  // malformed frames: the connection is closed
  net::ThrottledLog refuseLog;    // the channels refused a batch: answered FAILED
  net::ThrottledLog limitLog;     // well-formed but refused requests: answered an exception
  net::ThrottledLog timeoutLog;   // frames that stayed incomplete for frame-timeout
  net::ThrottledLog protocolLog;  // clients that speak the other protocol
};

class ThriftSession final : public net::Session {
 public:
  explicit ThriftSession(ThriftServer& server) : s_(server) {}

  net::Step onData(net::Connection& c, std::string_view data) override {
    ThriftServer::Worker& w = *s_.perThread[c.worker()];
    std::size_t pos = 0;
    net::Step step = net::Step::read(0);
    for (bool more = true; more;) {
      std::size_t length = 0;
      const rpc::FrameCheck check =
          rpc::checkFrame(data.substr(pos), s_.limits.maxFrameBytes, &length);
      switch (check) {
        case rpc::FrameCheck::Incomplete:  // the rest stays with the layer
          step = net::Step::read(pos);
          more = false;
          continue;
        case rpc::FrameCheck::TooLarge:
          return badFrame(c, data,
                          "a frame of " + std::to_string(length) + " bytes, over max-frame-size (" +
                              std::to_string(s_.limits.maxFrameBytes) + ")");
        case rpc::FrameCheck::Invalid:
          return badFrame(c, data, rpc::describe(check));
        case rpc::FrameCheck::Complete:
          break;
      }
      const std::string_view payload = data.substr(pos + rpc::kFrameHeaderBytes, length);
      rpc::Request request;
      std::string error;
      if (!w.decoder.decode(payload, w.batch, request, &error))
        return badFrame(c, data, error.empty() ? "a malformed request" : error,
                        request.otherProtocol);
      pos += rpc::kFrameHeaderBytes + length;
      if (request.call == rpc::Request::Call::Refused) {
        refuse(c, w, request);
        continue;
      }
      if (!serve(c, w, request)) {
        // FAILED was answered: read nothing more from this client for a while.
        backoff_ = backoff_.count() == 0 ? kRetryMin : std::min(backoff_ * 2, kRetryMax);
        step = net::Step::hold(pos, backoff_);
        more = false;
        continue;
      }
      backoff_ = milliseconds(0);
    }
    if (w.batch.capacity() > kKeepBatchEvents) sdk::EventBatch().swap(w.batch);
    w.decoder.trim();
    return step;
  }

  void onClose(net::Connection& c, net::CloseReason why) noexcept override {
    if (why == net::CloseReason::PeerClosed && !c.unconsumed().empty()) {
      s_.counter.incrementEventReadFail();
      s_.badFrameLog.emit("the connection from ", c.peer(), " ended in the middle of a frame (",
                          c.unconsumed().size(), " bytes of it received)");
    } else if (why == net::CloseReason::RequestTimeout) {
      s_.timeoutLog.emit("closed the connection from ", c.peer(), ": a frame stayed incomplete ",
                         "for frame-timeout (", c.unconsumed().size(), " bytes of it received)");
    }
  }

 private:
  // Puts the request's events and answers it. False when the channels refused them (answered
  // FAILED).
  bool serve(net::Connection& c, ThriftServer::Worker& w, const rpc::Request& request) {
    const auto n = w.batch.size();
    const sdk::Result r = sources::putCall(s_.processor, s_.counter, w.batch,
                                           request.call == rpc::Request::Call::Append);
    if (!r)
      s_.refuseLog.emit("the channels refused ", n, " events from ", c.peer(), ": ", r.error(),
                        "; answered FAILED");
    reply(c, w.decoder.statusReply(request, r ? rpc::Status::Ok : rpc::Status::Failed));
    return r.ok();
  }

  void refuse(net::Connection& c, ThriftServer::Worker& w, const rpc::Request& request) {
    s_.counter.increment(ThriftSource::kErrorResponseCount);
    s_.limitLog.emit("refused a ", request.method, " call from ", c.peer(), ": ", request.refusal);
    reply(c, w.decoder.exceptionReply(request));
  }

  static void reply(net::Connection& c, std::string_view bytes) {
    if (bytes.empty()) {  // no memory for the reply: the client must not wait for it
      c.close();
      return;
    }
    c.send(bytes);
  }

  net::Step badFrame(net::Connection& c, std::string_view data, const std::string& why,
                     bool otherProtocol = false) {
    s_.counter.incrementEventReadFail();
    // A client in the other protocol is a configuration mismatch, not noise: its own throttle,
    // so that the hint is not crowded out by garbage on the port.
    (otherProtocol ? s_.protocolLog : s_.badFrameLog)
        .emit("closing the connection from ", c.peer(), ": ", why);
    return net::Step::close(data.size());  // nothing kept: onClose has nothing more to count
  }

  ThriftServer& s_;
  milliseconds backoff_{0};
};

std::unique_ptr<net::Session> ThriftServer::open(net::Connection&) {
  return std::make_unique<ThriftSession>(*this);
}

// ---- the component ----

ThriftSource::ThriftSource() {
  sdk::SourceCounter& c = sourceCounter();
  counter_layout::addInOrder(
      c, kConnectionRejectedCount,
      {"ConnectionRejectedCount", "ConnectionDeniedCount", "ConnectionIdleClosedCount",
       "ConnectionTimedOutCount", "ErrorResponseCount"},
      "thrift source");
  // The layer counts into these as well (bound once: the listener keeps them across restarts).
  net::Stats& st = service_.stats();
  st.bind(net::Stat::Open, c, sdk::SourceCounter::OpenConnectionCount);
  st.bind(net::Stat::Rejected, c, kConnectionRejectedCount);
  st.bind(net::Stat::Denied, c, kConnectionDeniedCount);
  st.bind(net::Stat::IdleClosed, c, kConnectionIdleClosedCount);
  st.bind(net::Stat::RequestTimedOut, c, kConnectionTimedOutCount);
  st.bind(net::Stat::WriteTimedOut, c, kConnectionTimedOutCount);
  st.bind(net::Stat::InputOverflow, c, sdk::SourceCounter::EventReadFail);
}

ThriftSource::~ThriftSource() { stop(); }

void ThriftSource::configure(const sdk::Context& context) {
  ThriftSourceSettings s;
  rpc::refuseKerberos(context,
                      "with ssl.client-auth = required to admit only clients with a certificate");
  net::ListenerOptions& o = s.listener;
  o.bind = text::trimmed(context.requireString("bind"));
  o.port = static_cast<int>(requireInteger(context, "port"));
  s.threads = static_cast<std::size_t>(requireInteger(context, "threads"));
  if (s.threads == 0) s.threads = net::IoPool::defaultThreads();

  s.protocol = rpc::configureProtocol(context);

  s.limits.maxFrameBytes = static_cast<std::size_t>(requireInteger(context, "max-frame-size"));
  s.limits.maxBatchEvents = static_cast<std::size_t>(requireInteger(context, "max-batch-size"));
  s.limits.maxHeaders = static_cast<std::size_t>(requireInteger(context, "max-headers"));
  o.maxConnections = static_cast<std::size_t>(requireInteger(context, "max-connections"));
  // The layer keeps an unfinished frame: it must hold the largest one.
  o.maxBufferedInputBytes = s.limits.maxFrameBytes + rpc::kFrameHeaderBytes;
  const milliseconds frameTimeout(requireLong(context, "frame-timeout"));
  o.requestTimeout = frameTimeout;
  o.writeTimeout = frameTimeout;
  o.idleTimeout = std::chrono::seconds(requireInteger(context, "idleTimeout"));
  o.tls = net::configureTls(context, net::TlsRole::Server);
  o.ipFilter = net::configureIpFilter(context);
  settings_ = std::move(s);
  configured_ = true;
}

void ThriftSource::start() {
  if (service_.running()) return;
  if (!configured_) throw std::logic_error("thrift source started before configure()");
  const sdk::Result r = service_.start(
      "thrift", settings_.threads, settings_.listener, logger(), [this](std::size_t ioThreads) {
        return std::make_unique<ThriftServer>(*this, settings_, ioThreads);
      });
  if (!r) throw std::runtime_error(r.error());
  logger().info("listening on ", service_.address(), ", ", service_.ioThreads(), " I/O thread(s), ",
                rpc::nameOf(settings_.protocol), " protocol",
                settings_.listener.tls ? ", TLS" : "");
}

void ThriftSource::stop() {
  if (!service_.running()) return;
  service_.stop();
  logger().info("stopped");
}

}  // namespace sluice::plugins::thrift_source
