#include "time_zone.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sluice::plugins::hdfs {

namespace {

uint32_t be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
int64_t be64(const unsigned char* p) {
  return static_cast<int64_t>((uint64_t(be32(p)) << 32) | uint64_t(be32(p + 4)));
}

// "+08:00", "-5", "+0530" after GMT/UTC. Returns false when malformed.
bool parseOffset(std::string_view s, int32_t* out) {
  if (s.empty()) {
    *out = 0;
    return true;
  }
  if (s[0] != '+' && s[0] != '-') return false;
  const int sign = s[0] == '-' ? -1 : 1;
  s.remove_prefix(1);
  int h = 0, m = 0;
  std::string_view hs = s, ms;
  if (auto colon = s.find(':'); colon != std::string_view::npos) {
    hs = s.substr(0, colon);
    ms = s.substr(colon + 1);
  } else if (s.size() > 2) {
    hs = s.substr(0, s.size() - 2);
    ms = s.substr(s.size() - 2);
  }
  auto num = [](std::string_view v, int* n) {
    if (v.empty() || v.size() > 2) return false;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *n);
    return ec == std::errc() && p == v.data() + v.size();
  };
  if (!num(hs, &h) || (!ms.empty() && !num(ms, &m)) || h > 23 || m > 59) return false;
  *out = sign * (h * 3600 + m * 60);
  return true;
}

}  // namespace

TimeZone TimeZone::local() {
  TimeZone z;
  z.kind_ = Kind::Local;
  z.name_ = "local time";
  return z;
}

TimeZone TimeZone::utc() { return fixed(0, "UTC"); }

TimeZone TimeZone::fixed(int32_t offsetSeconds, std::string name) {
  TimeZone z;
  z.kind_ = Kind::Fixed;
  z.fixed_ = offsetSeconds;
  z.name_ = std::move(name);
  return z;
}

TimeZone TimeZone::parse(std::string_view name, const std::string& zoneinfoDir) {
  if (name.empty()) throw std::invalid_argument("empty time zone name");
  for (std::string_view pfx : {"GMT", "UTC"}) {
    if (name.substr(0, 3) == pfx && (name.size() == 3 || name[3] == '+' || name[3] == '-')) {
      int32_t off = 0;
      if (parseOffset(name.substr(3), &off)) return fixed(off, std::string(name));
      throw std::invalid_argument("bad offset in time zone '" + std::string(name) +
                                  "' (expected e.g. GMT+08:00)");
    }
  }
  if (name == "Z") return utc();
  // An IANA name: letters, digits, '_', '-', '+', '/', no "..", not absolute.
  bool ok = name.front() != '/' && name.find("..") == std::string_view::npos;
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-' || c == '+' || c == '/');
  if (!ok) throw std::invalid_argument("'" + std::string(name) + "' is not a time zone name");
  const std::string path = zoneinfoDir + "/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::invalid_argument("unknown time zone '" + std::string(name) + "' (no " + path +
                                "; expected an IANA name such as America/New_York, or UTC)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return fromTzif(ss.str(), std::string(name));
}

TimeZone TimeZone::fromTzif(std::string_view bytes, std::string name) {
  auto bad = [&](const char* why) {
    return std::invalid_argument("time zone file for '" + name + "' is malformed: " + why);
  };
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t size = bytes.size();
  auto header = [&](std::size_t at, uint32_t c[6]) {
    if (at + 44 > size || bytes.substr(at, 4) != "TZif") throw bad("no TZif header");
    for (int i = 0; i < 6; ++i) c[i] = be32(p + at + 20 + 4 * i);
    // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
    if (c[4] == 0 || c[3] > 100000 || c[4] > 256 || c[5] > 100000 || c[2] > 100000)
      throw bad("implausible counts");
  };
  uint32_t c[6];
  header(0, c);
  const char version = bytes[4];
  std::size_t at = 44;
  int timeSize = 4;
  if (version >= '2') {
    // Skip the version 1 block, use the 64-bit one.
    std::size_t v1 =
        std::size_t(c[3]) * 5 + std::size_t(c[4]) * 6 + c[5] + std::size_t(c[2]) * 8 + c[1] + c[0];
    at = 44 + v1;
    header(at, c);
    at += 44;
    timeSize = 8;
  }
  const std::size_t timecnt = c[3], typecnt = c[4];
  const std::size_t need = timecnt * (timeSize + 1) + typecnt * 6;
  if (at + need > size) throw bad("truncated");
  TimeZone z;
  z.kind_ = Kind::Table;
  z.name_ = std::move(name);
  std::vector<int32_t> typeOffsets(typecnt);
  std::vector<bool> typeDst(typecnt);
  const unsigned char* types = p + at + timecnt * (timeSize + 1);
  for (std::size_t i = 0; i < typecnt; ++i) {
    typeOffsets[i] = static_cast<int32_t>(be32(types + 6 * i));
    typeDst[i] = types[6 * i + 4] != 0;
    if (typeOffsets[i] < -100000 || typeOffsets[i] > 100000) throw bad("implausible offset");
  }
  z.transitions_.reserve(timecnt);
  z.offsets_.reserve(timecnt);
  for (std::size_t i = 0; i < timecnt; ++i) {
    const int64_t t = timeSize == 8 ? be64(p + at + 8 * i) : int32_t(be32(p + at + 4 * i));
    const unsigned idx = p[at + timecnt * timeSize + i];
    if (idx >= typecnt) throw bad("bad type index");
    if (!z.transitions_.empty() && t <= z.transitions_.back()) continue;  // keep ascending
    z.transitions_.push_back(t);
    z.offsets_.push_back(typeOffsets[idx]);
  }
  // Before the first transition: the first standard-time type (RFC 8536 3.2), else type 0.
  z.fixed_ = typeOffsets[0];
  for (std::size_t i = 0; i < typecnt; ++i)
    if (!typeDst[i]) {
      z.fixed_ = typeOffsets[i];
      break;
    }
  return z;
}

int32_t TimeZone::offsetAt(int64_t unixSeconds) const noexcept {
  switch (kind_) {
    case Kind::Fixed:
      return fixed_;
    case Kind::Local: {
      std::time_t t = static_cast<std::time_t>(unixSeconds);
      std::tm tm{};
      if (!::localtime_r(&t, &tm)) return 0;
      return static_cast<int32_t>(tm.tm_gmtoff);
    }
    case Kind::Table: {
      auto it = std::upper_bound(transitions_.begin(), transitions_.end(), unixSeconds);
      if (it == transitions_.begin()) return fixed_;
      return offsets_[static_cast<std::size_t>(it - transitions_.begin()) - 1];
    }
  }
  return 0;
}

}  // namespace sluice::plugins::hdfs
