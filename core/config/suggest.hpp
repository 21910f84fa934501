#pragma once
// "Did you mean" hints for misspelled names: config sections, component types, keys.

#include <string>
#include <string_view>
#include <vector>

namespace sluice::core {

// Case-insensitive edit distance (Levenshtein plus adjacent transpositions, so "sourcse" is one
// edit from "sources").
std::size_t editDistance(std::string_view a, std::string_view b);

// The candidates close enough to `word` to be a likely typo, best first (ties keep the order of
// `candidates`), at most `max` of them. "Close enough" scales with the word's length: one edit
// for short words, about one per three characters for longer ones. A candidate equal to `word`
// except for case counts as closest. Empty when nothing is plausible.
std::vector<std::string> closestMatches(std::string_view word,
                                        const std::vector<std::string>& candidates,
                                        std::size_t max = 3);

// "; did you mean 'sources'?" or "; did you mean 'sink' or 'sinks'?"; empty when no hint.
std::string didYouMean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace sluice::core
