#pragma once
// Avro's binary encoding (Avro 1.11 specification, "Binary Encoding"): the primitives that the
// avro_event container (avro_container.hpp) and the Avro RPC protocol (avro_rpc.hpp) share, so
// there is one encoder and one decoder of Avro data in the tree. Header-only: compiled into each
// plugin that uses it.
//
// The reader is for data from outside: every read is bounded by the input, a length is checked
// against the bytes that are left (and against a caller's limit) before anything is allocated,
// and a failure is a false return, never an exception or a read past the end.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sluice::plugins::avro {

// Avro's long (and int): zig-zag, then base-128 varint, least significant group first.
inline void appendAvroLong(std::string& out, int64_t value) {
  uint64_t n = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  char buf[10];
  std::size_t len = 0;
  while (n >= 0x80) {
    buf[len++] = static_cast<char>((n & 0x7f) | 0x80);
    n >>= 7;
  }
  buf[len++] = static_cast<char>(n);
  out.append(buf, len);
}

// Avro's bytes and string: a long length, then the bytes.
inline void appendAvroBytes(std::string& out, std::string_view bytes) {
  appendAvroLong(out, static_cast<int64_t>(bytes.size()));
  out.append(bytes.data(), bytes.size());
}

// Avro's boolean: one byte, 0 or 1.
inline void appendAvroBoolean(std::string& out, bool value) { out.push_back(value ? 1 : 0); }

// Reads Avro binary data from one contiguous buffer. Once a read fails the reader stays failed
// (ok() is false) and every later read fails too, so a decoder may check once at the end.
class AvroReader {
 public:
  AvroReader(const char* data, std::size_t size) noexcept : p_(data), end_(data + size) {}
  explicit AvroReader(std::string_view s) noexcept : AvroReader(s.data(), s.size()) {}

  bool ok() const noexcept { return ok_; }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }
  bool atEnd() const noexcept { return p_ == end_; }
  const char* position() const noexcept { return p_; }
  // Marks the data invalid (a decoder found a value it does not accept).
  bool fail() noexcept {
    ok_ = false;
    p_ = end_;
    return false;
  }

  bool readLong(int64_t& out) noexcept {
    if (!ok_) return false;
    uint64_t n = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ == end_) return fail();
      const auto b = static_cast<unsigned char>(*p_++);
      if (shift == 63 && (b & 0x7e) != 0) return fail();  // more than 64 bits
      n |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        out = static_cast<int64_t>(n >> 1) ^ -static_cast<int64_t>(n & 1);
        return true;
      }
    }
    return fail();
  }
  // An Avro int: a long that must fit 32 bits.
  bool readInt(int32_t& out) noexcept {
    int64_t v = 0;
    if (!readLong(v) || v < INT32_MIN || v > INT32_MAX) return fail();
    out = static_cast<int32_t>(v);
    return true;
  }
  bool readBoolean(bool& out) noexcept {
    if (!ok_ || p_ == end_) return fail();
    const auto b = static_cast<unsigned char>(*p_++);
    if (b > 1) return fail();
    out = b == 1;
    return true;
  }
  // bytes or string: a view into the input (valid as long as the input), at most maxLen bytes.
  bool readBytes(std::string_view& out, std::size_t maxLen = SIZE_MAX) noexcept {
    int64_t len = 0;
    if (!readLong(len) || len < 0 || static_cast<uint64_t>(len) > remaining() ||
        static_cast<uint64_t>(len) > maxLen)
      return fail();
    out = std::string_view(p_, static_cast<std::size_t>(len));
    p_ += len;
    return true;
  }
  // A fixed of n bytes.
  bool readFixed(void* out, std::size_t n) noexcept {
    if (!ok_ || remaining() < n) return fail();
    std::memcpy(out, p_, n);
    p_ += n;
    return true;
  }
  // The count of the next block of an array or map (0 ends it). A negative count is followed by
  // the block's size in bytes, which is read and ignored; the count is returned positive.
  bool readBlockCount(int64_t& count) noexcept {
    if (!readLong(count)) return false;
    if (count < 0) {
      if (count == INT64_MIN) return fail();
      count = -count;
      int64_t bytes = 0;
      if (!readLong(bytes) || bytes < 0) return fail();
    }
    return true;
  }

 private:
  const char* p_;
  const char* end_;
  bool ok_ = true;
};

}  // namespace sluice::plugins::avro
