#pragma once
// Internal to flume_rpc.cpp: libthrift's compact and binary protocols over a TMemoryBuffer, with
// the limits that make decoding untrusted bytes safe, which libthrift 0.17 does not give by
// itself (found by the fuzz target, tests/fuzz/corpus/thrift_frame/):
//  - Strings. TBinaryProtocol sizes a string to its announced length before checking the bytes
//    left, and TCompactProtocol grows its scratch buffer to it: a few bytes could ask for 2 GB.
//    setStringLimit(frame size) bounds both, as no string can be longer than its frame.
//  - Containers. A list of structs passes libthrift's "bytes left" check whatever its length (an
//    empty struct has no minimum size), and the generated code then sizes a vector to it. The
//    container limit (max-batch-size) is checked here and raises ContainerLimitExceeded, which
//    a caller can tell from a malformed frame: such a request is refused, the connection kept.
//
// The generated read()/write() templates are instantiated with these classes, so the overrides
// below are what they call (static dispatch); libthrift's own internal reads (the message name,
// skip()) call the base versions, which the string limit bounds.

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TTransportException.h>

#include <cstdint>
#include <memory>
#include <string>

namespace sluice::plugins::thrift {

struct ContainerLimitExceeded : ::apache::thrift::protocol::TProtocolException {
  ContainerLimitExceeded()
      : TProtocolException(SIZE_LIMIT, "a list or map larger than the container limit") {}
};

template <class Base>
class BoundedProtocol : public Base {
 public:
  using TType = ::apache::thrift::protocol::TType;

  // Strict read off, strict write on for the binary protocol: libthrift's defaults, as Flume's
  // Java server has them (messages with or without a version are read).
  explicit BoundedProtocol(std::shared_ptr<::apache::thrift::transport::TMemoryBuffer> buffer)
      : Base(std::move(buffer)) {}

  // 0: none. The string limit is meant to be set per frame, to its size.
  void setStringLimit(int32_t limit) noexcept { this->string_limit_ = limit; }
  void setContainerLimit(int32_t limit) noexcept { containerLimit_ = limit; }

  uint32_t readListBegin(TType& elemType, uint32_t& size) {
    const uint32_t n = Base::readListBegin(elemType, size);
    check(size);
    return n;
  }
  uint32_t readMapBegin(TType& keyType, TType& valType, uint32_t& size) {
    const uint32_t n = Base::readMapBegin(keyType, valType, size);
    check(size);
    return n;
  }

 private:
  void check(uint32_t size) const {
    if (containerLimit_ > 0 && size > static_cast<uint32_t>(containerLimit_))
      throw ContainerLimitExceeded();
  }

  int32_t containerLimit_ = 0;
};

using BinaryProtocol = BoundedProtocol<
    ::apache::thrift::protocol::TBinaryProtocolT<::apache::thrift::transport::TMemoryBuffer>>;

// TCompactProtocol also reads every string through its scratch buffer and copies it again: the
// strings of the structs are read here straight from the memory buffer instead, once their
// length fits in what the frame still holds.
class CompactProtocol final : public BoundedProtocol<::apache::thrift::protocol::TCompactProtocolT<
                                  ::apache::thrift::transport::TMemoryBuffer>> {
 public:
  using BoundedProtocol::BoundedProtocol;

  uint32_t readBinary(std::string& str) {
    using ::apache::thrift::protocol::TProtocolException;
    using ::apache::thrift::transport::TTransportException;
    int32_t size = 0;
    const uint32_t header = readVarint32(size);
    if (size < 0) throw TProtocolException(TProtocolException::NEGATIVE_SIZE);
    if (size == 0) {
      str.clear();
      return header;
    }
    auto available = static_cast<uint32_t>(size);
    const uint8_t* bytes = trans_->borrow(nullptr, &available);  // null: not that many left
    if (bytes == nullptr)
      throw TTransportException(TTransportException::END_OF_FILE,
                                "a string longer than the rest of its frame");
    str.assign(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(size));
    trans_->consume(static_cast<uint32_t>(size));
    return header + static_cast<uint32_t>(size);
  }
  uint32_t readString(std::string& str) { return readBinary(str); }
};

}  // namespace sluice::plugins::thrift
