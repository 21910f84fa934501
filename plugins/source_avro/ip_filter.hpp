#pragma once
// Flume's AvroSource ipFilterRules: a comma-separated list of rules
//
//   <allow|deny>:<ip|name>:<pattern>
//
// checked in order against each new connection's peer; the first rule whose pattern matches
// decides, and a peer that no rule matches is allowed (as Netty's IpFilterRuleHandler does).
// Patterns are globs: '*' matches any run of characters, '?' one character, everything else
// itself. An ip pattern is matched against the peer's address as Java prints it (IPv4 dotted
// quad; an IPv4-mapped IPv6 address as IPv4; other IPv6 as eight hexadecimal groups without
// zero compression, e.g. 0:0:0:0:0:0:0:1). A name pattern is matched against the peer's host
// name from a reverse lookup; the name pattern "localhost" matches any loopback address without
// a lookup. Header-only: the source and its tests use it.

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::plugins::avro_source {

struct IpFilterRule {
  bool allow = true;
  bool byName = false;  // name:<pattern>, else ip:<pattern>
  std::string pattern;
};

// '*' and '?' globbing over the whole of text.
inline bool globMatch(std::string_view pattern, std::string_view text) noexcept {
  std::size_t p = 0, t = 0, starP = std::string_view::npos, starT = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      starP = p++;
      starT = t;
    } else if (starP != std::string_view::npos) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// Parses ipFilterRules; throws std::invalid_argument naming the bad rule.
inline std::vector<IpFilterRule> parseIpFilterRules(std::string_view text) {
  std::vector<IpFilterRule> rules;
  std::size_t from = 0;
  while (from <= text.size()) {
    std::size_t comma = text.find(',', from);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view def = text.substr(from, comma - from);
    while (!def.empty() && (def.front() == ' ' || def.front() == '\t')) def.remove_prefix(1);
    while (!def.empty() && (def.back() == ' ' || def.back() == '\t')) def.remove_suffix(1);
    from = comma + 1;
    if (def.empty()) {
      if (comma == text.size()) break;
      continue;
    }
    const std::string bad =
        "invalid rule '" + std::string(def) + "': expected <allow|deny>:<ip|name>:<pattern>";
    const std::size_t c1 = def.find(':');
    const std::size_t c2 = c1 == std::string_view::npos ? c1 : def.find(':', c1 + 1);
    if (c2 == std::string_view::npos) throw std::invalid_argument(bad);
    const std::string_view access = def.substr(0, c1), kind = def.substr(c1 + 1, c2 - c1 - 1);
    IpFilterRule r;
    if (access == "allow")
      r.allow = true;
    else if (access == "deny")
      r.allow = false;
    else
      throw std::invalid_argument(bad);
    if (kind == "ip")
      r.byName = false;
    else if (kind == "name")
      r.byName = true;
    else
      throw std::invalid_argument(bad);
    r.pattern = std::string(def.substr(c2 + 1));
    rules.push_back(std::move(r));
  }
  return rules;
}

// The address as Java's InetAddress.getHostAddress() prints it.
inline std::string javaHostAddress(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
    return buf;
  }
  if (ss.ss_family != AF_INET6) return {};
  const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&a)) {
    ::inet_ntop(AF_INET, a.s6_addr + 12, buf, sizeof buf);
    return buf;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    char g[8];
    std::snprintf(g, sizeof g, "%x", (a.s6_addr[2 * i] << 8) | a.s6_addr[2 * i + 1]);
    if (i) out += ':';
    out += g;
  }
  return out;
}

inline bool isLoopback(const sockaddr_storage& ss) noexcept {
  if (ss.ss_family == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr) >> 24) == 127;
  if (ss.ss_family != AF_INET6) return false;
  const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
  return IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
}

// Decides a peer. reverseLookup(ss) returns the peer's host name ("" when it has none); it is
// called at most once, and only when a name rule needs it.
template <class Lookup>
bool ipFilterAllows(const std::vector<IpFilterRule>& rules, const sockaddr_storage& peer,
                    Lookup&& reverseLookup) {
  std::string ip, name;
  bool looked = false;
  for (const IpFilterRule& r : rules) {
    bool match;
    if (!r.byName) {
      if (ip.empty()) ip = javaHostAddress(peer);
      match = globMatch(r.pattern, ip);
    } else if (r.pattern == "localhost" && isLoopback(peer)) {
      match = true;
    } else {
      if (!looked) {
        name = reverseLookup(peer);
        looked = true;
      }
      match = !name.empty() && globMatch(r.pattern, name);
    }
    if (match) return r.allow;
  }
  return true;
}

// The blocking reverse lookup (getnameinfo with NI_NAMEREQD); "" when there is no name.
inline std::string reverseLookup(const sockaddr_storage& ss) {
  char host[NI_MAXHOST];
  const socklen_t len = ss.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&ss), len, host, sizeof host, nullptr, 0,
                    NI_NAMEREQD) != 0)
    return {};
  return host;
}

}  // namespace sluice::plugins::avro_source
