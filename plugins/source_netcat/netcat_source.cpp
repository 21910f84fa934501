#include "netcat_source.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>
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
#include "netcat_lines.hpp"
#include "source_put.hpp"
#include "text_util.hpp"

namespace sluice::plugins::netcat {

namespace {

constexpr int64_t kMaxLineLengthLimit = int64_t{64} * 1024 * 1024;

// A reply line must stay one line whatever the channel's error text holds.
std::string oneLine(std::string s) {
  for (char& ch : s)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return s;
}

// Where a line of the batch being built lies in the bytes being consumed, so the events are
// made in one loop per batch.
struct Span {
  std::size_t offset;  // in the data, or kKeptHead: the body is the worker's keptHead
  std::size_t length;
};

// Per I/O thread, reused by every connection of that thread.
struct Scratch {
  sdk::EventBatch batch;  // the processor leaves it empty with its capacity
  std::vector<Span> spans;
  std::string keptHead;  // see NetcatSession::consume()
};

// What every session of the running source shares. Lives from start() to stop().
class NetcatProtocol final : public net::Protocol {
 public:
  NetcatProtocol(NetcatSource& source, const NetcatSettings& s, std::size_t workers)
      : log(source.logger()),
        counter(source.sourceCounter()),
        processor(source.getChannelProcessor()),
        settings(s),
        scratch(workers) {
    for (Scratch& w : scratch) {
      w.batch.reserve(s.batchSize);
      w.spans.reserve(s.batchSize);
    }
  }

  std::unique_ptr<net::Session> open(net::Connection& c) override;

  sdk::Logger& log;
  sdk::SourceCounter& counter;
  sdk::ChannelProcessor& processor;
  const NetcatSettings& settings;
  std::vector<Scratch> scratch;  // [Connection::worker()]
  net::ThrottledLog refuseLog{log, sdk::LogLevel::warn, std::chrono::seconds(1)};
  net::LogThrottle truncateLog{std::chrono::seconds(10)};
};

// One client connection; its callbacks run on the connection's I/O thread only.
class NetcatSession final : public net::Session {
 public:
  explicit NetcatSession(NetcatProtocol& p) : p_(p), splitter_(p.settings.maxLineLength) {}

  net::Step onData(net::Connection& c, std::string_view data) override {
    if (!pending_.empty() && !retry(c)) return net::Step::hold(0, backoff_);
    Scratch& w = p_.scratch[c.worker()];
    bool held = false;
    const std::size_t keep = consume(c, w, data, held);
    return held ? net::Step::hold(keep, backoff_) : net::Step::read(keep);
  }

  void onClose(net::Connection& c, net::CloseReason why) noexcept override {
    const std::string_view rest = c.unconsumed();
    if (!pending_.empty()) {
      // The refused batch and the complete lines read after it were never accepted.
      const auto n = static_cast<int64_t>(pending_.size()) +
                     static_cast<int64_t>(std::count(rest.begin(), rest.end(), '\n'));
      p_.counter.add(NetcatSource::kPendingLineDroppedCount, n);
      p_.log.warn("dropping ", n, " lines from ", c.peer(),
                  " that the channels never accepted (", net::nameOf(why), ")");
      pending_.clear();
      return;
    }
    // A connection that ends in the middle of a line: that line is dropped, as Flume does.
    if (rest.empty() && !splitter_.skipping()) return;
    p_.counter.increment(NetcatSource::kPartialLineDroppedCount);
    p_.log.debug(c.peer(), " closed in the middle of a line; dropped ", rest.size(), " bytes");
  }

 private:
  // Turns the complete lines of data into events and hands them over in batches. Returns how
  // many bytes are done with: up to the unfinished last line, or, when the channels refused a
  // batch and acks are off (held = true), up to the end of that batch, which is now in pending_.
  std::size_t consume(net::Connection& c, Scratch& w, std::string_view data, bool& held) {
    int64_t truncated = 0;
    const std::size_t keep = splitBatches(
        splitter_, data.data(), data.size(), p_.settings.batchSize,
        [&](const lines::Line& l, std::size_t at) {
          if (l.truncated) {
            p_.counter.increment(NetcatSource::kLineTruncatedCount);
            ++truncated;
          }
          // The kept prefix changes when the next over-long line starts, which may be before
          // the batch is delivered (rare: only the end of an over-long line comes here).
          if (at == kKeptHead) w.keptHead.assign(l.body);
          w.spans.push_back(Span{at, l.body.size()});
        },
        [&](std::size_t) {
          if (deliver(c, w, data.data())) return true;
          held = true;
          return false;
        });
    // Logged per read, not per line, and at most once per interval: a client sending only
    // over-long lines must not flood the log (LineTruncatedCount has the exact number).
    int64_t suppressed = 0;
    if (truncated > 0 && p_.truncateLog.admit(&suppressed, truncated))
      p_.log.warn("truncated ", truncated, " line(s) from ", c.peer(), " to max-line-length (",
                  p_.settings.maxLineLength, " bytes)", net::suppressedNote(suppressed));
    return keep;
  }

  // Makes the events of the lines in w.spans (which lie in data) and hands them to the channels.
  // False when the batch was refused and the connection must be held.
  bool deliver(net::Connection& c, Scratch& w, const char* data) {
    for (const Span& s : w.spans) w.batch.emplace_back(std::string(bodyOf(w, s, data), s.length));
    const auto n = static_cast<int64_t>(w.batch.size());
    const sdk::Result r = sources::putBatch(p_.processor, p_.counter, w.batch);
    if (r) {
      if (p_.settings.ackEveryEvent)
        for (int64_t i = 0; i < n; ++i) c.send("OK\n");
      w.spans.clear();
      return true;
    }
    if (p_.settings.ackEveryEvent) {
      const std::string reply = "FAILED: " + oneLine(r.error()) + "\n";
      for (int64_t i = 0; i < n; ++i) c.send(reply);
      w.spans.clear();
      p_.refuseLog.emit("channels refused ", n, " lines from ", c.peer(), ": ", r.error(),
                        "; replied FAILED");
      return true;
    }
    // Hold: the refused lines, rebuilt from the data (the only copy, and only here).
    pending_.reserve(w.spans.size());
    for (const Span& s : w.spans)
      pending_.emplace_back().body.assign(bodyOf(w, s, data), s.length);
    w.spans.clear();
    backoff_ = NetcatSource::kRetryMin;
    p_.refuseLog.emit("channels refused ", n, " lines from ", c.peer(), ": ", r.error(),
                      "; holding the connection and retrying");
    return false;
  }

  static const char* bodyOf(const Scratch& w, const Span& s, const char* data) noexcept {
    return s.offset == kKeptHead ? w.keptHead.data() : data + s.offset;
  }

  // Offers the held batch again. True when the channels took it.
  bool retry(net::Connection& c) {
    sdk::EventBatch& batch = p_.scratch[c.worker()].batch;
    for (const sdk::Event& e : pending_) batch.push_back(e.clone());
    p_.counter.incrementAppendBatchReceivedCount();
    const sdk::Result r = p_.processor.processEventBatch(batch);
    batch.clear();
    if (!r) {
      p_.counter.incrementChannelWriteFail();
      backoff_ = std::min(backoff_ * 2, NetcatSource::kRetryMax);
      return false;
    }
    p_.counter.addToEventAcceptedCount(static_cast<int64_t>(pending_.size()));
    p_.counter.incrementAppendBatchAcceptedCount();
    pending_.clear();
    p_.log.debug("channels accepted the held lines from ", c.peer(), "; reading again");
    return true;
  }

  NetcatProtocol& p_;
  // Keeps the first max-line-length bytes of an over-long line whose newline has not arrived;
  // the bytes in between are consumed (discarded) as they come.
  lines::LineSplitter splitter_;
  sdk::EventBatch pending_;  // held: the refused batch, retried until the channels take it
  std::chrono::milliseconds backoff_{0};
};

std::unique_ptr<net::Session> NetcatProtocol::open(net::Connection& c) {
  log.debug("connection from ", c.peer());
  return std::make_unique<NetcatSession>(*this);
}

}  // namespace

const sdk::Schema& netcatSourceSchema() {
  static const sdk::Schema schema = net::withKeys(
      {
          net::bindKey(),
          net::portKey(),
          sdk::Key("max-line-length")
              .integer()
              .def("512")
              .range(1, static_cast<double>(kMaxLineLengthLimit))
              .doc("Longest event body in bytes; a longer line is truncated to it and counted"),
          sdk::Key("ack-every-event")
              .boolean()
              .def("true")
              .doc("Reply OK (or FAILED: reason) to the client for every line"),
          sdk::Key("batchSize")
              .integer()
              .def("100")
              .range(1, 1000000)
              .doc("Lines of one read handed to the channels per transaction"),
          net::maxConnectionsKey(),
          net::idleTimeoutKey(),
          net::threadsKey("one per two cores, at most 4: a line costs its I/O thread less "
                          "than the sink's write of it, and the sink needs the other core"),
          sdk::Key("encoding")
              .flumeIgnored("line bytes are passed through unchanged; sluice does not transcode"),
      },
      net::tlsServerKeys(), net::ipFilterKeys());
  return schema;
}

NetcatSource::NetcatSource() {
  counter_layout::addInOrder(
      sourceCounter(), kLineTruncatedCount,
      {"LineTruncatedCount", "PartialLineDroppedCount", "ConnectionRejectedCount",
       "ConnectionIdleClosedCount", "PendingLineDroppedCount", "ConnectionDeniedCount",
       "TlsHandshakeFailCount"},
      "netcat source");
  // The layer counts into these as well (bound once: the listener keeps them across restarts).
  net::Stats& st = service_.stats();
  st.bind(net::Stat::Open, sourceCounter(), sdk::SourceCounter::OpenConnectionCount);
  st.bind(net::Stat::Rejected, sourceCounter(), kConnectionRejectedCount);
  st.bind(net::Stat::Denied, sourceCounter(), kConnectionDeniedCount);
  st.bind(net::Stat::IdleClosed, sourceCounter(), kConnectionIdleClosedCount);
  st.bind(net::Stat::TlsFailed, sourceCounter(), kTlsHandshakeFailCount);
  st.bind(net::Stat::Errors, sourceCounter(), sdk::SourceCounter::GenericProcessingFail);
}

NetcatSource::~NetcatSource() { stop(); }

void NetcatSource::configure(const sdk::Context& context) {
  NetcatSettings s;
  s.bind = text::trimmed(context.requireString("bind"));

  s.port = static_cast<int>(requireInteger(context, "port"));
  s.maxLineLength = static_cast<std::size_t>(requireInteger(context, "max-line-length"));
  s.ackEveryEvent = requireBoolean(context, "ack-every-event");
  s.batchSize = static_cast<std::size_t>(requireInteger(context, "batchSize"));
  s.maxConnections = static_cast<std::size_t>(requireInteger(context, "max-connections"));
  s.idleTimeout = std::chrono::seconds(requireInteger(context, "idleTimeout"));
  s.threads = static_cast<std::size_t>(requireInteger(context, "threads"));
  if (s.threads == 0) s.threads = net::IoPool::halfCoreThreads();
  s.tls = net::configureTls(context, net::TlsRole::Server);
  s.ipFilter = net::configureIpFilter(context);
  if (context.containsKey("encoding")) {
    const std::string enc = text::lower(context.getString("encoding", ""));
    if (enc != "utf-8" && enc != "utf8")
      logger().warn(context.describe("encoding"), ": '", context.getString("encoding", ""),
                    "' is ignored; line bytes are passed through unchanged");
  }
  settings_ = std::move(s);
  configured_ = true;
}

void NetcatSource::start() {
  if (service_.running()) return;
  if (!configured_) throw std::logic_error("netcat source started before configure()");
  net::ListenerOptions o;
  o.bind = settings_.bind;
  o.port = settings_.port;
  o.maxConnections = settings_.maxConnections;
  o.idleTimeout = settings_.idleTimeout;
  o.readChunkBytes = kReadBufferBytes;
  // What the session leaves unconsumed: the unfinished last line (at most max-line-length + 1
  // bytes), or while held the rest of one read.
  o.maxBufferedInputBytes =
      std::max<std::size_t>(o.maxBufferedInputBytes, kReadBufferBytes + settings_.maxLineLength + 1);
  o.maxPendingOutputBytes = kMaxPendingReplyBytes;
  // Replies are small; without TCP_NODELAY, Nagle plus the client's delayed ACK would add up to
  // 40 ms to every acknowledged line.
  o.noDelay = settings_.ackEveryEvent;
  o.tls = settings_.tls;
  o.ipFilter = settings_.ipFilter;
  const sdk::Result r =
      service_.start(kThreadName, settings_.threads, o, logger(), [this](std::size_t ioThreads) {
        return std::make_unique<NetcatProtocol>(*this, settings_, ioThreads);
      });
  if (!r) throw std::runtime_error(r.error());
  logger().info("listening on ", service_.address(), o.tls ? " (TLS)" : "");
}

void NetcatSource::stop() {
  if (!service_.running()) return;
  service_.stop();
  sourceCounter().setOpenConnectionCount(0);
  logger().info("stopped");
}

}  // namespace sluice::plugins::netcat
