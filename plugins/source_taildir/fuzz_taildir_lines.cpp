// Fuzz target: the line splitter and the multiline joiner. The first byte picks the line cap and
// the chunking; the rest is file content fed in chunks, as reads would deliver it. Checks that
// no line holds a newline or exceeds the cap, that offsets are contiguous, and that untruncated
// lines reproduce the input exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "line_splitter.hpp"

using namespace sluice::plugins::taildir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::size_t max = 1 + (data[0] & 0x3F);
  const std::size_t chunk = 1 + (data[1] & 0x1F);
  const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

  static MultilineSettings ms = [] {
    MultilineSettings s;
    std::string err;
    s.pattern = sluice::plugins::javaregex::Regex::compile(
        "^[ \\t]", sluice::plugins::javaregex::Mode::Find, &err);
    s.maxLines = 3;
    s.maxBytes = 40;
    return s;
  }();
  ms.matchAfter = (data[0] & 0x40) == 0;
  ms.negate = (data[0] & 0x80) != 0;
  Multiline ml(ms);

  LineSplitter sp(max);
  std::string pending;  // bytes handed in but not consumed
  std::size_t fed = 0;
  uint64_t expectStart = 0;
  std::string rebuilt;
  bool anyTruncated = false;
  auto onLine = [&](const Line& l) {
    if (l.start != expectStart || l.end <= l.start) std::abort();
    if (l.body.size() > max) std::abort();
    if (l.body.find('\n') != std::string_view::npos) std::abort();
    expectStart = l.end;
    if (l.truncated) anyTruncated = true;
    rebuilt.append(l.body);
    rebuilt += '\n';
    ml.feed(l, [&](Aggregate&& a) {
      if (a.body.size() > ms.maxBytes || a.lines > ms.maxLines || a.end <= a.start) std::abort();
    });
    return true;
  };
  while (fed < in.size()) {
    const std::size_t n = std::min(chunk, in.size() - fed);
    pending.append(in.substr(fed, n));
    fed += n;
    const std::size_t used = sp.scan(pending.data(), pending.size(), false, onLine);
    pending.erase(0, used);
    if (!sp.skipping() && pending.size() > max + 1) std::abort();
  }
  sp.scan(pending.data(), pending.size(), true, onLine);
  ml.flush([](Aggregate&&) {});
  if (sp.offset() != in.size()) std::abort();
  if (!anyTruncated) {
    // Without truncation the lines are the input, minus "\r" before "\n", plus a final newline.
    std::string expect;
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (in[i] == '\r' && i + 1 < in.size() && in[i + 1] == '\n') continue;
      expect += in[i];
    }
    if (!in.empty() && in.back() != '\n') expect += '\n';
    if (rebuilt != expect) std::abort();
  }
  return 0;
}
