#pragma once
// Events: a small header map plus a byte body, as in Flume's org.apache.flume.Event.

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "sluice/sdk/visibility.hpp"

namespace sluice::sdk {

// Headers are a flat vector of (name, value) pairs instead of a node-based map: events usually
// carry zero to five headers, and a flat vector costs one allocation (none when empty) and moves
// as three pointers. Lookups are linear, which beats hashing at these sizes. Names are unique.
class SLUICE_SDK_API Headers {
 public:
  using value_type = std::pair<std::string, std::string>;
  using const_iterator = std::vector<value_type>::const_iterator;

  Headers() = default;
  Headers(std::initializer_list<value_type> init) {
    for (const auto& kv : init) set(kv.first, kv.second);
  }

  // Returns nullptr when absent. The pointer is valid until the next mutation.
  const std::string* find(std::string_view name) const noexcept {
    for (const auto& kv : items_)
      if (kv.first == name) return &kv.second;
    return nullptr;
  }
  bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }
  std::string get(std::string_view name, std::string_view fallback = {}) const {
    const std::string* v = find(name);
    return v ? *v : std::string(fallback);
  }
  // Inserts or replaces. Accepts anything a std::string can be built from; rvalue strings are
  // moved in.
  template <class K, class V>
  void set(K&& name, V&& value) {
    for (auto& kv : items_)
      if (kv.first == name) {
        kv.second = std::forward<V>(value);
        return;
      }
    items_.emplace_back(std::string(std::forward<K>(name)), std::string(std::forward<V>(value)));
  }
  // For a producer that builds a fresh event's headers and knows their names are distinct (a
  // parser): room for n headers in one allocation, then appends that skip set()'s search for
  // an existing name. Appending a name that is already present breaks the unique-names rule.
  void reserve(std::size_t n) { items_.reserve(n); }
  template <class K, class V>
  void appendDistinct(K&& name, V&& value) {
    items_.emplace_back(std::piecewise_construct, std::forward_as_tuple(std::forward<K>(name)),
                        std::forward_as_tuple(std::forward<V>(value)));
  }
  // Inserts only when absent; returns whether it inserted (Flume's preserveExisting).
  bool setIfAbsent(std::string_view name, std::string_view value) {
    if (contains(name)) return false;
    items_.emplace_back(std::string(name), std::string(value));
    return true;
  }
  bool erase(std::string_view name) noexcept {
    auto it = std::find_if(items_.begin(), items_.end(),
                           [&](const value_type& kv) { return kv.first == name; });
    if (it == items_.end()) return false;
    items_.erase(it);
    return true;
  }
  template <class Pred>
  std::size_t eraseIf(Pred pred) {
    auto it = std::remove_if(items_.begin(), items_.end(), pred);
    std::size_t n = static_cast<std::size_t>(items_.end() - it);
    items_.erase(it, items_.end());
    return n;
  }
  void clear() noexcept { items_.clear(); }
  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }
  const_iterator begin() const noexcept { return items_.begin(); }
  const_iterator end() const noexcept { return items_.end(); }

  friend bool operator==(const Headers& a, const Headers& b) {
    if (a.size() != b.size()) return false;
    for (const auto& kv : a.items_) {
      const std::string* v = b.find(kv.first);
      if (!v || *v != kv.second) return false;
    }
    return true;
  }

 private:
  std::vector<value_type> items_;
};

// Body bytes live in a std::string: it moves in O(1), bodies of up to 15 bytes need no heap
// allocation (small-string optimisation), and it converts to string_view for free. It holds
// arbitrary bytes, NULs included; nothing assumes text.
struct SLUICE_SDK_API Event {
  Headers headers;
  std::string body;

  Event() = default;
  explicit Event(std::string b) : body(std::move(b)) {}
  Event(Headers h, std::string b) : headers(std::move(h)), body(std::move(b)) {}

  Event(Event&&) noexcept = default;
  Event& operator=(Event&&) noexcept = default;
  // Copying is explicit on purpose (clone()), so a copy on the hot path shows up in review.
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  Event clone() const {
    Event e;
    e.headers = headers;
    e.body = body;
    return e;
  }

  const Headers& getHeaders() const noexcept { return headers; }
  Headers& getHeaders() noexcept { return headers; }
  std::string_view getBody() const noexcept { return body; }
  void setBody(std::string b) { body = std::move(b); }
};

// A batch is a contiguous vector of events. Batch APIs take it by reference and move events in
// or out of it, so callers reuse one vector's capacity from batch to batch.
using EventBatch = std::vector<Event>;

}  // namespace sluice::sdk
