#pragma once
// How the netcat source cuts what a connection sends into batches of events, without sockets or
// channels, so the unit tests and fuzz_netcat_lines drive exactly what NetcatServer::consume()
// runs. The cutting itself is the shared LineSplitter (plugins/common/lines.hpp), the one taildir
// uses: both want the same rules (cut at '\n', drop one '\r' before it, keep the first
// max-line-length bytes of a longer line and discard the rest however many reads it spans).
// Netcat adds only batching, and a stop after any batch the channels refuse: the caller then
// keeps the rest of the data and passes it again later. A line the connection never finishes is
// not handed over (Flume drops it when the connection closes), so scan() never flushes.

#include <cstddef>
#include <cstdint>

#include "lines.hpp"

namespace sluice::plugins::netcat {

// Passed as the position of a line whose body is the splitter's kept prefix of an over-long line
// that began in an earlier read: the body is not in data, and is valid only during the call.
inline constexpr std::size_t kKeptHead = SIZE_MAX;

// Splits data[0, len) (what the connection had left over, then the new bytes) with the
// connection's splitter. Calls onLine(const lines::Line&, std::size_t at) for each complete line,
// where at is the offset of its body in data or kKeptHead; then onBatch(std::size_t next) -> bool
// after every batchSize lines and once more for the lines left at the end, next being the offset
// in data just past the batch's last line. When onBatch returns false the split stops there.
// Returns the offset from which data must be passed again (with more bytes after it): the
// unfinished last line, at most max-line-length + 1 bytes, or everything after a stop.
template <class OnLine, class OnBatch>
std::size_t splitBatches(lines::LineSplitter& splitter, const char* data, std::size_t len,
                         std::size_t batchSize, OnLine&& onLine, OnBatch&& onBatch) {
  const uint64_t base = splitter.offset();  // the stream offset of data[0]
  std::size_t used = 0;
  std::size_t inBatch = 0;
  for (;;) {
    used += splitter.scan(data + used, len - used, false, [&](const lines::Line& l) {
      const std::size_t at = l.start >= base ? static_cast<std::size_t>(l.start - base) : kKeptHead;
      onLine(l, at);
      return ++inBatch < batchSize;
    });
    if (inBatch < batchSize) break;  // the scan reached the end of the complete lines
    inBatch = 0;
    if (!onBatch(used)) return used;
  }
  if (inBatch > 0) onBatch(used);  // refused or not, data[used, len) is the unfinished line
  return used;
}

}  // namespace sluice::plugins::netcat
