#pragma once
// Flume's ThriftSource (type thrift): serves Flume's ThriftSourceProtocol (append, appendBatch of
// ThriftFlumeEvent, answered with a Status) over Thrift's framed transport, in the compact
// protocol (Flume's default) or the binary one, to Flume's ThriftSink and ThriftRpcClient,
// sluice's thrift sink, or any Thrift client generated from flume.thrift.
//
// Design (README.md describes what users see):
//  - A thin protocol layer over the network layer (plugins/common/net): the layer binds,
//    accepts, limits, filters, speaks TLS, reads, writes, times out and counts; libthrift only
//    encodes and decodes (plugins/common/thrift/flume_rpc.hpp). No libthrift server or thread.
//  - Per connection a session cuts frames out of the layer's view and decodes each in place,
//    with the I/O thread's reused decoder and EventBatch: the events' bodies and headers are the
//    only allocations per event. An unfinished frame stays with the layer (bounded by
//    max-frame-size and frame-timeout).
//  - A request is answered only after the channels committed its events: OK, or FAILED when
//    they refused them (the client retries). After a FAILED the connection is held (nothing more
//    is read from it, so TCP slows the client down) for a back-off that doubles while the
//    channels keep refusing.
//  - A malformed frame (over max-frame-size, not a Thrift call, cut short) closes its
//    connection, is counted (EventReadFail) and logged at most once a second. A well-formed
//    request beyond max-batch-size or max-headers, or for a method the service does not have, is
//    answered with Thrift's exception and the connection stays.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "net/tcp_service.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"
#include "thrift/flume_rpc.hpp"

namespace sluice::plugins::thrift_source {

// The keys this source accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& thriftSourceSchema();

struct ThriftSourceSettings {
  std::size_t threads = 1;
  thrift::Protocol protocol = thrift::Protocol::Compact;
  thrift::ServerLimits limits;
  net::ListenerOptions listener;  // bind, port, limits, timeouts, TLS, IP filter
};

class ThriftServer;

class ThriftSource final : public sdk::EventDrivenSource {
 public:
  // Counters this source adds to its SourceCounter, after Flume's (the constructor checks).
  static constexpr std::size_t kConnectionRejectedCount =
      sdk::SourceCounter::GenericProcessingFail + 1;
  static constexpr std::size_t kConnectionDeniedCount = kConnectionRejectedCount + 1;
  static constexpr std::size_t kConnectionIdleClosedCount = kConnectionRejectedCount + 2;
  static constexpr std::size_t kConnectionTimedOutCount = kConnectionRejectedCount + 3;
  static constexpr std::size_t kErrorResponseCount = kConnectionRejectedCount + 4;

  ThriftSource();
  ~ThriftSource() override;

  // Control thread, before start (again after stop for a reload).
  void configure(const sdk::Context& context) override;
  // Starts the I/O threads and listens. Throws (naming host:port and the reason) when the address
  // cannot be bound. A second start() while running does nothing.
  void start() override;
  // Stops listening, closes every connection (replies already earned are sent) and joins the
  // threads. Safe to repeat.
  void stop() override;

  // The bound port (the system's choice for port = 0); 0 when stopped.
  uint16_t boundPort() const noexcept { return service_.port(); }
  const ThriftSourceSettings& settings() const noexcept { return settings_; }

 private:
  ThriftSourceSettings settings_;
  bool configured_ = false;
  net::TcpService service_;
};

}  // namespace sluice::plugins::thrift_source
