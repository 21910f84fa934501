#pragma once
// The protocol layer of the TCP syslog sources (syslogtcp, multiport_syslogtcp) over the network
// layer's TcpListener (plugins/common/net): per connection a framer, per I/O thread a parser and
// a reused event batch. The sources only read their keys and wire this up.
//
// Data path (one onData call): frame messages out of the bytes the layer offers, parse each
// straight into the thread's batch, hand full batches (batchSize) and the last partial one to
// the channels, and tell the layer how far the channels took the bytes. Allocations per message:
// the event's header vector and body (the parser's); counters are added per batch.
//
// Back-pressure: a refused batch is gone (processEventBatch consumes it), so its bytes are kept
// unconsumed and the framer is put back to its state after the last accepted message; the
// connection is held (the layer stops reading it, TCP stalls the sender) and the kept bytes are
// framed and parsed again after a back-off (10 ms doubling to 1 s). Nothing is lost while the
// source runs.
//
// Threads: sessions run on their connection's I/O thread; a worker's parser and batch are used
// only by that thread. Counters are relaxed atomics.
//
// Header-only: a template over the two Flume code paths (Traits: framer, parser, outcome), used
// by plugins that link net_dep and syslog_dep.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/ip_filter.hpp"
#include "net/log_throttle.hpp"
#include "net/tcp_listener.hpp"
#include "sluice/sdk/counters.hpp"
#include "sluice/sdk/source.hpp"
#include "syslog/framer.hpp"
#include "syslog/syslog_common.hpp"

namespace sluice::plugins::syslog {

// What a parse gave, in terms the sources count.
enum class MessageKind { Parsed, Invalid, Incomplete, Undecodable };

// Counters a syslog source adds to its SourceCounter after Flume's. Added in the source's
// constructor (CounterGroup::add keeps names unique), so every source shows the same names.
struct SyslogCounterIds {
  std::size_t invalid, incomplete, framingErrors, partialDropped, pendingDropped, rejected,
      denied, idleClosed, timedOut, tlsFailed;

  explicit SyslogCounterIds(sdk::SourceCounter& c)
      : invalid(c.add("InvalidMessageCount")),
        incomplete(c.add("IncompleteMessageCount")),
        framingErrors(c.add("FramingErrorCount")),
        partialDropped(c.add("PartialMessageDroppedCount")),
        pendingDropped(c.add("PendingMessageDroppedCount")),
        rejected(c.add("ConnectionRejectedCount")),
        denied(c.add("ConnectionDeniedCount")),
        idleClosed(c.add("ConnectionIdleClosedCount")),
        timedOut(c.add("ConnectionTimedOutCount")),
        tlsFailed(c.add("TlsHandshakeFailCount")) {}

  // Makes the listener's connection statistics count into the source's counters.
  void bind(net::Stats& st, sdk::SourceCounter& c) const {
    st.bind(net::Stat::Open, c, sdk::SourceCounter::OpenConnectionCount);
    st.bind(net::Stat::Rejected, c, rejected);
    st.bind(net::Stat::Denied, c, denied);
    st.bind(net::Stat::IdleClosed, c, idleClosed);
    st.bind(net::Stat::RequestTimedOut, c, timedOut);
    st.bind(net::Stat::TlsFailed, c, tlsFailed);
    st.bind(net::Stat::Errors, c, sdk::SourceCounter::GenericProcessingFail);
  }
};

// The layer's "ip" text of a peer as a socket address; false when it is not an address.
inline bool addressOf(const std::string& ip, sockaddr_storage& ss) noexcept {
  ss = sockaddr_storage{};
  if (::inet_pton(AF_INET, ip.c_str(), &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr) == 1) {
    ss.ss_family = AF_INET;
    return true;
  }
  if (::inet_pton(AF_INET6, ip.c_str(), &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr) == 1) {
    ss.ss_family = AF_INET6;
    return true;
  }
  return false;
}

// The peer's address as Java's InetAddress.getHostAddress() prints it (Flume's clientIPHeader).
inline std::string javaAddressOf(const std::string& ip) {
  sockaddr_storage ss;
  return addressOf(ip, ss) ? net::javaHostAddress(ss) : ip;
}

// Java's InetSocketAddress.getHostName() (Flume's clientHostnameHeader): the reverse lookup's
// name, or the address text when there is none. Blocks for the lookup.
inline std::string javaHostNameOf(const std::string& ip) {
  sockaddr_storage ss;
  if (!addressOf(ip, ss)) return ip;
  std::string name = net::reverseLookup(ss);
  return name.empty() ? net::javaHostAddress(ss) : name;
}

struct TcpProtocolOptions {
  FramerOptions framing;
  std::size_t batchSize = 100;
  PeerHeaderNames names;  // clientIPHeader, clientHostnameHeader, portHeader
  std::chrono::milliseconds retryMin{10}, retryMax{1000};
};

template <class Traits>
class TcpSession;

// Traits: Framer (UtilsFramer, LineFramer); Parser; and
//   static MessageKind parse(Parser&, const Message&, int64_t nowMs, int localPort,
//                            const PeerInfo&, sdk::Event& out);
template <class Traits>
class TcpProtocol final : public net::Protocol {
 public:
  using Parser = typename Traits::Parser;
  using ParserFactory = std::function<std::unique_ptr<Parser>()>;

  // workers: the IoPool's size. processor, counter, ids and log outlive the protocol.
  TcpProtocol(sdk::ChannelProcessor& processor, sdk::SourceCounter& counter,
              const SyslogCounterIds& ids, sdk::Logger& log, std::size_t workers,
              TcpProtocolOptions o, const ParserFactory& makeParser)
      : processor_(processor),
        counter_(counter),
        ids_(ids),
        o_(std::move(o)),
        refusedLog_(log, sdk::LogLevel::warn, std::chrono::seconds(10)),
        framingLog_(log, sdk::LogLevel::warn, std::chrono::seconds(10)),
        workers_(workers) {
    o_.batchSize = std::max<std::size_t>(1, o_.batchSize);
    for (Worker& w : workers_) {
      w.parser = makeParser();
      w.batch.reserve(o_.batchSize);
    }
  }

  std::unique_ptr<net::Session> open(net::Connection& c) override {
    return std::make_unique<TcpSession<Traits>>(*this, c);
  }

  // The most input a connection keeps between reads: an unfinished message (plus an octet
  // count), or, while held, one read's worth of refused messages.
  static std::size_t maxKeptBytes(const TcpProtocolOptions& o, std::size_t readChunkBytes) {
    return readChunkBytes + static_cast<std::size_t>(o.framing.eventSize) + 64 * 1024;
  }

 private:
  friend class TcpSession<Traits>;
  struct Worker {
    std::unique_ptr<Parser> parser;
    sdk::EventBatch batch;
  };

  sdk::ChannelProcessor& processor_;
  sdk::SourceCounter& counter_;
  const SyslogCounterIds& ids_;
  TcpProtocolOptions o_;
  net::ThrottledLog refusedLog_, framingLog_;
  std::vector<Worker> workers_;  // [Connection::worker()]
};

template <class Traits>
class TcpSession final : public net::Session {
 public:
  using Framer = typename Traits::Framer;

  TcpSession(TcpProtocol<Traits>& p, net::Connection& c)
      : p_(p), framer_(p.o_.framing), saved_(framer_) {
    const PeerHeaderNames& n = p_.o_.names;
    if (!n.clientIp.empty()) ip_ = javaAddressOf(c.peerIp());
    // Once per connection: Flume looks the name up for every event.
    if (!n.clientHostname.empty()) hostname_ = javaHostNameOf(c.peerIp());
    if (!n.port.empty()) port_ = std::to_string(c.localPort());
  }

  net::Step onData(net::Connection& c, std::string_view data) override {
    auto& w = p_.workers_[c.worker()];
    sdk::EventBatch& batch = w.batch;
    const int64_t now = nowMillis();
    const PeerInfo peer{ip_, hostname_, port_};
    const int localPort = c.localPort();
    batch.clear();             // left over only if a parse threw on another connection
    saved_ = framer_;          // the framer's state at `accepted`
    std::size_t pos = 0;       // bytes framed so far
    std::size_t accepted = 0;  // bytes of the messages the channels took
    for (;;) {
      const FrameStep s = framer_.next(data.substr(pos));
      if (s.kind == FrameStep::Error) {
        // Deliver what came before the bad count first; if refused, hold and come back here.
        if (!batch.empty() && !handOver(batch, c)) return hold(accepted);
        p_.counter_.add(p_.ids_.framingErrors, 1);
        p_.counter_.incrementEventReadFail();
        p_.framingLog_.emit("closing the connection from ", c.peer(), ": ", s.error,
                            " (the stream cannot be read on from there)");
        framer_.reset();
        return net::Step::close(data.size());
      }
      pos += s.consumed;
      if (s.kind == FrameStep::NeedMore) break;
      tally(Traits::parse(*w.parser, s.message, now, localPort, peer, batch.emplace_back()));
      if (batch.size() >= p_.o_.batchSize) {
        if (!handOver(batch, c)) return hold(accepted);
        accepted = pos;
        saved_ = framer_;
      }
    }
    if (!batch.empty() && !handOver(batch, c)) return hold(accepted);
    held_ = false;
    // An unfinished message stays with the layer and comes again in front of the next bytes.
    return net::Step::read(pos);
  }

  void onClose(net::Connection& c, net::CloseReason) noexcept override {
    const std::string_view rest = c.unconsumed();
    if (held_) {
      // Stopped (or closed) while the channels refused these messages: they are dropped.
      const int64_t n = countMessages(rest);
      if (n > 0) p_.counter_.add(p_.ids_.pendingDropped, n);
      return;
    }
    // Ended inside a message: Flume drops the unfinished message too.
    if (framer_.pending() || !rest.empty()) p_.counter_.add(p_.ids_.partialDropped, 1);
  }

 private:
  void tally(MessageKind k) noexcept {
    if (k == MessageKind::Invalid || k == MessageKind::Undecodable)
      ++invalid_;
    else if (k == MessageKind::Incomplete)
      ++incomplete_;
  }

  // Hands the batch to the channels (which consume it). False when they refused it.
  bool handOver(sdk::EventBatch& batch, net::Connection& c) {
    const std::size_t n = batch.size();
    sdk::SourceCounter& k = p_.counter_;
    // A batch built again after a refusal was counted as received then.
    const std::size_t fresh = n - std::min(n, retryCounted_);
    if (fresh) k.addToEventReceivedCount(static_cast<int64_t>(fresh));
    k.incrementAppendBatchReceivedCount();
    const sdk::Result r = p_.processor_.processEventBatch(batch);
    batch.clear();
    if (r) {
      k.addToEventAcceptedCount(static_cast<int64_t>(n));
      k.incrementAppendBatchAcceptedCount();
      if (invalid_) k.add(p_.ids_.invalid, invalid_);
      if (incomplete_) k.add(p_.ids_.incomplete, incomplete_);
      invalid_ = incomplete_ = 0;
      retryCounted_ = 0;
      // The channels take events again: a refusal after this one starts the back-off over.
      // Grown across refusals with batches taken in between, it reached hundreds of ms while
      // the sink emptied the channel in a few (the syslog bench's slow runs).
      backoff_ = std::chrono::milliseconds(0);
      return true;
    }
    invalid_ = incomplete_ = 0;
    retryCounted_ = std::max(retryCounted_, n);
    k.incrementChannelWriteFail();
    p_.refusedLog_.emit("the channels refused ", n, " events (", r.error(),
                        "); holding the connection from ", c.peer(), " and retrying");
    return false;
  }

  // Keeps the refused messages (and everything after them) with the layer, which stops reading
  // this connection, and offers them again after the back-off.
  net::Step hold(std::size_t accepted) {
    framer_ = saved_;
    held_ = true;
    backoff_ = backoff_.count() == 0 ? p_.o_.retryMin : std::min(backoff_ * 2, p_.o_.retryMax);
    return net::Step::hold(accepted, backoff_);
  }

  // The complete messages in bytes the framer has not seen (a copy of it reads them).
  int64_t countMessages(std::string_view rest) const noexcept {
    Framer f = framer_;
    int64_t n = 0;
    std::size_t pos = 0;
    for (;;) {
      const FrameStep s = f.next(rest.substr(pos));
      if (s.kind != FrameStep::Message) break;
      pos += s.consumed;
      ++n;
    }
    return n;
  }

  TcpProtocol<Traits>& p_;
  Framer framer_, saved_;
  std::string ip_, hostname_, port_;
  std::chrono::milliseconds backoff_{0};
  std::size_t retryCounted_ = 0;
  int64_t invalid_ = 0, incomplete_ = 0;
  bool held_ = false;
};

}  // namespace sluice::plugins::syslog
