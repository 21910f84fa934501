// Fuzz target: the syslog framers (UtilsFramer for syslogtcp, LineFramer for multiport, both with
// RFC 6587 octet counting) and frameDatagram. The first four bytes pick eventSize, the largest
// octet count, the framing mode and the read sizes; the rest is what a client sends. Checks:
// the same messages whatever the read sizes, never more kept than maxKeptBytes(), no message
// longer than eventSize, every message's bytes inside the input, a framing error only on a count
// above the limit, and frameDatagram within its datagram.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "syslog/framer.hpp"

using namespace sluice::plugins::syslog;

namespace {

struct Rng {
  uint32_t s;
  uint32_t next() noexcept {  // xorshift32; s must not be 0
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  }
};

void check(bool ok) {
  if (!ok) std::abort();
}

struct Got {
  std::string bytes;
  bool incomplete, framed, bad;
  int digits;
  bool operator==(const Got& o) const {
    return bytes == o.bytes && incomplete == o.incomplete && framed == o.framed && bad == o.bad &&
           digits == o.digits;
  }
};

// Feeds `in` in reads of the sizes rng picks (up to chunkMax; 0: all at once), keeping the
// unconsumed tail as the network layer does.
template <class Framer>
std::vector<Got> run(std::string_view in, const FramerOptions& o, std::size_t chunkMax, Rng rng,
                     bool* failed) {
  Framer f(o);
  std::vector<Got> out;
  std::string kept;
  std::size_t pos = 0;
  *failed = false;
  const std::size_t limit = std::max<std::size_t>(static_cast<std::size_t>(o.eventSize), 6);
  while (pos < in.size() && !*failed) {
    const std::size_t n = chunkMax ? 1 + rng.next() % chunkMax : in.size();
    kept.append(in.substr(pos, n));
    pos += std::min(n, in.size() - pos);
    std::size_t off = 0;
    while (true) {
      const std::string_view view = std::string_view(kept).substr(off);
      const FrameStep s = f.next(view);
      if (s.kind == FrameStep::Error) {
        check(s.consumed == 0 && s.error != nullptr);
        *failed = true;
        break;
      }
      check(s.consumed <= view.size());
      off += s.consumed;
      if (s.kind == FrameStep::NeedMore) break;
      const Message& m = s.message;
      check(m.bytes.data() >= view.data() &&
            m.bytes.data() + m.bytes.size() <= view.data() + view.size());
      check(m.bytes.size() <= limit);
      check(!m.bytes.empty());
      check(m.priorityDigits <= 3);
      out.push_back(
          {std::string(m.bytes), m.incomplete, m.framed, m.badPriority, m.priorityDigits});
    }
    kept.erase(0, off);
    check(*failed || kept.size() <= f.maxKeptBytes());
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  FramerOptions o;
  o.eventSize = 1 + (data[0] & 0x3F);
  o.maxFrameLength = std::size_t{1} << (data[1] & 0x0F);
  o.framing = (data[1] & 0x10) ? Framing::NewlineOnly : Framing::Auto;
  const std::size_t chunkMax = std::size_t{1} << ((data[1] >> 5) & 0x07);  // 1 .. 128
  const Rng rng{(uint32_t{data[2]} << 8 | data[3]) + 1};
  const std::string_view in(reinterpret_cast<const char*>(data + 4), size - 4);

  bool failedWhole = false, failedSplit = false;
  const std::vector<Got> utilsWhole = run<UtilsFramer>(in, o, 0, rng, &failedWhole);
  const std::vector<Got> utilsSplit = run<UtilsFramer>(in, o, chunkMax, rng, &failedSplit);
  check(failedWhole == failedSplit);
  check(utilsWhole == utilsSplit);
  if (failedWhole) check(o.framing == Framing::Auto);

  const std::vector<Got> linesWhole = run<LineFramer>(in, o, 0, rng, &failedWhole);
  const std::vector<Got> linesSplit = run<LineFramer>(in, o, chunkMax, rng, &failedSplit);
  check(failedWhole == failedSplit);
  check(linesWhole == linesSplit);
  for (const Got& g : linesWhole) check(g.framed || g.bytes.find('\n') == std::string::npos);

  const std::optional<Message> d = frameDatagram(in, o.eventSize);
  if (d) {
    check(d->bytes.data() >= in.data() &&
          d->bytes.data() + d->bytes.size() <= in.data() + in.size());
    check(!d->bytes.empty());
  }
  return 0;
}
