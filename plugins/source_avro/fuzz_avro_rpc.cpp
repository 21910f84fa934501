// libFuzzer target for the avro source's wire decoding (plugins/common/avro_rpc.hpp): Netty
// frames reassembled from input cut at arbitrary points, each frame decoded as a request (with
// and without a handshake first), and the client's response decoder on the same bytes. Checks
// that nothing reads out of bounds, loops, or holds more than the limits allow.
//
// Input: byte 0 picks the chunk size the stream is fed in (1..256) and whether the connection
// starts handshaken; the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "avro_rpc.hpp"

namespace rpc = sluice::plugins::avro;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + (data[0] & 0x7f) * 2;
  bool handshaken = (data[0] & 0x80) != 0;
  const char* p = reinterpret_cast<const char*>(data + 1);
  std::size_t n = size - 1;

  rpc::RpcLimits limits;
  limits.maxFrameBytes = 1 << 16;
  limits.maxBuffers = 64;
  limits.maxBatchEvents = 1000;
  limits.maxHeaders = 16;
  limits.maxProtocolBytes = 4096;
  limits.maxMetaEntries = 16;
  rpc::KnownClientProtocols known;
  rpc::FrameDecoder frames(limits);
  sluice::sdk::EventBatch events;
  std::string reply;
  rpc::ClientHandshake client;

  while (n > 0) {
    const std::size_t take = n < chunk ? n : chunk;
    const auto err = frames.feed(p, take, [&](int32_t, std::string_view payload) {
      if (payload.size() > limits.maxFrameBytes) std::abort();
      rpc::RequestInfo info;
      reply.clear();
      const bool ok = rpc::decodeRequest(payload, handshaken, known, limits, reply, events, info);
      if (events.size() > limits.maxBatchEvents + 1) std::abort();
      for (const auto& e : events)
        if (e.headers.size() > limits.maxHeaders) std::abort();
      events.clear();
      rpc::RpcStatus status;
      std::string error;
      (void)rpc::readCallResponse(payload, client, limits, status, error);
      return ok;
    });
    if (err != rpc::FrameDecoder::Error::None) break;
    p += take;
    n -= take;
  }
  return 0;
}
