#include "core/config/suggest.hpp"

#include <algorithm>
#include <numeric>

namespace sluice::core {

namespace {

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Longer words tolerate more typos; a hint two edits away from a four-letter word is noise.
std::size_t maxDistanceFor(std::string_view word) {
  return std::max<std::size_t>(1, word.size() / 3);
}

}  // namespace

std::size_t editDistance(std::string_view a, std::string_view b) {
  // Optimal string alignment distance, three rolling rows: O(|a|*|b|) time, O(|b|) memory.
  const std::size_t n = b.size();
  std::vector<std::size_t> prev2(n + 1), prev(n + 1), cur(n + 1);
  std::iota(prev.begin(), prev.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    const char ca = lowerAscii(a[i - 1]);
    for (std::size_t j = 1; j <= n; ++j) {
      const char cb = lowerAscii(b[j - 1]);
      const std::size_t cost = ca == cb ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && ca == lowerAscii(b[j - 2]) && lowerAscii(a[i - 2]) == cb)
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[n];
}

std::vector<std::string> closestMatches(std::string_view word,
                                        const std::vector<std::string>& candidates,
                                        std::size_t max) {
  const std::size_t limit = maxDistanceFor(word);
  std::vector<std::pair<std::size_t, std::size_t>> scored;  // (distance, index in candidates)
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const std::string& c = candidates[i];
    // The length difference bounds the distance from below; skipping early keeps this cheap
    // when a fuzzer or a user hands us a very long word.
    const std::size_t lenDiff =
        c.size() > word.size() ? c.size() - word.size() : word.size() - c.size();
    if (lenDiff > limit) continue;
    const std::size_t d = editDistance(word, c);
    if (d > limit) continue;
    bool seen = false;
    for (const auto& [_, j] : scored) seen = seen || candidates[j] == c;
    if (!seen) scored.emplace_back(d, i);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (const auto& [_, i] : scored) {
    if (out.size() >= max) break;
    out.push_back(candidates[i]);
  }
  return out;
}

std::string didYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  const std::vector<std::string> hits = closestMatches(word, candidates);
  if (hits.empty()) return {};
  std::string out = "; did you mean ";
  for (std::size_t i = 0; i < hits.size(); ++i) {
    if (i > 0) out += i + 1 == hits.size() ? " or " : ", ";
    out += "'" + hits[i] + "'";
  }
  return out + "?";
}

}  // namespace sluice::core
