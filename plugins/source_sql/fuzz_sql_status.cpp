// libFuzzer target: the status file's JSON reader over arbitrary bytes. Whatever it accepts must
// write back (toJson) into text that reads back to the same fields: a status file sluice wrote
// is always one it can read.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "status_file.hpp"

using sluice::plugins::sql::StatusRecord;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  StatusRecord r;
  try {
    r = StatusRecord::parse(input);
  } catch (const std::runtime_error&) {
    return 0;
  }
  const StatusRecord again = StatusRecord::parse(r.toJson());
  if (again.fields() != r.fields()) std::abort();
  return 0;
}
