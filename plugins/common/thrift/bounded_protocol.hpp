#pragma once
// Internal to flume_rpc.cpp: libthrift's compact and binary protocols over a TMemoryBuffer, with
// the limits that make decoding untrusted bytes safe, which libthrift 0.17 does not give by
// itself (found by the fuzz target, tests/fuzz/corpus/thrift_frame/):
//  - Strings. TBinaryProtocol sizes a string to its announced length before checking the bytes
//    left, and TCompactProtocol grows its scratch buffer to it: a few bytes could ask for 2 GB.
//    The structs' strings are read here straight from the frame, once their length fits in what
//    the frame still holds (nothing is sized by a length that does not); libthrift's own reads
//    are bounded by setStringLimit(frame size), as no string can be longer than its frame.
//  - Containers. A list of structs passes libthrift's "bytes left" check whatever its length (an
//    empty struct has no minimum size), and the generated code then sizes a vector to it; a
//    length near 2^31 also overflows the int arithmetic of that check. The container limit
//    (max-batch-size) is libthrift's own, checked before both; the structs' lists and maps
//    report it as ContainerLimitExceeded, which a caller can tell from a malformed frame: such a
//    request is refused, the connection kept.
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
#include <type_traits>

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
  void setContainerLimit(int32_t limit) noexcept { this->container_limit_ = limit; }

  // The strings and binaries of the generated structs (the compact protocol would also copy
  // each one twice, through its scratch buffer).
  uint32_t readBinary(std::string& str) {
    using ::apache::thrift::protocol::TProtocolException;
    using ::apache::thrift::transport::TTransportException;
    int32_t size = 0;
    const uint32_t header = readLength(size);
    if (size < 0) throw TProtocolException(TProtocolException::NEGATIVE_SIZE);
    if (size == 0) {
      str.clear();
      return header;
    }
    auto available = static_cast<uint32_t>(size);
    const uint8_t* bytes = this->trans_->borrow(nullptr, &available);  // null: not that many left
    if (bytes == nullptr)
      throw TTransportException(TTransportException::END_OF_FILE,
                                "a string longer than the rest of its frame");
    str.assign(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(size));
    this->trans_->consume(static_cast<uint32_t>(size));
    return header + static_cast<uint32_t>(size);
  }
  uint32_t readString(std::string& str) { return readBinary(str); }

  uint32_t readListBegin(TType& elemType, uint32_t& size) {
    return containerLimited([&] { return Base::readListBegin(elemType, size); });
  }
  uint32_t readMapBegin(TType& keyType, TType& valType, uint32_t& size) {
    return containerLimited([&] { return Base::readMapBegin(keyType, valType, size); });
  }

 private:
  // A string's length as each protocol writes it: a varint (compact) or 4 bytes (binary).
  uint32_t readLength(int32_t& size) {
    if constexpr (std::is_same_v<Base, ::apache::thrift::protocol::TCompactProtocolT<
                                           ::apache::thrift::transport::TMemoryBuffer>>)
      return this->readVarint32(size);
    else
      return this->readI32(size);
  }

  // A container header reads no string, so its SIZE_LIMIT is the container limit's.
  template <class Read>
  static uint32_t containerLimited(Read read) {
    using ::apache::thrift::protocol::TProtocolException;
    try {
      return read();
    } catch (const TProtocolException& e) {
      if (e.getType() == TProtocolException::SIZE_LIMIT) throw ContainerLimitExceeded();
      throw;
    }
  }
};

using BinaryProtocol = BoundedProtocol<
    ::apache::thrift::protocol::TBinaryProtocolT<::apache::thrift::transport::TMemoryBuffer>>;

using CompactProtocol = BoundedProtocol<
    ::apache::thrift::protocol::TCompactProtocolT<::apache::thrift::transport::TMemoryBuffer>>;

}  // namespace sluice::plugins::thrift
