#include "avro_source.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
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
#include "net/log_throttle.hpp"
#include "net/tls.hpp"
#include "source_put.hpp"
#include "text_util.hpp"
#include "zlib_stream.hpp"

namespace sluice::plugins::avro_source {

namespace rpc = sluice::plugins::avro;
using std::chrono::milliseconds;

namespace {

// Inflated bytes at once, into a buffer per I/O thread (compression-type = deflate only).
constexpr std::size_t kInflateChunkBytes = std::size_t{64} * 1024;
// Reused per I/O thread; larger than these they are given back after a burst.
constexpr std::size_t kKeepBatchEvents = 10000;
constexpr std::size_t kKeepReplyBytes = std::size_t{64} * 1024;
// The hold after a FAILED, doubling while the channels keep refusing, up to kRetryMax.
constexpr milliseconds kRetryMin{10};
constexpr milliseconds kRetryMax{1000};

}  // namespace

// ---- the protocol on the network layer ----

// Shared by the sessions of one running source; the per-thread parts are indexed by
// Connection::worker(), so the I/O threads never share a batch or a buffer.
class AvroServer final : public net::Protocol {
 public:
  AvroServer(AvroSource& source, const AvroSourceSettings& s, std::size_t workers)
      : processor(source.getChannelProcessor()),
        counter(source.sourceCounter()),
        log(source.logger()),
        limits(s.limits),
        deflate(s.deflate),
        badFrameLog(log, sdk::LogLevel::warn, std::chrono::seconds(1)),
        refuseLog(log, sdk::LogLevel::warn, std::chrono::seconds(1)),
        limitLog(log, sdk::LogLevel::warn, std::chrono::seconds(1)) {
    for (std::size_t i = 0; i < workers; ++i) {
      perThread.push_back(std::make_unique<Worker>());
      if (deflate) perThread.back()->inflated.reset(new char[kInflateChunkBytes]);
    }
  }

  std::unique_ptr<net::Session> open(net::Connection& c) override;

  struct Worker {
    sdk::EventBatch batch;  // reused; the processor leaves it empty with its capacity
    std::string reply;      // the answer being built
    std::string wire;       // deflate: the compressed answer
    std::unique_ptr<char[]> inflated;
  };

  sdk::ChannelProcessor& processor;
  sdk::SourceCounter& counter;
  sdk::Logger& log;
  const rpc::RpcLimits limits;
  const bool deflate;
  rpc::KnownClientProtocols known;
  std::vector<std::unique_ptr<Worker>> perThread;
  net::ThrottledLog badFrameLog;  // malformed frames: the connection is closed
  net::ThrottledLog refuseLog;    // the channels refused a batch: answered FAILED
  net::ThrottledLog limitLog;     // well-formed but refused requests: answered an error
};

class AvroSession final : public net::Session {
 public:
  explicit AvroSession(AvroServer& server) : s_(server), frames_(server.limits) {}

  // Takes every byte: a frame's payload is reassembled by the FrameDecoder (which a deflate
  // stream needs anyway), so the layer keeps nothing.
  net::Step onData(net::Connection& c, std::string_view data) override {
    AvroServer::Worker& w = *s_.perThread[c.worker()];
    refused_ = false;
    try {
      if (!s_.deflate) {
        feedFrames(c, w, data.data(), data.size());
      } else if (!bad_) {
        const char* error = nullptr;
        const bool ok = inflater_.feed(
            data.data(), data.size(), w.inflated.get(), kInflateChunkBytes,
            [&](const char* p, std::size_t n) { return feedFrames(c, w, p, n); }, &error);
        if (!ok) badFrame(c, error);
      }
    } catch (const std::exception& e) {
      w.batch.clear();
      s_.counter.incrementGenericProcessingFail();
      s_.log.error("closing the connection from ", c.peer(), ": ", e.what());
      return net::Step::close(data.size());
    }
    if (w.batch.capacity() > kKeepBatchEvents) sdk::EventBatch().swap(w.batch);
    if (w.reply.capacity() > kKeepReplyBytes) std::string().swap(w.reply);
    if (w.wire.capacity() > kKeepReplyBytes) std::string().swap(w.wire);
    if (bad_) return net::Step::close(data.size());
    frames_.trim(AvroSource::kKeepPayloadBytes);
    if (!refused_) return net::Step::read(data.size());
    // FAILED was answered: read nothing more from this client for a while.
    backoff_ = backoff_.count() == 0 ? kRetryMin : std::min(backoff_ * 2, kRetryMax);
    return net::Step::hold(data.size(), backoff_);
  }

  void onClose(net::Connection& c, net::CloseReason why) noexcept override {
    if (why == net::CloseReason::PeerClosed && !bad_ && frames_.midFrame())
      badFrame(c, "connection closed in the middle of a frame");
  }

 private:
  bool feedFrames(net::Connection& c, AvroServer::Worker& w, const char* data, std::size_t n) {
    if (bad_) return false;
    const rpc::FrameDecoder::Error err = frames_.feed(
        data, n,
        [&](int32_t serial, std::string_view payload) { return onFrame(c, w, serial, payload); });
    if (err != rpc::FrameDecoder::Error::None) badFrame(c, rpc::FrameDecoder::describe(err));
    return !bad_;
  }

  // One request: decoded, its events put, answered. False when the connection is to close.
  bool onFrame(net::Connection& c, AvroServer::Worker& w, int32_t serial,
               std::string_view payload) {
    sdk::SourceCounter& counter = s_.counter;
    std::string& reply = w.reply;
    reply.clear();
    const std::size_t at = rpc::beginFrame(reply);
    rpc::RequestInfo info;
    if (!rpc::decodeRequest(payload, handshaken_, s_.known, s_.limits, reply, w.batch, info)) {
      w.batch.clear();
      badFrame(c, info.problem);
      return false;
    }
    if (info.hadHandshake) {
      counter.increment(AvroSource::kHandshakeCount);
      if (info.match == rpc::HandshakeMatch::None)
        counter.increment(AvroSource::kHandshakeNoneCount);
      s_.log.debug("handshake with ", c.peer(), ": ", rpc::nameOf(info.match));
    }
    switch (info.kind) {
      case rpc::RequestKind::HandshakeRefused:
      case rpc::RequestKind::Ping:
        break;
      case rpc::RequestKind::Append:
      case rpc::RequestKind::AppendBatch:
        serve(c, w, info.kind == rpc::RequestKind::Append);
        break;
      case rpc::RequestKind::Unknown:
        counter.increment(AvroSource::kErrorResponseCount);
        rpc::appendErrorResponse(reply, "No such message: " + std::string(info.message));
        break;
      case rpc::RequestKind::TooLarge: {
        w.batch.clear();
        counter.increment(AvroSource::kErrorResponseCount);
        const std::string why = std::string(info.problem) + " (max-batch-size " +
                                std::to_string(s_.limits.maxBatchEvents) + ", max-headers " +
                                std::to_string(s_.limits.maxHeaders) + ")";
        rpc::appendErrorResponse(reply, why);
        s_.limitLog.emit("refused a request from ", c.peer(), ": ", why);
        break;
      }
    }
    rpc::finishFrame(reply, at, serial);
    if (!s_.deflate) {
      c.send(reply);
      return true;
    }
    w.wire.clear();
    if (!deflater_.compress(reply.data(), reply.size(), w.wire)) {
      badFrame(c, "deflate failed");
      return false;
    }
    c.send(w.wire);
    return true;
  }

  // Puts the request's events and appends its Status to the reply: OK only once committed.
  void serve(net::Connection& c, AvroServer::Worker& w, bool single) {
    const auto n = w.batch.size();
    const sdk::Result r = sources::putCall(s_.processor, s_.counter, w.batch, single);
    rpc::appendStatusResponse(w.reply, r ? rpc::RpcStatus::Ok : rpc::RpcStatus::Failed);
    if (r) {
      backoff_ = milliseconds(0);  // the channels take events again
      return;
    }
    refused_ = true;
    s_.refuseLog.emit("channels refused ", n, " events from ", c.peer(), ": ", r.error(),
                      "; answered FAILED");
  }

  void badFrame(net::Connection& c, const char* why) noexcept {
    if (bad_) return;
    bad_ = true;
    s_.counter.incrementEventReadFail();
    s_.badFrameLog.emit("closing the connection from ", c.peer(), ": ", why);
  }

  AvroServer& s_;
  rpc::FrameDecoder frames_;
  bool handshaken_ = false;
  bool bad_ = false;      // a protocol error was found: the connection closes
  bool refused_ = false;  // this call's requests included one the channels refused
  milliseconds backoff_{0};
  zlib_stream::Inflater inflater_;  // compression-type = deflate: one stream each way
  zlib_stream::Deflater deflater_;

  friend class AvroServer;
};

std::unique_ptr<net::Session> AvroServer::open(net::Connection& c) {
  auto session = std::make_unique<AvroSession>(*this);
  // Answers are a few bytes each: a small window and memory level keep the per-connection
  // state at a few KiB.
  if (deflate && (!session->inflater_.init() || !session->deflater_.init(6, 9, 1))) {
    log.error("closing the connection from ", c.peer(), ": zlib initialisation failed");
    return nullptr;
  }
  return session;
}

// ---- the component ----

AvroSource::AvroSource() {
  sdk::SourceCounter& c = sourceCounter();
  counter_layout::addInOrder(
      c, kConnectionRejectedCount,
      {"ConnectionRejectedCount", "ConnectionDeniedCount", "ConnectionIdleClosedCount",
       "HandshakeCount", "HandshakeNoneCount", "ErrorResponseCount"},
      "avro source");
  // The layer counts into these as well (bound once: the listener keeps them across restarts).
  net::Stats& st = service_.stats();
  st.bind(net::Stat::Open, c, sdk::SourceCounter::OpenConnectionCount);
  st.bind(net::Stat::Rejected, c, kConnectionRejectedCount);
  st.bind(net::Stat::Denied, c, kConnectionDeniedCount);
  st.bind(net::Stat::IdleClosed, c, kConnectionIdleClosedCount);
  // A client that is not TLS or fails the handshake is a bad frame, as it always was.
  st.bind(net::Stat::TlsFailed, c, sdk::SourceCounter::EventReadFail);
}

AvroSource::~AvroSource() { stop(); }

namespace {

// ssl = true: the layer's server context from the shared TLS keys. Two messages keep the
// spellings this source always had: ssl without any certificate names `keystore` (Flume's key),
// and a key store that does not open with its password names the store.
std::shared_ptr<const net::TlsContext> configureServerTls(const sdk::Context& context) {
  const std::optional<net::TlsOptions> o = net::readTlsOptions(context, net::TlsRole::Server);
  if (!o) return nullptr;
  if (o->keystore.empty() && o->certificate.empty())
    context.fail("keystore", "is required when ssl = true");
  net::TlsError error;
  auto ctx = net::makeTlsContext(*o, net::TlsRole::Server, &error);
  if (!ctx) {
    if (error.key == o->names.keystorePassword) error.key = o->names.keystore;
    context.fail(error.key, error.message);
  }
  return ctx;
}

}  // namespace

void AvroSource::configure(const sdk::Context& context) {
  AvroSourceSettings s;
  net::ListenerOptions& o = s.listener;
  o.bind = text::trimmed(context.requireString("bind"));
  o.port = static_cast<int>(requireInteger(context, "port"));
  s.threads = static_cast<std::size_t>(requireInteger(context, "threads"));
  if (s.threads == 0) s.threads = net::IoPool::defaultThreads();
  s.deflate = text::lower(text::trimmed(requireValue(context, "compression-type"))) == "deflate";

  s.limits.maxFrameBytes = static_cast<std::size_t>(requireInteger(context, "max-frame-size"));
  s.limits.maxBatchEvents = static_cast<std::size_t>(requireInteger(context, "max-batch-size"));
  s.limits.maxHeaders = static_cast<std::size_t>(requireInteger(context, "max-headers"));
  o.maxConnections = static_cast<std::size_t>(requireInteger(context, "max-connections"));
  o.idleTimeout = std::chrono::seconds(requireInteger(context, "idleTimeout"));
  o.maxPendingOutputBytes = kMaxPendingReplyBytes;
  o.tls = configureServerTls(context);
  o.ipFilter = net::configureIpFilter(context);
  settings_ = std::move(s);
  configured_ = true;
}

void AvroSource::start() {
  if (service_.running()) return;
  if (!configured_) throw std::logic_error("avro source started before configure()");
  const sdk::Result r = service_.start(
      "avro", settings_.threads, settings_.listener, logger(), [this](std::size_t ioThreads) {
        return std::make_unique<AvroServer>(*this, settings_, ioThreads);
      });
  if (!r) throw std::runtime_error(r.error());
  logger().info("listening on ", service_.address(), ", ", service_.ioThreads(), " I/O thread(s)",
                settings_.listener.tls ? ", TLS" : "",
                settings_.deflate ? ", compression-type deflate" : "");
}

void AvroSource::stop() {
  if (!service_.running()) return;
  service_.stop();
  logger().info("stopped");
}

}  // namespace sluice::plugins::avro_source
