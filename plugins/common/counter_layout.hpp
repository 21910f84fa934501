#pragma once
// Counters a plugin adds to its group after the standard ones (Flume's SourceCounter, SinkCounter
// or ChannelCounter). The class names their indices with an enum that starts at the first free
// index, and its constructor adds the names in the same order with addInOrder(), which checks
// that each lands where its constant says. Header-only.

#include <cstddef>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "sluice/sdk/counters.hpp"

namespace sluice::plugins::counter_layout {

// Adds names to group; the first must get index `first`, the next first + 1, and so on.
// Throws std::logic_error naming `who` and the counter otherwise (a programming error).
inline void addInOrder(sdk::CounterGroup& group, std::size_t first,
                       std::initializer_list<const char*> names, const char* who) {
  for (const char* name : names)
    if (group.add(name) != first++)
      throw std::logic_error(std::string(who) + ": counter " + name +
                             " is not at the index its constant names");
}

}  // namespace sluice::plugins::counter_layout
