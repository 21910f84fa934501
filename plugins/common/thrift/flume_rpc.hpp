#pragma once
// Flume's Thrift RPC for the thrift source and sink: ThriftSourceProtocol (flume.thrift next to
// this file) over Thrift's framed transport, in the compact protocol (Flume's default) or the
// binary one. The bytes are written and read by libthrift (Debian's libthrift-dev 0.17):
// TCompactProtocol or TBinaryProtocol over a TMemoryBuffer on the caller's bytes, driving the
// structs that thrift-compiler generates from flume.thrift at build time. Only the 4-byte frame
// length is handled here, because the network layer, not libthrift, owns the sockets.
//
// libthrift stays out of this header (its headers are heavy and its exceptions must not reach a
// plugin's data path): nothing here throws, errors come back as values.
//
// Threads: a RequestDecoder or a ClientCodec is used by one thread at a time (one per I/O thread
// in the source, one per sink).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "sluice/sdk/event.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::plugins::thrift {

enum class Protocol { Compact, Binary };
const char* nameOf(Protocol p) noexcept;

// flume.thrift's Status, with its values.
enum class Status : int32_t { Ok = 0, Failed = 1, Error = 2, Unknown = 3 };
const char* nameOf(Status s) noexcept;

// The framed transport: every message is preceded by its length, 4 bytes big-endian.
inline constexpr std::size_t kFrameHeaderBytes = 4;
// libthrift's and Flume's default limit on a frame (TConfiguration::DEFAULT_MAX_FRAME_SIZE).
inline constexpr std::size_t kFlumeMaxFrameBytes = 16384000;
// The largest max-frame-size sluice accepts.
inline constexpr std::size_t kMaxFrameLimit = std::size_t{1} << 30;

enum class FrameCheck {
  Incomplete,  // more bytes are needed (the header, or the rest of the payload)
  Complete,    // a whole frame is at the start of the data
  TooLarge,    // the header announces more than the limit
  Invalid,     // the header announces a negative or empty frame
};
const char* describe(FrameCheck c) noexcept;

// Looks at the frame at the start of `data`. *payload is the announced payload length once the
// header is there (Incomplete, Complete, TooLarge).
FrameCheck checkFrame(std::string_view data, std::size_t maxFrameBytes,
                      std::size_t* payload) noexcept;

// ---- The server side (the thrift source) ----

struct ServerLimits {
  std::size_t maxFrameBytes = kFlumeMaxFrameBytes;
  std::size_t maxBatchEvents = 100000;  // the largest list (or map) a request may hold
  std::size_t maxHeaders = 256;         // the most headers one event may carry
};

// One decoded request.
struct Request {
  enum class Call { Append, AppendBatch, Refused };
  Call call = Call::Refused;
  std::string method;  // as the client named it; the reply names it again
  int32_t seqid = 0;
  // Refused: a well-formed frame that cannot be served (an unknown method, over a limit). It is
  // answered with a Thrift exception carrying this text; the connection stays usable.
  std::string refusal;
  bool unknownMethod = false;  // the refusal is Thrift's UNKNOWN_METHOD
  // Set when decoding failed and the payload looks like the other protocol (a client configured
  // for binary talking to a compact server, or the reverse): the error says which to set.
  bool otherProtocol = false;
};

class RequestDecoder {
 public:
  RequestDecoder(Protocol protocol, ServerLimits limits);
  ~RequestDecoder();
  RequestDecoder(const RequestDecoder&) = delete;
  RequestDecoder& operator=(const RequestDecoder&) = delete;

  // Decodes the payload of one frame. The events of an append or appendBatch are appended to
  // `batch` (their bodies and headers moved out of libthrift's structs, not copied). False when
  // the payload is malformed (not a Thrift call of this protocol, cut short, a required field
  // missing): *error says why, and the connection should be closed, as Thrift's servers do.
  bool decode(std::string_view payload, sdk::EventBatch& batch, Request& request,
              std::string* error) noexcept;

  // A framed reply to `request`: its Status, or for a refused request Thrift's exception. The
  // view is valid until the next call on this decoder; empty if memory ran out.
  std::string_view statusReply(const Request& request, Status status) noexcept;
  std::string_view exceptionReply(const Request& request) noexcept;

  // Gives back memory a burst left behind (libthrift's structs, the reply buffer).
  void trim() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// ---- The client side (the thrift sink) ----

class ClientCodec {
 public:
  explicit ClientCodec(Protocol protocol);
  ~ClientCodec();
  ClientCodec(const ClientCodec&) = delete;
  ClientCodec& operator=(const ClientCodec&) = delete;

  // One framed appendBatch call of `events` with sequence id `seqid`. The events are unchanged on
  // return (their bodies are lent to the encoder while it writes, not copied). The view is valid
  // until the next call; a failure (out of memory) is an empty view with *error set.
  std::string_view appendBatch(int32_t seqid, std::span<sdk::Event> events,
                               std::string* error) noexcept;

  // Reads the payload of the reply frame to call `seqid` of `method`: the Status, or a failure
  // naming what came instead (a Thrift exception, another call's reply, malformed bytes).
  sdk::Result reply(std::string_view payload, std::string_view method, int32_t seqid,
                    Status* status) noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::plugins::thrift
