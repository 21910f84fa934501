// libFuzzer target for the thrift source's input path (flume_rpc.hpp): a byte stream cut at
// arbitrary points, as the network layer offers it (the unconsumed tail kept and offered again
// in front of the next bytes), framed with checkFrame, each frame decoded as a request with
// libthrift, answered, and read as a reply by the sink's decoder as well. Checks that nothing
// reads out of bounds, loops, throws, or lets through more than the limits allow.
//
// Input: byte 0 picks the protocol (bit 7: binary) and the chunk size (1..255 bytes); the rest
// is the stream.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "thrift/flume_rpc.hpp"

namespace rpc = sluice::plugins::thrift;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const rpc::Protocol protocol = (data[0] & 0x80) ? rpc::Protocol::Binary : rpc::Protocol::Compact;
  const std::size_t chunk = 1 + (data[0] & 0x7f) * 2;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  rpc::ServerLimits limits;
  limits.maxFrameBytes = 1 << 16;
  limits.maxBatchEvents = 1000;
  limits.maxHeaders = 16;
  rpc::RequestDecoder decoder(protocol, limits);
  rpc::ClientCodec client(protocol);
  sluice::sdk::EventBatch batch;
  std::string kept;  // what the layer keeps between reads

  for (std::size_t at = 0; at < stream.size(); at += chunk) {
    kept.append(stream.substr(at, chunk));
    std::string_view view = kept;
    std::size_t consumed = 0;
    bool closed = false;
    for (;;) {
      std::size_t payload = 0;
      const rpc::FrameCheck check =
          rpc::checkFrame(view.substr(consumed), limits.maxFrameBytes, &payload);
      if (check == rpc::FrameCheck::Incomplete) break;
      if (check != rpc::FrameCheck::Complete) {
        closed = true;
        break;
      }
      if (payload > limits.maxFrameBytes) std::abort();
      const std::string_view frame = view.substr(consumed + rpc::kFrameHeaderBytes, payload);
      rpc::Request request;
      std::string error;
      if (!decoder.decode(frame, batch, request, &error)) {
        if (!batch.empty()) std::abort();  // a malformed request leaves nothing behind
        closed = true;
        break;
      }
      if (batch.size() > limits.maxBatchEvents) std::abort();
      for (const auto& e : batch)
        if (e.headers.size() > limits.maxHeaders) std::abort();
      const std::string_view reply = request.call == rpc::Request::Call::Refused
                                         ? decoder.exceptionReply(request)
                                         : decoder.statusReply(request, rpc::Status::Ok);
      if (reply.size() < rpc::kFrameHeaderBytes) std::abort();
      batch.clear();
      rpc::Status status{};
      (void)client.reply(frame, "appendBatch", 1, &status);
      consumed += rpc::kFrameHeaderBytes + payload;
    }
    if (closed) break;
    kept.erase(0, consumed);
  }
  return 0;
}
