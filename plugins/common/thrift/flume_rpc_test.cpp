// The Thrift codec against libthrift's own generated client (ThriftSourceProtocolClient over
// TFramedTransport, what a C++ Thrift application sends): its calls decode, our replies are what
// it expects, and bad bytes are errors, never crashes or unbounded allocations. The wire-level
// interop with other implementations is tests/e2e/test_thrift.py (Python, thrift-compiler).
#include "thrift/flume_rpc.hpp"

#include <thrift/TApplicationException.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "ThriftSourceProtocol.h"

namespace rpc = sluice::plugins::thrift;
namespace gen = sluice::plugins::thrift::gen;
namespace sdk = sluice::sdk;
namespace at = ::apache::thrift;
using at::transport::TFramedTransport;
using at::transport::TMemoryBuffer;

namespace {

// libthrift's generated client writing into (and reading from) memory through the framed
// transport, as it would over a socket.
struct GeneratedClient {
  std::shared_ptr<TMemoryBuffer> wire = std::make_shared<TMemoryBuffer>();
  std::shared_ptr<TFramedTransport> framed = std::make_shared<TFramedTransport>(wire);
  std::unique_ptr<gen::ThriftSourceProtocolClient> client;

  explicit GeneratedClient(rpc::Protocol p) {
    std::shared_ptr<at::protocol::TProtocol> prot;
    if (p == rpc::Protocol::Binary)
      prot = std::make_shared<at::protocol::TBinaryProtocol>(framed);
    else
      prot = std::make_shared<at::protocol::TCompactProtocol>(framed);
    client = std::make_unique<gen::ThriftSourceProtocolClient>(prot);
  }
  std::string sent() {
    std::string s = wire->getBufferAsString();
    wire->resetBuffer();
    return s;
  }
  void receive(std::string_view bytes) {
    wire->resetBuffer();
    wire->write(reinterpret_cast<const uint8_t*>(bytes.data()),
                static_cast<uint32_t>(bytes.size()));
  }
};

gen::ThriftFlumeEvent makeEvent(std::map<std::string, std::string> headers, std::string body) {
  gen::ThriftFlumeEvent e;
  e.headers = std::move(headers);
  e.body = std::move(body);
  return e;
}

// Writes an appendBatch call by hand, up to the first event's `headers` field header, for
// payloads the generated client never sends. `events` is the list's announced length.
void beginHandWrittenBatch(at::protocol::TProtocol& prot, uint32_t events) {
  prot.writeMessageBegin("appendBatch", at::protocol::T_CALL, 1);
  prot.writeStructBegin("args");
  prot.writeFieldBegin("events", at::protocol::T_LIST, 1);
  prot.writeListBegin(at::protocol::T_STRUCT, events);
  prot.writeStructBegin("ThriftFlumeEvent");
  prot.writeFieldBegin("headers", at::protocol::T_MAP, 1);
}

// The payload of the one complete frame in `bytes`.
std::string_view payloadOf(std::string_view bytes) {
  std::size_t n = 0;
  REQUIRE(rpc::checkFrame(bytes, rpc::kFlumeMaxFrameBytes, &n) == rpc::FrameCheck::Complete);
  REQUIRE(bytes.size() == rpc::kFrameHeaderBytes + n);
  return bytes.substr(rpc::kFrameHeaderBytes);
}

}  // namespace

TEST_CASE("frames: header, limits, incomplete") {
  std::size_t n = 0;
  CHECK(rpc::checkFrame("", 100, &n) == rpc::FrameCheck::Incomplete);
  CHECK(rpc::checkFrame(std::string("\0\0\0", 3), 100, &n) == rpc::FrameCheck::Incomplete);
  const std::string five("\0\0\0\x05", 4);
  CHECK(rpc::checkFrame(five + "abc", 100, &n) == rpc::FrameCheck::Incomplete);
  CHECK(n == 5);
  CHECK(rpc::checkFrame(five + "abcde!", 100, &n) == rpc::FrameCheck::Complete);
  CHECK(rpc::checkFrame(std::string("\0\0\0\x65", 4), 100, &n) == rpc::FrameCheck::TooLarge);
  CHECK(rpc::checkFrame(std::string("\x7f\xff\xff\xff", 4), 100, &n) == rpc::FrameCheck::TooLarge);
  CHECK(rpc::checkFrame(std::string("\xff\xff\xff\xfb", 4), 100, &n) == rpc::FrameCheck::Invalid);
  CHECK(rpc::checkFrame(std::string("\0\0\0\0", 4), 100, &n) == rpc::FrameCheck::Invalid);
}

TEST_CASE("the generated client's calls decode; its replies are ours") {
  for (rpc::Protocol p : {rpc::Protocol::Compact, rpc::Protocol::Binary}) {
    CAPTURE(rpc::nameOf(p));
    GeneratedClient c(p);
    rpc::RequestDecoder decoder(p, {});
    std::vector<gen::ThriftFlumeEvent> events;
    events.push_back(makeEvent({{"host", "h\xc3\xa9"}, {"seq", "0"}}, "first"));
    events.push_back(makeEvent({}, std::string("\0bin\xff", 5)));
    events.push_back(makeEvent({{"empty", ""}}, ""));
    c.client->send_appendBatch(events);
    sdk::EventBatch batch;
    rpc::Request req;
    std::string error;
    const std::string frame = c.sent();
    REQUIRE_MESSAGE(decoder.decode(payloadOf(frame), batch, req, &error), error);
    CHECK(req.call == rpc::Request::Call::AppendBatch);
    CHECK(req.method == "appendBatch");
    REQUIRE(batch.size() == 3);
    CHECK(batch[0].body == "first");
    CHECK(batch[0].headers == sdk::Headers{{"host", "h\xc3\xa9"}, {"seq", "0"}});
    CHECK(batch[1].body == std::string("\0bin\xff", 5));
    CHECK(batch[1].headers.empty());
    CHECK(batch[2].body.empty());
    CHECK(batch[2].headers.get("empty", "x").empty());

    c.receive(decoder.statusReply(req, rpc::Status::Failed));
    CHECK(c.client->recv_appendBatch() == gen::Status::FAILED);

    c.client->send_append(makeEvent({{"one", "1"}}, "single"));
    batch.clear();
    REQUIRE_MESSAGE(decoder.decode(payloadOf(c.sent()), batch, req, &error), error);
    CHECK(req.call == rpc::Request::Call::Append);
    REQUIRE(batch.size() == 1);
    CHECK(batch[0].body == "single");
    c.receive(decoder.statusReply(req, rpc::Status::Ok));
    CHECK(c.client->recv_append() == gen::Status::OK);
  }
}

TEST_CASE("the sink's encoding is read by libthrift's generated structs; events stay intact") {
  for (rpc::Protocol p : {rpc::Protocol::Compact, rpc::Protocol::Binary}) {
    CAPTURE(rpc::nameOf(p));
    rpc::ClientCodec codec(p);
    sdk::EventBatch events;
    events.emplace_back(sdk::Headers{{"a", "1"}, {"b", "2"}}, "body one");
    events.emplace_back(std::string(100000, 'x'));  // beyond the small-string buffer
    events.emplace_back(std::string("\0\xff", 2));
    std::string error;
    const std::string frame(codec.appendBatch(41, events, &error));
    REQUIRE_MESSAGE(!frame.empty(), error);
    CHECK(events[0].body == "body one");
    CHECK(events[1].body == std::string(100000, 'x'));
    CHECK(events[2].body == std::string("\0\xff", 2));
    CHECK(events[0].headers.size() == 2);

    // libthrift reads it back with the generated argument struct.
    const std::string_view payload = payloadOf(frame);
    auto buf = std::make_shared<TMemoryBuffer>(
        const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(payload.data())),
        static_cast<uint32_t>(payload.size()));
    std::unique_ptr<at::protocol::TProtocol> prot;
    if (p == rpc::Protocol::Binary)
      prot = std::make_unique<at::protocol::TBinaryProtocol>(buf);
    else
      prot = std::make_unique<at::protocol::TCompactProtocol>(buf);
    std::string name;
    at::protocol::TMessageType type{};
    int32_t seqid = 0;
    prot->readMessageBegin(name, type, seqid);
    CHECK(name == "appendBatch");
    CHECK(type == at::protocol::T_CALL);
    CHECK(seqid == 41);
    gen::ThriftSourceProtocol_appendBatch_args args;
    args.read(prot.get());
    REQUIRE(args.events.size() == 3);
    CHECK(args.events[0].headers == std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}});
    CHECK(args.events[1].body.size() == 100000);
    CHECK(args.events[2].body == std::string("\0\xff", 2));

    // And the reply to it, written by our server side, is read by the client side.
    rpc::RequestDecoder decoder(p, {});
    sdk::EventBatch got;
    rpc::Request req;
    REQUIRE(decoder.decode(payload, got, req, &error));
    CHECK(req.seqid == 41);
    rpc::Status status = rpc::Status::Unknown;
    const std::string ok(decoder.statusReply(req, rpc::Status::Ok));
    REQUIRE(codec.reply(payloadOf(ok), "appendBatch", 41, &status).ok());
    CHECK(status == rpc::Status::Ok);
    // A reply to another call is not this call's answer.
    const sdk::Result wrong = codec.reply(payloadOf(ok), "appendBatch", 42, &status);
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().find("#41") != std::string::npos);
  }
}

TEST_CASE("unknown methods and limits are refused with Thrift's exception; the frame is consumed") {
  GeneratedClient c(rpc::Protocol::Compact);
  rpc::ServerLimits limits;
  limits.maxBatchEvents = 10;
  limits.maxHeaders = 2;
  rpc::RequestDecoder decoder(rpc::Protocol::Compact, limits);
  sdk::EventBatch batch;
  rpc::Request req;
  std::string error;

  // A call of a method the service does not have, written with libthrift's protocol.
  {
    auto buf = std::make_shared<TMemoryBuffer>();
    auto framed = std::make_shared<TFramedTransport>(buf);
    at::protocol::TCompactProtocol prot(framed);
    prot.writeMessageBegin("ping", at::protocol::T_CALL, 7);
    prot.writeStructBegin("ping_args");
    prot.writeFieldStop();
    prot.writeStructEnd();
    prot.writeMessageEnd();
    framed->flush();
    REQUIRE(decoder.decode(payloadOf(buf->getBufferAsString()), batch, req, &error));
    CHECK(req.call == rpc::Request::Call::Refused);
    CHECK(req.unknownMethod);
    c.receive(decoder.exceptionReply(req));
    std::string name;
    at::protocol::TMessageType type{};
    int32_t seqid = 0;
    c.client->getInputProtocol()->readMessageBegin(name, type, seqid);
    CHECK(type == at::protocol::T_EXCEPTION);
    CHECK(name == "ping");
    CHECK(seqid == 7);
    at::TApplicationException x;
    x.read(c.client->getInputProtocol().get());
    CHECK(x.getType() == at::TApplicationException::UNKNOWN_METHOD);
  }

  std::vector<gen::ThriftFlumeEvent> eleven(11, makeEvent({}, "e"));
  c.client->send_appendBatch(eleven);
  REQUIRE(decoder.decode(payloadOf(c.sent()), batch, req, &error));
  CHECK(req.call == rpc::Request::Call::Refused);
  CHECK(req.refusal.find("max-batch-size") != std::string::npos);
  CHECK(batch.empty());
  c.receive(decoder.exceptionReply(req));
  CHECK_THROWS_AS(c.client->recv_appendBatch(), at::TApplicationException);

  c.client->send_appendBatch({makeEvent({{"a", "1"}, {"b", "2"}, {"c", "3"}}, "three headers")});
  REQUIRE(decoder.decode(payloadOf(c.sent()), batch, req, &error));
  CHECK(req.call == rpc::Request::Call::Refused);
  CHECK(req.refusal.find("max-headers") != std::string::npos);
  CHECK(batch.empty());

  std::vector<gen::ThriftFlumeEvent> ten(10, makeEvent({{"a", "1"}}, "e"));
  c.client->send_appendBatch(ten);
  REQUIRE(decoder.decode(payloadOf(c.sent()), batch, req, &error));
  CHECK(req.call == rpc::Request::Call::AppendBatch);
  CHECK(batch.size() == 10);
}

TEST_CASE("malformed payloads are errors that leave nothing behind") {
  rpc::RequestDecoder compact(rpc::Protocol::Compact, {});
  rpc::RequestDecoder binary(rpc::Protocol::Binary, {});
  sdk::EventBatch batch;
  rpc::Request req;
  std::string error;

  CHECK_FALSE(compact.decode("GET / HTTP/1.1\r\n\r\n", batch, req, &error));
  CHECK_FALSE(error.empty());
  CHECK_FALSE(binary.decode(std::string(64, '\xee'), batch, req, &error));

  // A valid call cut short: every prefix fails and nothing is left in the batch.
  GeneratedClient c(rpc::Protocol::Compact);
  c.client->send_appendBatch({makeEvent({{"k", "v"}}, "body"), makeEvent({}, "two")});
  const std::string frame = c.sent();
  const std::string_view payload = payloadOf(frame);
  for (std::size_t cut = 1; cut < payload.size(); ++cut) {
    CAPTURE(cut);
    CHECK_FALSE(compact.decode(payload.substr(0, cut), batch, req, &error));
    CHECK(batch.empty());
  }
  REQUIRE(compact.decode(payload, batch, req, &error));
  CHECK(batch.size() == 2);
  batch.clear();

  // The other protocol: named in the error.
  CHECK_FALSE(binary.decode(payload, batch, req, &error));
  CHECK(error.find("set protocol = compact") != std::string::npos);
  CHECK(req.otherProtocol);
  GeneratedClient b(rpc::Protocol::Binary);
  b.client->send_appendBatch({makeEvent({}, "x")});
  CHECK_FALSE(compact.decode(payloadOf(b.sent()), batch, req, &error));
  CHECK(error.find("set protocol = binary") != std::string::npos);
  CHECK(req.otherProtocol);
  CHECK_FALSE(compact.decode("GET / HTTP/1.1\r\n\r\n", batch, req, &error));
  CHECK_FALSE(req.otherProtocol);

  // A required field missing: a ThriftFlumeEvent without its body.
  {
    auto buf = std::make_shared<TMemoryBuffer>();
    at::protocol::TCompactProtocol prot(buf);
    beginHandWrittenBatch(prot, 1);
    prot.writeMapBegin(at::protocol::T_STRING, at::protocol::T_STRING, 0);
    prot.writeMapEnd();
    prot.writeFieldEnd();
    prot.writeFieldStop();
    prot.writeStructEnd();
    prot.writeListEnd();
    prot.writeFieldEnd();
    prot.writeFieldStop();
    prot.writeStructEnd();
    prot.writeMessageEnd();
    CHECK_FALSE(compact.decode(buf->getBufferAsString(), batch, req, &error));
    CHECK(batch.empty());
  }

  // A list that announces two billion events in a few bytes: refused by the container limit
  // before anything is sized by it.
  {
    auto buf = std::make_shared<TMemoryBuffer>();
    at::protocol::TCompactProtocol prot(buf);
    beginHandWrittenBatch(prot, 0x7fffffff);
    REQUIRE(compact.decode(buf->getBufferAsString(), batch, req, &error));
    CHECK(req.call == rpc::Request::Call::Refused);
    CHECK(batch.empty());
  }

  // A map that announces two billion headers, in the binary protocol (whose "bytes left" check
  // would multiply that by 8 in an int): refused by the container limit before that check.
  {
    auto buf = std::make_shared<TMemoryBuffer>();
    at::protocol::TBinaryProtocol prot(buf);
    beginHandWrittenBatch(prot, 1);
    prot.writeMapBegin(at::protocol::T_STRING, at::protocol::T_STRING, 0x7fffffff);
    prot.writeString(std::string("k"));
    prot.writeString(std::string("v"));
    REQUIRE(binary.decode(buf->getBufferAsString(), batch, req, &error));
    CHECK(req.call == rpc::Request::Call::Refused);
    CHECK(batch.empty());
  }

  // A header value or a body announcing two billion bytes in a frame of a few dozen: an error
  // (the frame is malformed, not a request beyond a limit), in both protocols, whichever string
  // carries it, without sizing anything by the announced length.
  for (const rpc::Protocol p : {rpc::Protocol::Compact, rpc::Protocol::Binary}) {
    for (const bool inBody : {false, true}) {
      CAPTURE(rpc::nameOf(p));
      CAPTURE(inBody);
      auto buf = std::make_shared<TMemoryBuffer>();
      std::shared_ptr<at::protocol::TProtocol> prot;
      if (p == rpc::Protocol::Binary)
        prot = std::make_shared<at::protocol::TBinaryProtocol>(buf);
      else
        prot = std::make_shared<at::protocol::TCompactProtocol>(buf);
      beginHandWrittenBatch(*prot, 1);
      prot->writeMapBegin(at::protocol::T_STRING, at::protocol::T_STRING, inBody ? 0 : 1);
      if (!inBody)
        prot->writeString("key");
      else {
        prot->writeMapEnd();
        prot->writeFieldEnd();
        prot->writeFieldBegin("body", at::protocol::T_STRING, 2);
      }
      // The length of the next string, as each protocol writes it: 0x7ffffff0.
      if (p == rpc::Protocol::Binary) {
        prot->writeI32(0x7ffffff0);
      } else {
        const uint8_t varint[] = {0xf0, 0xff, 0xff, 0xff, 0x07};
        buf->write(varint, sizeof varint);
      }
      buf->write(reinterpret_cast<const uint8_t*>("abc"), 3);
      rpc::RequestDecoder& decoder = p == rpc::Protocol::Binary ? binary : compact;
      error.clear();
      CHECK_FALSE(decoder.decode(buf->getBufferAsString(), batch, req, &error));
      CHECK_FALSE(error.empty());
      CHECK(batch.empty());
    }
  }

  // The decoder still works after all that.
  GeneratedClient again(rpc::Protocol::Compact);
  again.client->send_appendBatch({makeEvent({}, "after")});
  REQUIRE(compact.decode(payloadOf(again.sent()), batch, req, &error));
  REQUIRE(batch.size() == 1);
  CHECK(batch[0].body == "after");
}
