// libFuzzer target: the charset decoders (native UTF-8 and glibc iconv for a few ASCII-compatible
// charsets with invalid sequences) under every decodeErrorPolicy, whole and cut at a random
// point. Output must be valid UTF-8; REPLACE/IGNORE never fail; non-final decoding never consumes
// more than it was given.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "deserializer.hpp"

using namespace sluice::plugins::spooldir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  static const char* kCharsets[] = {"UTF-8",  "ISO-8859-1", "SHIFT_JIS",
                                    "EUC-JP", "GB18030",    "US-ASCII"};
  const char* cs = kCharsets[data[0] % 6];
  const auto policy = static_cast<DecodeErrorPolicy>(data[1] % 3);
  std::string_view input(reinterpret_cast<const char*>(data + 3), size - 3);
  const std::size_t cut = input.empty() ? 0 : data[2] % (input.size() + 1);
  std::string error;
  auto dec = Decoder::open(cs, &error);
  if (!dec) abort();
  std::string out;
  std::size_t used = 0, bad = 0;
  const bool ok = dec->decode(input, true, policy, out, &used, &bad);
  if (!ok && policy != DecodeErrorPolicy::Fail) abort();
  if (ok && used != input.size()) abort();
  if (!ok && (bad > input.size() || used > input.size())) abort();
  if (!isValidUtf8(out)) abort();
  out.clear();
  const bool ok2 = dec->decode(input.substr(0, cut), false, policy, out, &used, &bad);
  if (used > cut) abort();
  if (!ok2 && policy != DecodeErrorPolicy::Fail) abort();
  if (!isValidUtf8(out)) abort();
  return 0;
}
