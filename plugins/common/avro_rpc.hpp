#pragma once
// Flume's Avro RPC protocol (AvroSourceProtocol: append and appendBatch of AvroFlumeEvent) as
// Avro 1.x IPC over the Netty transport, for the avro source and sink. I/O-free: the plugins own
// sockets, threads and compression, this code owns the bytes. Compiled once (avro_rpc.cpp, the
// static library avro_rpc in plugins/common/meson.build); what stays inline here is the framing
// that runs on every read (FrameDecoder, a template over its callback, and the frame header).
//
// The wire, as Avro's Java NettyTransceiver/NettyServer and Requestor/Responder speak it:
//
//   frame    = serial:int32be  count:int32be  count * (length:int32be  bytes)
//
// The payload of a frame is its buffers concatenated; where the buffers are cut carries no
// meaning (Java cuts at 8 KiB). A response carries the serial of its request.
//
//   request  = [HandshakeRequest]  meta:map<bytes>  name:string  parameters
//   response = [HandshakeResponse] meta:map<bytes>  error:boolean  (response | error union)
//
// On a connection the first request carries a HandshakeRequest {clientHash: MD5 fixed(16),
// clientProtocol: union{null,string}, serverHash: MD5, meta: union{null,map<bytes>}} and its
// response a HandshakeResponse {match: enum{BOTH,CLIENT,NONE}, serverProtocol: union{null,
// string}, serverHash: union{null,MD5}, meta: union{null,map<bytes>}}. Later requests on the
// connection carry none. A server that knows the client's hash (its own protocol, or a text it
// was sent before) answers BOTH when the client guessed the server's hash right, else CLIENT
// plus its own protocol text and hash; it answers NONE (plus its text and hash) when it does not
// know the client's protocol and was not sent its text, and then stops: that response has no
// call response, and the client sends the whole request again with its protocol text. A call
// with the empty message name is a handshake ping: its response is the handshake alone.
//
// Parameters: append(event: AvroFlumeEvent) and appendBatch(events: array<AvroFlumeEvent>),
// where AvroFlumeEvent = {headers: map<string>, body: bytes} (byte for byte the record of the
// avro_event serializer, avro_container.hpp). Both return the enum Status {OK, FAILED,
// UNKNOWN}; the error union of either message is union{string} (Avro's system error).

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "avro_binary.hpp"
#include "avro_container.hpp"
#include "sluice/sdk/event.hpp"

namespace sluice::plugins::avro {

using Md5 = std::array<unsigned char, 16>;

// The protocol as Java's Protocol.toString() renders the generated AvroSourceProtocol (compact
// JSON: protocol, namespace, doc, types, messages; the doc being the .avdl's license comment as
// Avro's IDL compiler before 1.11 kept it), and its MD5, which is what a Java peer sends as its
// hash. Checked with Java: Avro's Protocol.parse() of this text, rendered with toString(), gives
// it back byte for byte, and getMD5() is kSourceProtocolMd5. A peer whose text differs (an Avro
// version whose IDL compiler keeps the doc otherwise, Python) only costs one NONE round trip per
// connection: the protocol works the same whichever hash matches.
// clang-format off
inline constexpr std::string_view kSourceProtocolJson =
    R"j({"protocol":"AvroSourceProtocol","namespace":"org.apache.flume.source.avro",)j"
    R"j("doc":"* Licensed to the Apache Software Foundation (ASF) under one\n)j"
    R"j( * or more contributor license agreements.  See the NOTICE file\n)j"
    R"j( * distributed with this work for additional information\n)j"
    R"j( * regarding copyright ownership.  The ASF licenses this file\n)j"
    R"j( * to you under the Apache License, Version 2.0 (the\n)j"
    R"j( * \"License\"); you may not use this file except in compliance\n)j"
    R"j( * with the License.  You may obtain a copy of the License at\n *\n)j"
    R"j( * http://www.apache.org/licenses/LICENSE-2.0\n *\n)j"
    R"j( * Unless required by applicable law or agreed to in writing,\n)j"
    R"j( * software distributed under the License is distributed on an\n * \"AS IS\" BASIS,)j"
    R"j( WITHOUT WARRANTIES OR CONDITIONS OF ANY\n * KIND,)j"
    R"j( either express or implied.  See the License for the\n)j"
    R"j( * specific language governing permissions and limitations\n * under the License.",)j"
    R"j("types":[{"type":"enum","name":"Status","symbols":["OK","FAILED","UNKNOWN"]},)j"
    R"j({"type":"record","name":"AvroFlumeEvent","fields":[{"name":"headers",)j"
    R"j("type":{"type":"map","values":"string"}},{"name":"body","type":"bytes"}]}],)j"
    R"j("messages":{"append":{"request":[{"name":"event","type":"AvroFlumeEvent"}],)j"
    R"j("response":"Status"},"appendBatch":{"request":[{"name":"events","type":{"type":"array",)j"
    R"j("items":"AvroFlumeEvent"}}],"response":"Status"}}})j";
// clang-format on
inline constexpr Md5 kSourceProtocolMd5 = {0x86, 0xaa, 0xda, 0xe2, 0xc4, 0x54, 0x74, 0xc0,
                                           0xfe, 0x93, 0xff, 0xd0, 0xf2, 0x35, 0x0a, 0x65};

enum class HandshakeMatch : int32_t { Both = 0, Client = 1, None = 2 };
// Flume's org.apache.flume.source.avro.Status.
enum class RpcStatus : int32_t { Ok = 0, Failed = 1, Unknown = 2 };

const char* nameOf(HandshakeMatch m) noexcept;
const char* nameOf(RpcStatus s) noexcept;

// Bounds on everything a peer's bytes can make us hold. A value past one is a protocol error
// (the connection closes), except a batch or an event with too many headers, which the source
// answers with an error response.
struct RpcLimits {
  std::size_t maxFrameBytes = 64u << 20;    // payload bytes of one frame, all buffers together
  std::size_t maxBuffers = 1u << 20;        // buffers in one frame (each costs 4 header bytes)
  std::size_t maxBatchEvents = 100000;      // events of one appendBatch
  std::size_t maxHeaders = 256;             // headers of one event
  std::size_t maxProtocolBytes = 1u << 20;  // a peer's protocol text
  std::size_t maxMetaEntries = 1024;        // entries of a metadata map
};

// ---- Framing ----

inline void putInt32be(char* p, uint32_t v) noexcept {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}
inline uint32_t getInt32be(const char* p) noexcept {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

inline constexpr std::size_t kFrameHeaderBytes = 12;  // serial, count = 1, length

// Writing a frame of one buffer: beginFrame() reserves its header at the end of `out`; the
// caller appends the payload; finishFrame() fills the header in. No copy of the payload.
inline std::size_t beginFrame(std::string& out) {
  const std::size_t at = out.size();
  out.append(kFrameHeaderBytes, '\0');
  return at;
}
inline void finishFrame(std::string& out, std::size_t at, int32_t serial) noexcept {
  char* p = out.data() + at;
  putInt32be(p, static_cast<uint32_t>(serial));
  putInt32be(p + 4, 1);
  putInt32be(p + 8, static_cast<uint32_t>(out.size() - at - kFrameHeaderBytes));
}

// Reassembles frames from a byte stream fed in pieces of any size. Holds at most one frame's
// payload (bounded by RpcLimits::maxFrameBytes) plus 8 header bytes.
class FrameDecoder {
 public:
  enum class Error { None, NoBuffers, TooManyBuffers, BadLength, FrameTooLarge };

  explicit FrameDecoder(const RpcLimits& limits) : limits_(&limits) {}

  // Consumes all of data[0, n). For each frame completed, calls onFrame(int32_t serial,
  // std::string_view payload) (the payload is valid during the call only); onFrame returns false
  // to stop at once (the connection is closing). Returns the first framing error, after which
  // the decoder is unusable.
  template <class OnFrame>
  Error feed(const char* data, std::size_t n, OnFrame&& onFrame) {
    while (n > 0) {
      if (state_ == State::Data) {
        const std::size_t take = std::min(n, want_);
        payload_.append(data, take);
        data += take;
        n -= take;
        want_ -= take;
        if (want_ == 0 && !bufferDone(onFrame)) return Error::None;
        continue;
      }
      // Header (8 bytes) or a buffer length (4 bytes): collected in hdr_.
      const std::size_t need = (state_ == State::Header ? 8 : 4) - hdrLen_;
      const std::size_t take = std::min(n, need);
      std::memcpy(hdr_ + hdrLen_, data, take);
      hdrLen_ += take;
      data += take;
      n -= take;
      if (take < need) break;
      hdrLen_ = 0;
      if (state_ == State::Header) {
        serial_ = static_cast<int32_t>(getInt32be(hdr_));
        const auto count = static_cast<int32_t>(getInt32be(hdr_ + 4));
        if (count <= 0) return error_ = Error::NoBuffers;
        if (static_cast<std::size_t>(count) > limits_->maxBuffers)
          return error_ = Error::TooManyBuffers;
        buffersLeft_ = static_cast<std::size_t>(count);
        payload_.clear();
        state_ = State::Length;
      } else {
        const auto len = static_cast<int32_t>(getInt32be(hdr_));
        if (len < 0) return error_ = Error::BadLength;
        if (static_cast<std::size_t>(len) > limits_->maxFrameBytes - payload_.size())
          return error_ = Error::FrameTooLarge;
        want_ = static_cast<std::size_t>(len);
        state_ = State::Data;
        if (want_ == 0 && !bufferDone(onFrame)) return Error::None;
      }
    }
    return Error::None;
  }

  // Some bytes of a frame have arrived but not all of it.
  bool midFrame() const noexcept { return state_ != State::Header || hdrLen_ > 0; }
  Error error() const noexcept { return error_; }
  // Between frames: gives back a large payload buffer (a burst of big frames must not keep
  // its memory on an idle connection).
  void trim(std::size_t keep) {
    if (!midFrame() && payload_.capacity() > keep) std::string().swap(payload_);
  }

  static const char* describe(Error e) noexcept;

 private:
  enum class State { Header, Length, Data };

  template <class OnFrame>
  bool bufferDone(OnFrame& onFrame) {
    state_ = State::Length;
    if (--buffersLeft_ > 0) return true;
    state_ = State::Header;
    return onFrame(serial_, std::string_view(payload_));
  }

  const RpcLimits* limits_;
  State state_ = State::Header;
  char hdr_[8] = {};
  std::size_t hdrLen_ = 0;
  int32_t serial_ = 0;
  std::size_t buffersLeft_ = 0;
  std::size_t want_ = 0;
  std::string payload_;
  Error error_ = Error::None;
};

// ---- Avro IPC pieces ----

// A metadata map<bytes>: skipped, with its entries bounded.
bool skipMeta(AvroReader& in, const RpcLimits& limits);

// A union{null, map<bytes>} (the handshakes' meta).
bool skipOptionalMeta(AvroReader& in, const RpcLimits& limits);

struct HandshakeRequestView {
  Md5 clientHash{};
  bool hasClientProtocol = false;
  std::string_view clientProtocol;  // into the payload
  Md5 serverHash{};
};

bool readHandshakeRequest(AvroReader& in, const RpcLimits& limits, HandshakeRequestView& out);

// clientProtocol == nullptr writes null. meta is always null.
void appendHandshakeRequest(std::string& out, const Md5& clientHash,
                            const std::string_view* clientProtocol, const Md5& serverHash);

struct HandshakeResponseView {
  HandshakeMatch match = HandshakeMatch::None;
  bool hasServerProtocol = false;
  std::string_view serverProtocol;
  bool hasServerHash = false;
  Md5 serverHash{};
};

bool readHandshakeResponse(AvroReader& in, const RpcLimits& limits, HandshakeResponseView& out);

// The server's text and hash go with every match but BOTH, as Java's Responder sends them.
void appendHandshakeResponse(std::string& out, HandshakeMatch match);

// One AvroFlumeEvent into `event` (whose strings are reused). Fails on malformed data; *tooMany
// is set (and the reader failed) when the event has more than limits.maxHeaders headers.
bool readFlumeEvent(AvroReader& in, const RpcLimits& limits, sdk::Event& event, bool* tooMany);

// The request parameters' encoding, for clients: appendBatch's array of events.
void appendEventArray(std::string& out, std::span<const sdk::Event> events);

// A call's start: empty metadata and the message name.
void appendCallHeader(std::string& out, std::string_view message);

// A successful Status response (after the handshake response, if any).
void appendStatusResponse(std::string& out, RpcStatus status);

// An error response: Avro's system error, union{string} branch 0.
void appendErrorResponse(std::string& out, std::string_view message);

// ---- The server's side of one request ----

// The client protocol hashes a server has accepted (its own and every text a client sent),
// shared by all connections of a source; bounded, oldest forgotten first. Used once per
// connection, so a mutex is cheap.
class KnownClientProtocols {
 public:
  static constexpr std::size_t kCapacity = 64;
  bool contains(const Md5& h) const;
  void add(const Md5& h);

 private:
  mutable std::mutex mu_;
  std::vector<Md5> known_;
};

enum class RequestKind {
  HandshakeRefused,  // NONE was answered: the response is the handshake alone
  Ping,              // empty message name: the response is the handshake alone
  Append,            // events holds one event
  AppendBatch,       // events holds the batch
  Unknown,           // a message this protocol does not have: answer an error
  TooLarge,          // a batch or event beyond the limits: answer an error (see `problem`)
};

struct RequestInfo {
  RequestKind kind = RequestKind::Unknown;
  std::string_view message;   // the message name, into the payload
  bool hadHandshake = false;  // the request carried a handshake (and `reply` its response)
  HandshakeMatch match = HandshakeMatch::Both;
  const char* problem = "";  // why the payload was refused or a limit hit
};

// Decodes one request payload. `handshaken` is the connection's state: false until a handshake
// other than NONE was answered. The handshake response, if any, is appended to `reply`; the
// caller appends the call response after it (none for HandshakeRefused and Ping). Events are
// appended to `events`. Returns false on malformed data (info.problem says why): the caller then
// drops the connection; `events` may then hold part of the batch, to be cleared.
bool decodeRequest(std::string_view payload, bool& handshaken, KnownClientProtocols& known,
                   const RpcLimits& limits, std::string& reply, sdk::EventBatch& events,
                   RequestInfo& info);

// ---- The client's side ----

// A client connection's handshake state, as Java's Requestor keeps it.
struct ClientHandshake {
  bool done = false;          // a handshake was answered BOTH or CLIENT on this connection
  bool sendProtocol = false;  // the server answered NONE: send our text next time
  Md5 serverHash = kSourceProtocolMd5;  // our guess of the server's hash
  HandshakeMatch lastMatch = HandshakeMatch::Both;
};

// The handshake a request on this connection starts with (nothing once it is done).
void appendClientHandshake(std::string& out, const ClientHandshake& hs);

// Starts a request in `head` (cleared first): the frame header of one buffer that holds this
// connection's handshake (if any), appended here, and then `bodyBytes` bytes the caller sends
// right after `head` (the call: appendCallHeader() and the parameters).
inline void beginRequest(std::string& head, const ClientHandshake& hs, int32_t serial,
                         std::size_t bodyBytes) {
  head.clear();
  beginFrame(head);
  appendClientHandshake(head, hs);
  putInt32be(head.data(), static_cast<uint32_t>(serial));
  putInt32be(head.data() + 4, 1);
  putInt32be(head.data() + 8, static_cast<uint32_t>(head.size() - kFrameHeaderBytes + bodyBytes));
}

// The one frame that answers a request, collected from the bytes as they arrive.
class ResponseFrame {
 public:
  explicit ResponseFrame(const RpcLimits& limits) : frames_(limits) {}

  // Feeds received bytes (those after the answer are not looked at). False, with *error, for
  // bytes that are not Avro's framing.
  bool feed(const char* data, std::size_t n, std::string* error) {
    auto onFrame = [this](int32_t serial, std::string_view payload) {
      serial_ = serial;
      payload_.assign(payload.data(), payload.size());
      done_ = true;
      return false;  // one response per request: stop here
    };
    const FrameDecoder::Error err = frames_.feed(data, n, onFrame);
    if (err == FrameDecoder::Error::None) return true;
    *error = std::string("bad answer: ") + FrameDecoder::describe(err);
    return false;
  }
  bool done() const noexcept { return done_; }
  // Once done(): whether the frame answers request `serial` (*error says when not).
  bool answers(int32_t serial, std::string* error) const {
    if (serial_ == serial) return true;
    *error = "the answer's serial " + std::to_string(serial_) + " is not the request's " +
             std::to_string(serial);
    return false;
  }
  // Once done(): moves the payload into `out` (for readCallResponse()).
  void takePayload(std::string& out) { out.swap(payload_); }

 private:
  FrameDecoder frames_;
  bool done_ = false;
  int32_t serial_ = 0;
  std::string payload_;
};

enum class ResponseKind { Status, Error, Resend, Malformed };

// Reads the response to a request built with appendClientHandshake(). Resend: the server
// answered NONE; build the request again (now with our text) and send it once more.
ResponseKind readCallResponse(std::string_view payload, ClientHandshake& hs,
                              const RpcLimits& limits, RpcStatus& status, std::string& error);

}  // namespace sluice::plugins::avro
