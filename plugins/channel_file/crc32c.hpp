#pragma once
// CRC-32C (Castagnoli), the checksum of every log record and checkpoint. Uses the SSE4.2 crc32
// instruction when the CPU has it (about 8 bytes per cycle), a table otherwise. Both give the
// same value, so files move between machines.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace sluice::plugins::filechannel {

namespace detail {

constexpr std::array<uint32_t, 256> makeCrc32cTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
inline constexpr std::array<uint32_t, 256> kCrc32cTable = makeCrc32cTable();

inline uint32_t crc32cSoftware(uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) crc = kCrc32cTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) inline uint32_t crc32cHardware(uint32_t crc,
                                                                 const unsigned char* p,
                                                                 std::size_t n) noexcept {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, *p++);
    --n;
  }
  return c32;
}
#endif

}  // namespace detail

// crc32c(data) of a whole buffer; pass the previous result as `seed` to continue one.
inline uint32_t crc32c(const void* data, std::size_t n, uint32_t seed = 0) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t crc = ~seed;
#if defined(__x86_64__)
  static const bool hw = __builtin_cpu_supports("sse4.2");  // immutable after first use
  crc = hw ? detail::crc32cHardware(crc, p, n) : detail::crc32cSoftware(crc, p, n);
#else
  crc = detail::crc32cSoftware(crc, p, n);
#endif
  return ~crc;
}

// CRC-32C fed piece by piece, from values and from the memory they come from, while a record
// is encoded. The same value as crc32c() over the encoded bytes, without reading back bytes
// just stored: an 8-byte load over several smaller, recent stores cannot be forwarded from the
// store buffer and stalls, which made checksumming a fresh 100-byte record cost several times
// checksumming one read from disk.
class Crc32cStream {
 public:
  void u8(uint8_t v) noexcept {
#if defined(__x86_64__)
    if (hw_) {
      crc_ = hwU8(crc_, v);
      return;
    }
#endif
    crc_ = detail::crc32cSoftware(crc_, &v, 1);
  }
  void u32(uint32_t v) noexcept {
#if defined(__x86_64__)
    if (hw_) {
      crc_ = hwU32(crc_, v);
      return;
    }
#endif
    unsigned char b[4];
    std::memcpy(b, &v, 4);
    crc_ = detail::crc32cSoftware(crc_, b, 4);
  }
  void u64(uint64_t v) noexcept {
#if defined(__x86_64__)
    if (hw_) {
      crc_ = hwU64(crc_, v);
      return;
    }
#endif
    unsigned char b[8];
    std::memcpy(b, &v, 8);
    crc_ = detail::crc32cSoftware(crc_, b, 8);
  }
  void bytes(const void* data, std::size_t n) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
#if defined(__x86_64__)
    if (hw_) {
      crc_ = detail::crc32cHardware(crc_, p, n);
      return;
    }
#endif
    crc_ = detail::crc32cSoftware(crc_, p, n);
  }
  uint32_t value() const noexcept { return ~crc_; }

 private:
#if defined(__x86_64__)
  __attribute__((target("sse4.2"))) static uint32_t hwU8(uint32_t c, uint8_t v) noexcept {
    return _mm_crc32_u8(c, v);
  }
  __attribute__((target("sse4.2"))) static uint32_t hwU32(uint32_t c, uint32_t v) noexcept {
    return _mm_crc32_u32(c, v);
  }
  __attribute__((target("sse4.2"))) static uint32_t hwU64(uint32_t c, uint64_t v) noexcept {
    return static_cast<uint32_t>(_mm_crc32_u64(c, v));
  }
  static bool hasHw() noexcept {
    static const bool hw = __builtin_cpu_supports("sse4.2");  // immutable after first use
    return hw;
  }
  bool hw_ = hasHw();
#endif
  uint32_t crc_ = ~uint32_t{0};
};

}  // namespace sluice::plugins::filechannel
