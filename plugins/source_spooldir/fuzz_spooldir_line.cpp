// libFuzzer target: Flume's LINE deserializer over arbitrary bytes (UTF-8 decoding, each
// decodeErrorPolicy, tiny maxLineLength, arbitrary window cuts). Checks the invariants the
// source relies on: every step makes progress, consumption never passes the window, bodies are
// valid UTF-8 unless FAIL stopped, and no piece exceeds maxLineLength characters.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "deserializer.hpp"

using namespace sluice::plugins::spooldir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const auto policy = static_cast<DecodeErrorPolicy>(data[0] % 3);
  const std::size_t maxLine = 1 + data[1] % 16;
  std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  std::string error;
  auto decoder = Decoder::open("UTF-8", &error);
  LineDeserializer des(*decoder, policy, maxLine);
  sluice::sdk::EventBatch out;
  std::size_t pos = 0;
  // Feed the input through a window that grows 7 bytes at a time, like reads of a file.
  std::size_t avail = std::min<std::size_t>(input.size(), 7);
  for (int guard = 0; guard < 1000000; ++guard) {
    const bool eof = avail == input.size();
    const std::size_t before = out.size();
    Step s = des.step(input.substr(pos, avail - pos), eof, out);
    if (s.kind == Step::End) break;
    if (s.kind == Step::BadInput) {
      if (policy != DecodeErrorPolicy::Fail) abort();
      break;
    }
    if (s.kind == Step::NeedMore) {
      if (eof) abort();
      avail = std::min(input.size(), avail + 7);
      continue;
    }
    if (s.consumed == 0 || pos + s.consumed > avail) abort();
    if (s.kind == Step::Events && out.size() == before) abort();
    for (std::size_t i = before; i < out.size(); ++i) {
      if (!isValidUtf8(out[i].body)) abort();
      std::size_t chars = 0;
      for (unsigned char c : out[i].body) chars += (c & 0xC0) != 0x80;
      if (chars > maxLine) abort();
    }
    pos += s.consumed;
    if (out.size() > 4096) out.clear();
  }
  return 0;
}
