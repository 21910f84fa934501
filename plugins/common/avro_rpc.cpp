// Flume's Avro RPC protocol: the message encoding and the request/response state machines of
// both sides. The wire format and the contracts are described in avro_rpc.hpp.
#include "avro_rpc.hpp"

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "avro_binary.hpp"
#include "avro_container.hpp"
#include "sluice/sdk/event.hpp"

namespace sluice::plugins::avro {

const char* nameOf(HandshakeMatch m) noexcept {
  switch (m) {
    case HandshakeMatch::Both:
      return "BOTH";
    case HandshakeMatch::Client:
      return "CLIENT";
    case HandshakeMatch::None:
      return "NONE";
  }
  return "?";
}

const char* nameOf(RpcStatus s) noexcept {
  switch (s) {
    case RpcStatus::Ok:
      return "OK";
    case RpcStatus::Failed:
      return "FAILED";
    case RpcStatus::Unknown:
      return "UNKNOWN";
  }
  return "?";
}

const char* FrameDecoder::describe(Error e) noexcept {
  switch (e) {
    case Error::None:
      return "no error";
    case Error::NoBuffers:
      return "frame with no buffers (not Avro's Netty framing)";
    case Error::TooManyBuffers:
      return "frame with too many buffers";
    case Error::BadLength:
      return "negative buffer length";
    case Error::FrameTooLarge:
      return "frame larger than max-frame-size";
  }
  return "?";
}

bool skipMeta(AvroReader& in, const RpcLimits& limits) {
  std::size_t entries = 0;
  for (;;) {
    int64_t count = 0;
    if (!in.readBlockCount(count)) return false;
    if (count == 0) return true;
    if (static_cast<uint64_t>(count) > limits.maxMetaEntries - entries) return in.fail();
    entries += static_cast<std::size_t>(count);
    for (int64_t i = 0; i < count; ++i) {
      std::string_view k, v;
      if (!in.readBytes(k) || !in.readBytes(v)) return false;
    }
  }
}

bool skipOptionalMeta(AvroReader& in, const RpcLimits& limits) {
  int64_t branch = 0;
  if (!in.readLong(branch)) return false;
  if (branch == 0) return true;
  if (branch != 1) return in.fail();
  return skipMeta(in, limits);
}

bool readHandshakeRequest(AvroReader& in, const RpcLimits& limits, HandshakeRequestView& out) {
  int64_t branch = 0;
  if (!in.readFixed(out.clientHash.data(), 16) || !in.readLong(branch)) return false;
  if (branch == 1) {
    out.hasClientProtocol = true;
    if (!in.readBytes(out.clientProtocol, limits.maxProtocolBytes)) return false;
  } else if (branch != 0) {
    return in.fail();
  }
  return in.readFixed(out.serverHash.data(), 16) && skipOptionalMeta(in, limits);
}

void appendHandshakeRequest(std::string& out, const Md5& clientHash,
                            const std::string_view* clientProtocol, const Md5& serverHash) {
  out.append(reinterpret_cast<const char*>(clientHash.data()), clientHash.size());
  if (clientProtocol) {
    appendAvroLong(out, 1);
    appendAvroBytes(out, *clientProtocol);
  } else {
    appendAvroLong(out, 0);
  }
  out.append(reinterpret_cast<const char*>(serverHash.data()), serverHash.size());
  appendAvroLong(out, 0);
}

bool readHandshakeResponse(AvroReader& in, const RpcLimits& limits, HandshakeResponseView& out) {
  int32_t match = 0;
  int64_t branch = 0;
  if (!in.readInt(match) || match < 0 || match > 2) return in.fail();
  out.match = static_cast<HandshakeMatch>(match);
  if (!in.readLong(branch)) return false;
  if (branch == 1) {
    out.hasServerProtocol = true;
    if (!in.readBytes(out.serverProtocol, limits.maxProtocolBytes)) return false;
  } else if (branch != 0) {
    return in.fail();
  }
  if (!in.readLong(branch)) return false;
  if (branch == 1) {
    out.hasServerHash = true;
    if (!in.readFixed(out.serverHash.data(), 16)) return false;
  } else if (branch != 0) {
    return in.fail();
  }
  return skipOptionalMeta(in, limits);
}

void appendHandshakeResponse(std::string& out, HandshakeMatch match) {
  appendAvroLong(out, static_cast<int32_t>(match));
  if (match == HandshakeMatch::Both) {
    appendAvroLong(out, 0);
    appendAvroLong(out, 0);
  } else {
    appendAvroLong(out, 1);
    appendAvroBytes(out, kSourceProtocolJson);
    appendAvroLong(out, 1);
    out.append(reinterpret_cast<const char*>(kSourceProtocolMd5.data()), 16);
  }
  appendAvroLong(out, 0);
}

bool readFlumeEvent(AvroReader& in, const RpcLimits& limits, sdk::Event& event, bool* tooMany) {
  std::size_t headers = 0;
  for (;;) {
    int64_t count = 0;
    if (!in.readBlockCount(count)) return false;
    if (count == 0) break;
    if (static_cast<uint64_t>(count) > limits.maxHeaders - headers) {
      *tooMany = true;
      return in.fail();
    }
    headers += static_cast<std::size_t>(count);
    for (int64_t i = 0; i < count; ++i) {
      std::string_view k, v;
      if (!in.readBytes(k) || !in.readBytes(v)) return false;
      event.headers.set(k, v);  // a repeated key: the last value wins, as in Java's HashMap
    }
  }
  std::string_view body;
  if (!in.readBytes(body)) return false;
  event.body.assign(body.data(), body.size());
  return true;
}

void appendEventArray(std::string& out, std::span<const sdk::Event> events) {
  if (!events.empty()) {
    appendAvroLong(out, static_cast<int64_t>(events.size()));
    for (const sdk::Event& e : events) appendEventRecord(out, e);
  }
  appendAvroLong(out, 0);
}

void appendCallHeader(std::string& out, std::string_view message) {
  appendAvroLong(out, 0);
  appendAvroBytes(out, message);
}

void appendStatusResponse(std::string& out, RpcStatus status) {
  appendAvroLong(out, 0);  // metadata
  appendAvroBoolean(out, false);
  appendAvroLong(out, static_cast<int32_t>(status));
}

void appendErrorResponse(std::string& out, std::string_view message) {
  appendAvroLong(out, 0);
  appendAvroBoolean(out, true);
  appendAvroLong(out, 0);
  appendAvroBytes(out, message);
}

bool KnownClientProtocols::contains(const Md5& h) const {
  if (h == kSourceProtocolMd5) return true;
  std::lock_guard<std::mutex> lock(mu_);
  for (const Md5& k : known_)
    if (k == h) return true;
  return false;
}

void KnownClientProtocols::add(const Md5& h) {
  if (h == kSourceProtocolMd5) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (const Md5& k : known_)
    if (k == h) return;
  if (known_.size() == kCapacity) known_.erase(known_.begin());
  known_.push_back(h);
}

bool decodeRequest(std::string_view payload, bool& handshaken, KnownClientProtocols& known,
                   const RpcLimits& limits, std::string& reply, sdk::EventBatch& events,
                   RequestInfo& info) {
  AvroReader in(payload);
  if (!handshaken) {
    HandshakeRequestView hs;
    if (!readHandshakeRequest(in, limits, hs)) {
      info.problem = "malformed handshake request";
      return false;
    }
    info.hadHandshake = true;
    bool knowsClient = known.contains(hs.clientHash);
    if (!knowsClient && hs.hasClientProtocol) {
      // Like Java's Responder, the text is taken as the client's protocol without a check: the
      // requests are read with our own schema, and a client whose messages differ fails to
      // decode and is dropped.
      known.add(hs.clientHash);
      knowsClient = true;
    }
    if (!knowsClient)
      info.match = HandshakeMatch::None;
    else
      info.match =
          hs.serverHash == kSourceProtocolMd5 ? HandshakeMatch::Both : HandshakeMatch::Client;
    appendHandshakeResponse(reply, info.match);
    if (info.match == HandshakeMatch::None) {
      info.kind = RequestKind::HandshakeRefused;
      return true;
    }
    handshaken = true;
  }
  if (!skipMeta(in, limits) || !in.readBytes(info.message, 1024)) {
    info.problem = "malformed call header";
    return false;
  }
  bool tooMany = false;
  if (info.message.empty()) {
    info.kind = RequestKind::Ping;
    return true;
  }
  if (info.message == "append") {
    info.kind = RequestKind::Append;
    if (!readFlumeEvent(in, limits, events.emplace_back(), &tooMany)) {
      if (tooMany) {
        info.kind = RequestKind::TooLarge;
        info.problem = "event with more headers than max-headers";
        return true;
      }
      info.problem = "malformed append event";
      return false;
    }
  } else if (info.message == "appendBatch") {
    info.kind = RequestKind::AppendBatch;
    std::size_t total = 0;
    for (;;) {
      int64_t count = 0;
      if (!in.readBlockCount(count)) {
        info.problem = "malformed appendBatch array";
        return false;
      }
      if (count == 0) break;
      // Every event takes at least 2 bytes: a count that cannot fit is malformed, whatever the
      // limits say.
      if (static_cast<uint64_t>(count) > in.remaining() / 2) {
        info.problem = "appendBatch count larger than its frame";
        return false;
      }
      if (static_cast<uint64_t>(count) > limits.maxBatchEvents - total) {
        info.kind = RequestKind::TooLarge;
        info.problem = "appendBatch with more events than max-batch-size";
        return true;
      }
      total += static_cast<std::size_t>(count);
      for (int64_t i = 0; i < count; ++i) {
        if (!readFlumeEvent(in, limits, events.emplace_back(), &tooMany)) {
          if (tooMany) {
            info.kind = RequestKind::TooLarge;
            info.problem = "event with more headers than max-headers";
            return true;
          }
          info.problem = "malformed appendBatch event";
          return false;
        }
      }
    }
  } else {
    info.kind = RequestKind::Unknown;
    return true;
  }
  if (!in.atEnd()) {
    info.problem = "bytes after the request's parameters";
    return false;
  }
  return true;
}

void appendClientHandshake(std::string& out, const ClientHandshake& hs) {
  if (hs.done) return;
  std::string_view text = kSourceProtocolJson;
  appendHandshakeRequest(out, kSourceProtocolMd5, hs.sendProtocol ? &text : nullptr, hs.serverHash);
}

ResponseKind readCallResponse(std::string_view payload, ClientHandshake& hs,
                              const RpcLimits& limits, RpcStatus& status, std::string& error) {
  AvroReader in(payload);
  if (!hs.done) {
    HandshakeResponseView r;
    if (!readHandshakeResponse(in, limits, r)) {
      error = "malformed handshake response";
      return ResponseKind::Malformed;
    }
    hs.lastMatch = r.match;
    if (r.hasServerHash) hs.serverHash = r.serverHash;
    if (r.match == HandshakeMatch::None) {
      hs.sendProtocol = true;
      return ResponseKind::Resend;
    }
    hs.done = true;
    hs.sendProtocol = false;
  }
  bool isError = false;
  if (!skipMeta(in, limits) || !in.readBoolean(isError)) {
    error = "malformed response header";
    return ResponseKind::Malformed;
  }
  if (isError) {
    int64_t branch = 0;
    std::string_view text;
    if (!in.readLong(branch) || branch != 0 || !in.readBytes(text, 1u << 20)) {
      error = "the server answered an error that is not a string";
      return ResponseKind::Error;
    }
    error.assign(text.data(), text.size());
    return ResponseKind::Error;
  }
  int32_t s = 0;
  if (!in.readInt(s) || s < 0 || s > 2) {
    error = "malformed Status";
    return ResponseKind::Malformed;
  }
  status = static_cast<RpcStatus>(s);
  return ResponseKind::Status;
}

}  // namespace sluice::plugins::avro
