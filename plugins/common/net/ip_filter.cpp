#include "ip_filter.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstdio>
#include <stdexcept>

#include "text_util.hpp"

namespace sluice::plugins::net {

bool globMatch(std::string_view pattern, std::string_view text) noexcept {
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

IpFilter IpFilter::parse(std::string_view text) {
  IpFilter f;
  std::size_t from = 0;
  while (from <= text.size()) {
    std::size_t comma = text.find(',', from);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view def = text::trimmedView(text.substr(from, comma - from));
    from = comma + 1;
    if (def.empty()) continue;
    const std::string bad =
        "invalid rule '" + std::string(def) + "': expected <allow|deny>:<ip|name>:<pattern>";
    const std::size_t c1 = def.find(':');
    const std::size_t c2 = c1 == std::string_view::npos ? c1 : def.find(':', c1 + 1);
    if (c2 == std::string_view::npos) throw std::invalid_argument(bad);
    const std::string_view access = def.substr(0, c1), kind = def.substr(c1 + 1, c2 - c1 - 1);
    IpFilterRule r;
    if (access == "allow" || access == "deny")
      r.allow = access == "allow";
    else
      throw std::invalid_argument(bad);
    if (kind == "ip" || kind == "name")
      r.byName = kind == "name";
    else
      throw std::invalid_argument(bad);
    r.pattern = std::string(def.substr(c2 + 1));
    f.rules_.push_back(std::move(r));
  }
  return f;
}

std::string javaHostAddress(const sockaddr_storage& ss) {
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
  for (std::size_t i = 0; i < 8; ++i) {
    char g[8];
    std::snprintf(g, sizeof g, "%x", (a.s6_addr[2 * i] << 8) | a.s6_addr[2 * i + 1]);
    if (i) out += ':';
    out += g;
  }
  return out;
}

bool isLoopback(const sockaddr_storage& ss) noexcept {
  if (ss.ss_family == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr) >> 24) == 127;
  if (ss.ss_family != AF_INET6) return false;
  const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
  return IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
}

std::string reverseLookup(const sockaddr_storage& ss) {
  char host[NI_MAXHOST];
  const socklen_t len = ss.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&ss), len, host, sizeof host, nullptr, 0,
                    NI_NAMEREQD) != 0)
    return {};
  return host;
}

bool IpFilter::allows(const sockaddr_storage& peer, const ReverseLookup& lookup) const {
  std::string ip, name;
  bool looked = false;
  for (const IpFilterRule& r : rules_) {
    bool match;
    if (!r.byName) {
      if (ip.empty()) ip = javaHostAddress(peer);
      match = globMatch(r.pattern, ip);
    } else if (r.pattern == "localhost" && isLoopback(peer)) {
      match = true;
    } else {
      if (!looked) {
        name = lookup ? lookup(peer) : reverseLookup(peer);
        looked = true;
      }
      match = !name.empty() && globMatch(r.pattern, name);
    }
    if (match) return r.allow;
  }
  return true;
}

std::vector<sdk::Key> ipFilterKeys() {
  return {
      sdk::Key("ipFilter")
          .boolean()
          .def("false")
          .doc("Check every new connection against ipFilterRules"),
      sdk::Key("ipFilterRules")
          .string()
          .doc("Comma-separated rules (allow or deny):(ip or name):glob; the first match decides, "
               "no match allows"),
  };
}

std::shared_ptr<const IpFilter> configureIpFilter(const sdk::Context& context) {
  const bool on = context.getBoolean("ipFilter", false);
  const std::string rules(text::trimmedView(context.getString("ipFilterRules", "")));
  if (on && rules.empty()) context.fail("ipFilterRules", "is required when ipFilter = true");
  IpFilter f;
  try {
    f = IpFilter::parse(rules);
  } catch (const std::invalid_argument& e) {
    context.fail("ipFilterRules", e.what());
  }
  if (!on) return nullptr;
  return std::make_shared<const IpFilter>(std::move(f));
}

}  // namespace sluice::plugins::net
