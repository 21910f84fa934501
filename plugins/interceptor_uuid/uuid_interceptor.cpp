#include "uuid_interceptor.hpp"

#include <chrono>
#include <random>
#include <string_view>
#include <thread>

#include "config_keys.hpp"

namespace sluice::plugins::uuid {
namespace {

uint64_t splitmix64(uint64_t& x) noexcept {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

// xoshiro256** (Blackman and Vigna): fast, 2^256 - 1 period, good statistical quality. Not a
// cryptographic generator; UUIDs here must be unique, not unguessable (see README.md).
class Xoshiro256 {
 public:
  Xoshiro256() noexcept {
    uint64_t words[4] = {};
    try {
      std::random_device rd;
      for (uint64_t& w : words) w = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    } catch (...) {
      // No entropy source: mix the clock, this thread and this object's address instead.
      uint64_t x = static_cast<uint64_t>(
                       std::chrono::high_resolution_clock::now().time_since_epoch().count()) ^
                   std::hash<std::thread::id>()(std::this_thread::get_id()) ^
                   reinterpret_cast<uintptr_t>(this);
      for (uint64_t& w : words) w = splitmix64(x);
    }
    // Run the seed words through splitmix64 so that a weak source cannot leave the state zero.
    for (int i = 0; i < 4; ++i) {
      uint64_t x = words[i] ^ (0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(i + 1));
      s_[i] = splitmix64(x);
    }
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;
  }

  uint64_t next() noexcept {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  uint64_t s_[4];
};

void hex(uint64_t v, int digits, char* out) noexcept {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = kDigits[v & 0xF];
    v >>= 4;
  }
}

}  // namespace

void randomUuid(char out[36]) noexcept {
  // One generator per thread (of this .so), made on the thread's first UUID: no lock, no shared
  // cache line. Freed when the thread exits.
  thread_local Xoshiro256 rng;
  uint64_t hi = rng.next();
  uint64_t lo = rng.next();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;                         // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // IETF variant (10xx)
  hex(hi >> 32, 8, out);
  out[8] = '-';
  hex(hi >> 16, 4, out + 9);
  out[13] = '-';
  hex(hi, 4, out + 14);
  out[18] = '-';
  hex(lo >> 48, 4, out + 19);
  out[23] = '-';
  hex(lo, 12, out + 24);
}

const sdk::Schema& uuidSchema() {
  static const sdk::Schema schema{
      sdk::Key("headerName").string().def("id").doc("The name of the Flume header to modify"),
      sdk::Key("preserveExisting")
          .boolean()
          .def("true")
          .doc("If the UUID header already exists, keep its value instead of replacing it"),
      sdk::Key("prefix").string().doc(
          "The prefix string constant to prepend to each generated UUID (empty by default)"),
  };
  return schema;
}

void UuidInterceptor::apply(sdk::Event& event) const {
  if (preserveExisting_ && event.headers.contains(headerName_)) return;
  char id[36];
  randomUuid(id);
  if (prefix_.empty()) {
    event.headers.set(headerName_, std::string_view(id, sizeof id));
    return;
  }
  std::string value;
  value.reserve(prefix_.size() + sizeof id);
  value.append(prefix_).append(id, sizeof id);
  event.headers.set(headerName_, std::move(value));
}

void UuidInterceptorBuilder::configure(const sdk::Context& context) {
  std::string header = requireValue(context, "headerName");
  if (header.empty()) context.fail("headerName", "must not be empty");
  bool preserve = requireBoolean(context, "preserveExisting");
  headerName_ = std::move(header);
  preserveExisting_ = preserve;
  prefix_ = context.getString("prefix", "");
}

std::unique_ptr<sdk::Interceptor> UuidInterceptorBuilder::build() {
  return std::make_unique<UuidInterceptor>(headerName_, preserveExisting_, prefix_);
}

}  // namespace sluice::plugins::uuid
