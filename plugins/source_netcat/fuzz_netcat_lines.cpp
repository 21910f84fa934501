// Fuzz target: how the netcat source cuts a connection's bytes into batches of lines
// (splitBatches, as NetcatServer::consume() calls it). The first four bytes pick the line cap, the
// batch size, the read sizes and which batches the channels refuse; the rest is what the client
// sends, delivered in reads of those sizes. A refused batch stops the split, and the rest is
// passed again alone, as the retry of a held connection does. Checks against a reference that
// splits the whole input at once: the same lines whatever the chunking, no body longer than the
// cap, the truncation count, batch sizes, and what is left over at the end.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "netcat_lines.hpp"

using sluice::plugins::lines::Line;
using sluice::plugins::lines::LineSplitter;
using sluice::plugins::netcat::kKeptHead;
using sluice::plugins::netcat::splitBatches;

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const std::size_t max = 1 + (data[0] & 0x3F);
  const std::size_t batchSize = 1 + (data[1] & 0x07);
  const std::size_t chunkMax = std::size_t{2} << ((data[1] >> 3) & 0x07);  // 2 .. 256
  Rng rng{(uint32_t{data[2]} << 8 | data[3]) + 1};
  const std::string_view in(reinterpret_cast<const char*>(data + 4), size - 4);

  // Reference: every complete line, one '\r' before '\n' dropped, cut to max.
  std::vector<std::string> want;
  std::size_t wantTruncated = 0;
  std::size_t lineStart = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\n') continue;
    std::string_view body = in.substr(lineStart, i - lineStart);
    if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
    if (body.size() > max) {
      body = body.substr(0, max);
      ++wantTruncated;
    }
    want.emplace_back(body);
    lineStart = i + 1;
  }
  const std::string_view tail = in.substr(lineStart);

  LineSplitter splitter(max);
  std::vector<std::string> got;
  std::size_t gotTruncated = 0;
  std::string carry;
  // One consume(): returns true when a batch was refused (the connection is then held).
  auto consume = [&](const std::string& buf) {
    std::size_t inBatch = 0;
    std::size_t lastNext = 0;
    bool refused = false;
    const std::size_t keep = splitBatches(
        splitter, buf.data(), buf.size(), batchSize,
        [&](const Line& l, std::size_t at) {
          check(l.body.size() <= max);
          check(l.body.find('\n') == std::string_view::npos);
          if (at == kKeptHead) {
            check(l.truncated);
          } else {
            check(at <= buf.size() && l.body.size() <= buf.size() - at);
            check(l.body.data() == buf.data() + at);
          }
          if (l.truncated) ++gotTruncated;
          got.emplace_back(l.body);
          ++inBatch;
        },
        [&](std::size_t next) {
          check(inBatch >= 1 && inBatch <= batchSize);
          check(next >= lastNext && next <= buf.size());
          lastNext = next;
          inBatch = 0;
          refused = rng.next() % 4 == 0;
          return !refused;
        });
    check(inBatch == 0);  // every line handed over went into a batch
    check(keep <= buf.size());
    carry.assign(buf, keep);
    return refused;
  };

  std::size_t fed = 0;
  std::string buf;
  while (fed < in.size()) {
    const std::size_t n = std::min<std::size_t>(1 + rng.next() % chunkMax, in.size() - fed);
    buf = carry;
    buf.append(in.substr(fed, n));
    fed += n;
    bool held = consume(buf);
    for (int tries = 0; held; ++tries) {
      buf = carry;
      held = consume(buf);
      check(tries < 10000);
    }
    // Not held: only the unfinished line is left, so a read never needs more than this.
    check(carry.size() <= max + 1);
  }

  check(got == want);
  check(gotTruncated == wantTruncated);
  // The unfinished last line (dropped when the connection closes) is either carried whole or,
  // once too long to fit even with a "\r\n", being skipped with only its head kept.
  if (tail.size() > max + 1) {
    check(splitter.skipping());
  } else {
    check(!splitter.skipping());
    check(carry == tail);
  }
  return 0;
}
