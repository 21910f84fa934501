// Fuzz target: the position-file parser (outside input: a file Flume or a user wrote).
// Whatever it accepts must survive a format/parse round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "position_file.hpp"

using namespace sluice::plugins::taildir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<PositionEntry> entries;
  std::string error;
  std::size_t skipped = 0;
  if (!parsePositions(text, &entries, &error, &skipped)) {
    if (error.empty() || !entries.empty()) std::abort();
    return 0;
  }
  std::vector<PositionEntry> again;
  if (!parsePositions(formatPositions(entries), &again, &error)) std::abort();
  if (again != entries) std::abort();
  return 0;
}
