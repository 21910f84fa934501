// Fuzz target for the hdfs sink's escape formatter: any template compiles, and formatting it
// with any timestamp header (or none), rounding and zone never crashes and gives a path that
// keeps the template's literal prefix. Input layout: byte 0 = option bits, then
// "template\0timestamp-header\0header-value".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "path_escape.hpp"

using namespace sluice::plugins::hdfs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t opts = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  auto next = [&rest] {
    const std::size_t z = rest.find('\0');
    std::string_view out = rest.substr(0, z);
    rest = z == std::string_view::npos ? std::string_view() : rest.substr(z + 1);
    return out;
  };
  const std::string_view tmpl = next();
  const std::string_view ts = next();
  const std::string_view value = next();

  static const HostNames host{"host", "10.0.0.1", "host.example.com"};
  static const TimeZone zones[] = {TimeZone::utc(), TimeZone::fixed(-(3 * 3600 + 1800), "x"),
                                   TimeZone::fixed(14 * 3600, "y")};
  PathTemplate t = PathTemplate::compile(tmpl, host);
  sluice::sdk::Headers headers;
  if (opts & 1) headers.set("timestamp", std::string(ts));
  headers.set("h", std::string(value));
  TimeSettings s;
  s.round = (opts & 2) != 0;
  s.unit = static_cast<RoundUnit>((opts >> 2) % 3);
  s.roundValue = 1 + (opts >> 4);
  s.useLocalTimeStamp = (opts & 8) != 0 && (opts & 1) == 0;
  s.zone = &zones[(opts >> 5) % 3];
  std::string out;
  for (int i = 0; i < 2; ++i) {  // twice: the second run goes through the cache
    out.clear();
    if (t.format(headers, 1764000000123, s, out) == PathTemplate::Status::Ok &&
        out.compare(0, t.literalPrefix().size(), t.literalPrefix()) != 0)
      std::abort();
  }
  return 0;
}
