// Flume's ThriftSourceProtocol on libthrift: the generated structs of flume.thrift read and
// written by TCompactProtocolT / TBinaryProtocolT over TMemoryBuffer (templates, so the calls are
// direct, not virtual). The only bytes handled here by hand are the frame's 4-byte length.
#include "flume_rpc.hpp"

#include <thrift/TApplicationException.h>
#include <thrift/TConfiguration.h>
#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TTransportException.h>

#include <exception>
#include <limits>
#include <new>
#include <utility>
#include <vector>

#include "ThriftSourceProtocol.h"
#include "bounded_protocol.hpp"

namespace sluice::plugins::thrift {

namespace at = ::apache::thrift;
using at::protocol::TMessageType;
using at::protocol::TProtocolException;
using at::transport::TMemoryBuffer;

namespace {

constexpr std::size_t kKeepBytes = std::size_t{1} << 20;  // buffers above this are given back
constexpr std::size_t kKeepEvents = 10000;                // structs above this are given back

uint32_t readBe32(const char* p) noexcept {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

void writeBe32(uint8_t* p, uint32_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

int32_t clampToInt(std::size_t v) noexcept {
  return static_cast<int32_t>(std::min<std::size_t>(v, std::numeric_limits<int32_t>::max()));
}

// A memory transport whose message size limit is the frame limit (libthrift checks every
// announced string and container length against what is left of the message).
std::shared_ptr<TMemoryBuffer> makeBuffer(std::size_t maxMessageBytes) {
  auto config = std::make_shared<at::TConfiguration>(clampToInt(maxMessageBytes),
                                                     clampToInt(maxMessageBytes));
  return std::make_shared<TMemoryBuffer>(config);
}

// Points `in` at `payload` (observed, not copied) with the message size set to its length.
void observe(TMemoryBuffer& in, std::string_view payload) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): OBSERVE never writes to the bytes
  auto* p = const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(payload.data()));
  in.resetBuffer(p, static_cast<uint32_t>(payload.size()), TMemoryBuffer::OBSERVE);
  in.updateKnownMessageSize(static_cast<long>(payload.size()));
}

// Starts a framed message in `out`: room for the length, filled in by endFrame.
void beginFrame(TMemoryBuffer& out) {
  out.resetBuffer();
  const uint8_t zero[kFrameHeaderBytes] = {};
  out.write(zero, sizeof zero);
}

std::string_view endFrame(TMemoryBuffer& out) {
  uint8_t* p = nullptr;
  uint32_t n = 0;
  out.getBuffer(&p, &n);
  writeBe32(p, n - static_cast<uint32_t>(kFrameHeaderBytes));
  return {reinterpret_cast<const char*>(p), n};
}

// What a decode error says, with a hint when the client speaks the other protocol (the first
// byte of a binary message with a version is 0x80, of a compact one 0x82).
std::string decodeError(const char* what, std::string_view payload, Protocol p, Request& r) {
  std::string s = what;
  if (!payload.empty()) {
    const auto first = static_cast<unsigned char>(payload[0]);
    if (p == Protocol::Compact && first == 0x80) {
      s += " (the client speaks Thrift's binary protocol: set protocol = binary)";
      r.otherProtocol = true;
    } else if (p == Protocol::Binary && first == 0x82) {
      s += " (the client speaks Thrift's compact protocol: set protocol = compact)";
      r.otherProtocol = true;
    }
  }
  return s;
}

}  // namespace

const char* nameOf(Protocol p) noexcept { return p == Protocol::Binary ? "binary" : "compact"; }

const char* nameOf(Status s) noexcept {
  switch (s) {
    case Status::Ok:
      return "OK";
    case Status::Failed:
      return "FAILED";
    case Status::Error:
      return "ERROR";
    case Status::Unknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

const char* describe(FrameCheck c) noexcept {
  switch (c) {
    case FrameCheck::Incomplete:
      return "an incomplete frame";
    case FrameCheck::Complete:
      return "a frame";
    case FrameCheck::TooLarge:
      return "a frame larger than max-frame-size";
    case FrameCheck::Invalid:
      return "a frame of negative or zero length";
  }
  return "?";
}

FrameCheck checkFrame(std::string_view data, std::size_t maxFrameBytes,
                      std::size_t* payload) noexcept {
  if (data.size() < kFrameHeaderBytes) return FrameCheck::Incomplete;
  const auto announced = static_cast<int32_t>(readBe32(data.data()));
  if (announced <= 0) return FrameCheck::Invalid;
  *payload = static_cast<std::size_t>(announced);
  if (*payload > maxFrameBytes) return FrameCheck::TooLarge;
  return data.size() - kFrameHeaderBytes >= *payload ? FrameCheck::Complete
                                                     : FrameCheck::Incomplete;
}

// ---- server side ----

struct RequestDecoder::Impl {
  virtual ~Impl() = default;
  virtual bool decode(std::string_view payload, sdk::EventBatch& batch, Request& request,
                      std::string* error) = 0;
  virtual std::string_view statusReply(const Request& request, Status status) = 0;
  virtual std::string_view exceptionReply(const Request& request) = 0;
  virtual void trim() = 0;
};

namespace {

// Protocol_ over TMemoryBuffer: the reading and writing protocols of one decoder, and the
// generated argument structs, reused from request to request.
template <class Protocol_>
class ServerCodec final : public RequestDecoder::Impl {
 public:
  ServerCodec(ServerLimits limits, Protocol kind, std::shared_ptr<Protocol_> in,
              std::shared_ptr<Protocol_> out, std::shared_ptr<TMemoryBuffer> inBuf,
              std::shared_ptr<TMemoryBuffer> outBuf)
      : limits_(limits),
        kind_(kind),
        inBuf_(std::move(inBuf)),
        outBuf_(std::move(outBuf)),
        in_(std::move(in)),
        out_(std::move(out)) {}

  bool decode(std::string_view payload, sdk::EventBatch& batch, Request& request,
              std::string* error) override {
    request = Request{};
    const std::size_t first = batch.size();
    observe(*inBuf_, payload);
    in_->setStringLimit(clampToInt(payload.size()));  // no string is longer than its frame
    try {
      TMessageType type{};
      in_->readMessageBegin(request.method, type, request.seqid);
      if (type != at::protocol::T_CALL && type != at::protocol::T_ONEWAY) {
        *error = decodeError("a message that is not a call", payload, kind_, request);
        return done(false);
      }
      if (request.method == "appendBatch") {
        batchArgs_.read(in_.get());
        in_->readMessageEnd();
        request.call = Request::Call::AppendBatch;
        return done(take(batchArgs_.events, batch, first, request));
      }
      if (request.method == "append") {
        oneArgs_.read(in_.get());
        in_->readMessageEnd();
        request.call = Request::Call::Append;
        return done(take(std::span(&oneArgs_.event, 1), batch, first, request));
      }
      // As the generated processor does: skip the arguments, answer UNKNOWN_METHOD.
      in_->skip(at::protocol::T_STRUCT);
      in_->readMessageEnd();
      request.call = Request::Call::Refused;
      request.unknownMethod = true;
      request.refusal = "Invalid method name: '" + request.method + "'";
      return done(true);
    } catch (const ContainerLimitExceeded&) {
      // A well-framed request beyond max-batch-size: refuse it, keep the connection.
      batch.resize(first);
      request.call = Request::Call::Refused;
      request.refusal = "a list or map of more than " + std::to_string(limits_.maxBatchEvents) +
                        " elements (the source's max-batch-size)";
      return done(true);
    } catch (const TProtocolException& e) {
      batch.resize(first);
      *error = decodeError(e.what(), payload, kind_, request);
    } catch (const at::transport::TTransportException& e) {
      batch.resize(first);
      *error = decodeError(e.getType() == at::transport::TTransportException::END_OF_FILE
                               ? "the message ends before its frame does"
                               : e.what(),
                           payload, kind_, request);
    } catch (const std::bad_alloc&) {
      batch.resize(first);
      *error = "out of memory decoding the request";
    } catch (const std::exception& e) {
      batch.resize(first);
      *error = decodeError(e.what(), payload, kind_, request);
    }
    return done(false);
  }

  std::string_view statusReply(const Request& request, Status status) override {
    beginFrame(*outBuf_);
    out_->writeMessageBegin(request.method, at::protocol::T_REPLY, request.seqid);
    // The append and appendBatch results are the same struct on the wire: field 0, an i32.
    gen::ThriftSourceProtocol_appendBatch_result result;
    result.success = static_cast<gen::Status::type>(status);
    result.__isset.success = true;
    result.write(out_.get());
    out_->writeMessageEnd();
    return endFrame(*outBuf_);
  }

  std::string_view exceptionReply(const Request& request) override {
    beginFrame(*outBuf_);
    out_->writeMessageBegin(request.method, at::protocol::T_EXCEPTION, request.seqid);
    const at::TApplicationException x(request.unknownMethod
                                          ? at::TApplicationException::UNKNOWN_METHOD
                                          : at::TApplicationException::PROTOCOL_ERROR,
                                      request.refusal);
    x.write(out_.get());
    out_->writeMessageEnd();
    return endFrame(*outBuf_);
  }

  void trim() override {
    if (batchArgs_.events.capacity() > kKeepEvents)
      std::vector<gen::ThriftFlumeEvent>().swap(batchArgs_.events);
    if (outBuf_->getBufferSize() > kKeepBytes) outBuf_->resetBuffer(1024);
  }

 private:
  // Ends a decode: the transport forgets the frame (its bytes belong to the caller).
  bool done(bool ok) {
    inBuf_->resetBuffer();
    inBuf_->readEnd();
    return ok;
  }

  // Moves the decoded events into `batch`. An event with too many headers refuses the request.
  bool take(std::span<gen::ThriftFlumeEvent> events, sdk::EventBatch& batch, std::size_t first,
            Request& request) {
    for (const gen::ThriftFlumeEvent& te : events)
      if (te.headers.size() > limits_.maxHeaders) {
        request.call = Request::Call::Refused;
        request.refusal = "an event with " + std::to_string(te.headers.size()) +
                          " headers (the source's max-headers is " +
                          std::to_string(limits_.maxHeaders) + ")";
        return true;
      }
    batch.reserve(first + events.size());
    for (gen::ThriftFlumeEvent& te : events) {
      sdk::Event& e = batch.emplace_back();
      e.body = std::move(te.body);
      while (!te.headers.empty()) {
        auto node = te.headers.extract(te.headers.begin());
        e.headers.set(std::move(node.key()), std::move(node.mapped()));
      }
    }
    return true;
  }

  const ServerLimits limits_;
  const Protocol kind_;
  std::shared_ptr<TMemoryBuffer> inBuf_, outBuf_;
  std::shared_ptr<Protocol_> in_, out_;
  gen::ThriftSourceProtocol_appendBatch_args batchArgs_;
  gen::ThriftSourceProtocol_append_args oneArgs_;
};

template <class P>
std::unique_ptr<RequestDecoder::Impl> makeServerCodec(ServerLimits limits, Protocol kind) {
  auto inBuf = makeBuffer(limits.maxFrameBytes);
  auto outBuf = makeBuffer(kMaxFrameLimit);
  const int32_t containerLimit = clampToInt(limits.maxBatchEvents);
  auto in = std::make_shared<P>(inBuf);
  in->setContainerLimit(containerLimit);
  auto out = std::make_shared<P>(outBuf);
  return std::make_unique<ServerCodec<P>>(limits, kind, std::move(in), std::move(out),
                                          std::move(inBuf), std::move(outBuf));
}

}  // namespace

RequestDecoder::RequestDecoder(Protocol protocol, ServerLimits limits)
    : impl_(protocol == Protocol::Binary ? makeServerCodec<BinaryProtocol>(limits, protocol)
                                         : makeServerCodec<CompactProtocol>(limits, protocol)) {}

RequestDecoder::~RequestDecoder() = default;

bool RequestDecoder::decode(std::string_view payload, sdk::EventBatch& batch, Request& request,
                            std::string* error) noexcept {
  try {
    return impl_->decode(payload, batch, request, error);
  } catch (const std::exception& e) {  // out of memory for the error text itself
    return false;
  }
}

std::string_view RequestDecoder::statusReply(const Request& request, Status status) noexcept {
  try {
    return impl_->statusReply(request, status);
  } catch (const std::exception&) {
    return {};
  }
}

std::string_view RequestDecoder::exceptionReply(const Request& request) noexcept {
  try {
    return impl_->exceptionReply(request);
  } catch (const std::exception&) {
    return {};
  }
}

void RequestDecoder::trim() noexcept {
  try {
    impl_->trim();
  } catch (const std::exception&) {
  }
}

// ---- client side ----

struct ClientCodec::Impl {
  virtual ~Impl() = default;
  virtual std::string_view appendBatch(int32_t seqid, std::span<sdk::Event> events) = 0;
  virtual sdk::Result reply(std::string_view payload, std::string_view method, int32_t seqid,
                            Status* status) = 0;
};

namespace {

template <class Protocol_>
class ClientCodecT final : public ClientCodec::Impl {
 public:
  ClientCodecT(std::shared_ptr<Protocol_> in, std::shared_ptr<Protocol_> out,
               std::shared_ptr<TMemoryBuffer> inBuf, std::shared_ptr<TMemoryBuffer> outBuf)
      : inBuf_(std::move(inBuf)),
        outBuf_(std::move(outBuf)),
        in_(std::move(in)),
        out_(std::move(out)) {}

  std::string_view appendBatch(int32_t seqid, std::span<sdk::Event> events) override {
    // The generated struct owns its strings: the bodies are swapped in and swapped back after
    // writing (also on an exception), so no body is copied and every event ends up as it was.
    structs_.resize(events.size());
    struct Restore {
      std::span<sdk::Event> events;
      std::vector<gen::ThriftFlumeEvent>& structs;
      std::size_t lent = 0;
      ~Restore() {
        for (std::size_t i = 0; i < lent; ++i) events[i].body.swap(structs[i].body);
      }
    } restore{events, structs_};
    for (std::size_t i = 0; i < events.size(); ++i) {
      gen::ThriftFlumeEvent& te = structs_[i];
      te.headers.clear();
      for (const auto& [k, v] : events[i].headers) te.headers.emplace(k, v);
      te.body.clear();
      te.body.swap(events[i].body);
      restore.lent = i + 1;
    }
    beginFrame(*outBuf_);
    out_->writeMessageBegin("appendBatch", at::protocol::T_CALL, seqid);
    gen::ThriftSourceProtocol_appendBatch_pargs args;
    args.events = &structs_;
    args.write(out_.get());
    out_->writeMessageEnd();
    const std::string_view frame = endFrame(*outBuf_);
    if (structs_.capacity() > kKeepEvents) std::vector<gen::ThriftFlumeEvent>().swap(structs_);
    return frame;
  }

  sdk::Result reply(std::string_view payload, std::string_view method, int32_t seqid,
                    Status* status) override {
    observe(*inBuf_, payload);
    in_->setStringLimit(clampToInt(payload.size()));
    struct Forget {
      TMemoryBuffer& b;
      ~Forget() {
        b.resetBuffer();
        b.readEnd();
      }
    } forget{*inBuf_};
    std::string name;
    TMessageType type{};
    int32_t got = 0;
    in_->readMessageBegin(name, type, got);
    if (type == at::protocol::T_EXCEPTION) {
      at::TApplicationException x;
      x.read(in_.get());
      return sdk::Result::failure("the next hop answered with an exception: " +
                                  std::string(x.what()));
    }
    if (type != at::protocol::T_REPLY)
      return sdk::Result::failure("the answer is not a reply (message type " +
                                  std::to_string(static_cast<int>(type)) + ")");
    if (got != seqid || name != method)
      return sdk::Result::failure("the answer is to call " + name + " #" + std::to_string(got) +
                                  ", not " + std::string(method) + " #" + std::to_string(seqid));
    gen::Status::type value{};
    gen::ThriftSourceProtocol_appendBatch_presult result;
    result.success = &value;
    result.read(in_.get());
    in_->readMessageEnd();
    if (!result.__isset.success)
      return sdk::Result::failure("the reply carries no Status (MISSING_RESULT)");
    *status = value >= gen::Status::OK && value <= gen::Status::UNKNOWN ? static_cast<Status>(value)
                                                                        : Status::Unknown;
    return sdk::Result::success();
  }

 private:
  std::shared_ptr<TMemoryBuffer> inBuf_, outBuf_;
  std::shared_ptr<Protocol_> in_, out_;
  std::vector<gen::ThriftFlumeEvent> structs_;
};

template <class P>
std::unique_ptr<ClientCodec::Impl> makeClientCodec() {
  // A reply is a few bytes; a larger one is not Flume's.
  auto inBuf = makeBuffer(std::size_t{1} << 20);
  auto outBuf = makeBuffer(kMaxFrameLimit);
  auto in = std::make_shared<P>(inBuf);
  in->setContainerLimit(1 << 20);  // a reply has no containers: only skipped extra fields do
  auto out = std::make_shared<P>(outBuf);
  return std::make_unique<ClientCodecT<P>>(std::move(in), std::move(out), std::move(inBuf),
                                           std::move(outBuf));
}

}  // namespace

ClientCodec::ClientCodec(Protocol protocol)
    : impl_(protocol == Protocol::Binary ? makeClientCodec<BinaryProtocol>()
                                         : makeClientCodec<CompactProtocol>()) {}

ClientCodec::~ClientCodec() = default;

std::string_view ClientCodec::appendBatch(int32_t seqid, std::span<sdk::Event> events,
                                          std::string* error) noexcept {
  try {
    return impl_->appendBatch(seqid, events);
  } catch (const std::exception& e) {
    *error = std::string("cannot encode the batch: ") + e.what();
    return {};
  }
}

sdk::Result ClientCodec::reply(std::string_view payload, std::string_view method, int32_t seqid,
                               Status* status) noexcept {
  try {
    return impl_->reply(payload, method, seqid, status);
  } catch (const std::exception& e) {
    try {
      return sdk::Result::failure(std::string("bad answer: ") + e.what());
    } catch (...) {
      return sdk::Result::failure({});
    }
  }
}

}  // namespace sluice::plugins::thrift
