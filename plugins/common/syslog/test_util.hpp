#pragma once
// Helpers for the syslog library's tests: expected instants computed with libc (timegm, mktime),
// independently of the library's own date code, and the framers driven the way a connection
// drives them.

#include <stdlib.h>
#include <time.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/sdk/event.hpp"
#include "syslog/framer.hpp"

namespace sluice::plugins::syslog::testing {

// The zone the tests read local times in (as Flume's JVM default zone): one with DST.
inline constexpr const char* kTestZone = "Europe/Berlin";

inline void useTestZone() {
  ::setenv("TZ", kTestZone, 1);
  ::tzset();
}

inline int64_t utcMillis(int y, int mo, int d, int h, int mi, int s, int ms = 0) {
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(::timegm(&tm)) * 1000 + ms;
}

// A local wall time that is neither in a DST gap nor in an overlap, in the test zone.
inline int64_t localMillis(int y, int mo, int d, int h, int mi, int s, int ms = 0) {
  useTestZone();
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  tm.tm_isdst = -1;
  return static_cast<int64_t>(::mktime(&tm)) * 1000 + ms;
}

inline std::string header(const sdk::Event& e, std::string_view name) {
  const std::string* v = e.headers.find(name);
  return v ? *v : std::string("<absent>");
}

// Every message a framer cuts from `input` when the bytes arrive in chunks of `chunk` bytes
// (0: all at once), copied out.
struct Cut {
  std::string bytes;
  bool incomplete = false;
  bool framed = false;
  bool badPriority = false;
  int priorityDigits = 0;
};
template <class Framer>
std::vector<Cut> cutAll(std::string_view input, const FramerOptions& options, std::size_t chunk = 0,
                        bool* ok = nullptr) {
  BufferedFramer<Framer> f(options);
  std::vector<Cut> out;
  bool good = true;
  auto take = [&](const Message& m) {
    out.push_back({std::string(m.bytes), m.incomplete, m.framed, m.badPriority, m.priorityDigits});
  };
  if (chunk == 0) chunk = input.size() ? input.size() : 1;
  for (std::size_t i = 0; i < input.size() && good; i += chunk)
    good = f.feed(input.substr(i, chunk), take);
  if (ok) *ok = good;
  return out;
}

inline Message asMessage(const Cut& c) {
  Message m;
  m.bytes = c.bytes;
  m.incomplete = c.incomplete;
  m.framed = c.framed;
  m.badPriority = c.badPriority;
  m.priorityDigits = static_cast<uint8_t>(c.priorityDigits);
  return m;
}

}  // namespace sluice::plugins::syslog::testing
