// Fuzz target: the log record reader. Feeds arbitrary bytes through the same parsing a replay
// and a take do (file header, records, Put/Take/Commit/State bodies, resync after damage) and
// checks that nothing reads out of bounds and that a parsed record re-encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "log_format.hpp"

namespace fc = sluice::plugins::filechannel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  uint32_t fileId = 0;
  std::size_t off = fc::parseFileHeader(p, size, fileId, nullptr) ? fc::kFileHeaderSize : 0;
  sluice::sdk::Event ev;
  while (off < size) {
    fc::RecordView rv;
    fc::ParseStatus st = fc::parseRecord(p + off, size - off, rv);
    if (st != fc::ParseStatus::Ok) {
      ++off;  // resync, as replay does
      continue;
    }
    if (rv.size < fc::kRecordHeaderSize + 9 || rv.size > size - off) std::abort();
    switch (rv.type) {
      case fc::RecordType::Put:
        if (fc::decodePut(rv.body, ev)) {
          std::string again;
          fc::appendPutRecord(again, rv.txId, ev);
          // Header names are unique after decoding; re-encoding matches when the input had none
          // repeated, so only check the size bound.
          if (again.size() > rv.size) std::abort();
        }
        break;
      case fc::RecordType::Take: {
        uint32_t count = 0;
        const char* positions = nullptr;
        if (fc::decodeTake(rv.body, count, positions)) {
          uint64_t sum = 0;
          for (uint32_t i = 0; i < count; ++i) sum += fc::takePosition(positions, i);
          (void)sum;
        }
        break;
      }
      case fc::RecordType::Commit: {
        uint32_t count = 0;
        (void)fc::decodeCommit(rv.body, count);
        break;
      }
      case fc::RecordType::State: {
        std::string_view key, value;
        if (fc::decodeState(rv.body, key, value)) {
          // A State record has one encoding: it must come back byte for byte.
          std::string again;
          fc::appendStateRecord(again, rv.txId, key, value);
          if (again.size() != rv.size || std::memcmp(again.data(), p + off, rv.size) != 0)
            std::abort();
        }
        break;
      }
    }
    off += rv.size;
  }
  return 0;
}
