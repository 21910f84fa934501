#pragma once
// Flume's ThriftSink (type thrift): sends events to the next hop over Flume's Thrift RPC
// (ThriftSourceProtocol.appendBatch over Thrift's framed transport, compact or binary protocol,
// see plugins/common/thrift/flume_rpc.hpp): to a thrift source of sluice or Flume, or any server
// of flume.thrift.
//
// Design (README.md describes what users see):
//  - process() runs on the sink runner thread. It connects through the network layer's TcpClient
//    if needed (connect-timeout bounds the connection and the TLS handshake), takes up to
//    batch-size events in one transaction, sends them as one appendBatch and commits the take
//    only after the next hop answered OK. FAILED (or ERROR, UNKNOWN), a Thrift exception,
//    request-timeout, or a broken connection roll the take back, so the events come again, and
//    report a failed delivery, so the runner backs off. All but a Status answer also drop the
//    connection, which the next call opens again.
//  - The batch is encoded by libthrift from the generated structs into a reused buffer; the
//    events' bodies are lent to the structs, not copied.
//  - Before using a connection that sat idle the sink checks that the peer did not close it (an
//    idle timeout, a restart), so that the reconnect does not cost a batch.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "net/sink_connection.hpp"
#include "net/tls.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/sink.hpp"
#include "thrift/flume_rpc.hpp"

namespace sluice::plugins::thrift_sink {

// The keys this sink accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& thriftSinkSchema();

// The next hop, the batch and TLS: net::RpcSinkTarget.
struct ThriftSinkSettings : net::RpcSinkTarget {
  std::chrono::seconds resetConnectionInterval{0};  // 0 = never
  thrift::Protocol protocol = thrift::Protocol::Compact;
};

class ThriftSink final : public sdk::AbstractSink {
 public:
  // Counters this sink adds to its SinkCounter, after Flume's (the constructor checks).
  static constexpr std::size_t kBatchRefusedCount = sdk::SinkCounter::ChannelReadFail + 1;

  ThriftSink();
  ~ThriftSink() override;

  void configure(const sdk::Context& context) override;
  void start() override;
  // Closes the connection. Safe to repeat.
  void stop() override;
  // Runner thread.
  sdk::Status process() override;

  const ThriftSinkSettings& settings() const noexcept { return s_; }
  bool connected() const noexcept { return conn_.connected(); }

 private:
  // Sends the batch and reads the answer. False on anything but a Status (*error says what).
  bool exchange(std::span<sdk::Event> events, thrift::Status* status, std::string* error);

  ThriftSinkSettings s_;
  bool configured_ = false;
  net::SinkConnection conn_;
  std::unique_ptr<thrift::ClientCodec> codec_;
  std::string target_;
  int32_t seqid_ = 0;
  bool warnedFrameSize_ = false;
};

}  // namespace sluice::plugins::thrift_sink
