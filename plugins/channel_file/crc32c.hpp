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

}  // namespace sluice::plugins::filechannel
