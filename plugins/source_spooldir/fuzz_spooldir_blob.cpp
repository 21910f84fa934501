// libFuzzer target: the BLOB deserializer. The concatenated bodies must equal the input, and no
// body may exceed maxBlobLength.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "deserializer.hpp"

using namespace sluice::plugins::spooldir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::size_t maxBlob = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  BlobDeserializer des(maxBlob);
  sluice::sdk::EventBatch out;
  std::string joined;
  std::size_t pos = 0, avail = std::min<std::size_t>(input.size(), 5);
  for (int guard = 0; guard < 1000000; ++guard) {
    const bool eof = avail == input.size();
    const std::size_t before = out.size();
    Step s = des.step(input.substr(pos, avail - pos), eof, out);
    if (s.kind == Step::End) break;
    if (s.kind == Step::NeedMore) {
      if (eof) abort();
      avail = std::min(input.size(), avail + 5);
      continue;
    }
    if (s.kind != Step::Events || out.size() != before + 1 || s.consumed == 0) abort();
    if (out.back().body.size() > maxBlob || out.back().body.size() != s.consumed) abort();
    joined += out.back().body;
    pos += s.consumed;
  }
  if (joined != input) abort();
  return 0;
}
