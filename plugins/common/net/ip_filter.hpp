#pragma once
// Flume's ipFilter / ipFilterRules, for every listener of the network layer: a comma-separated
// list of rules
//
//   <allow|deny>:<ip|name>:<pattern>
//
// checked in order against each new connection's peer; the first rule whose pattern matches
// decides, and a peer that no rule matches is allowed (as Netty's IpFilterRuleHandler, which
// Flume's AvroSource uses). Patterns are globs: '*' matches any run of characters, '?' one
// character, everything else itself. An ip pattern is matched against the peer's address as Java
// prints it (IPv4 dotted quad; an IPv4-mapped IPv6 address as IPv4; other IPv6 as eight
// hexadecimal groups without zero compression, e.g. 0:0:0:0:0:0:0:1). A name pattern is matched
// against the peer's host name from a reverse lookup, made only when a name rule is reached; the
// name pattern "localhost" matches any loopback address without a lookup.

#include <sys/socket.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::net {

struct IpFilterRule {
  bool allow = true;
  bool byName = false;  // name:<pattern>, else ip:<pattern>
  std::string pattern;
};

// The peer's host name, "" when it has none.
using ReverseLookup = std::function<std::string(const sockaddr_storage&)>;

class IpFilter {
 public:
  // Parses ipFilterRules; throws std::invalid_argument naming the bad rule.
  static IpFilter parse(std::string_view rules);

  // Decides a peer. The lookup (default: a blocking getnameinfo) is called at most once, and
  // only when a name rule needs it. Called on the connection's I/O thread.
  bool allows(const sockaddr_storage& peer, const ReverseLookup& lookup = {}) const;

  const std::vector<IpFilterRule>& rules() const noexcept { return rules_; }

 private:
  std::vector<IpFilterRule> rules_;
};

// '*' and '?' globbing over the whole of text.
bool globMatch(std::string_view pattern, std::string_view text) noexcept;
// The address as Java's InetAddress.getHostAddress() prints it.
std::string javaHostAddress(const sockaddr_storage& ss);
bool isLoopback(const sockaddr_storage& ss) noexcept;
// The blocking reverse lookup (getnameinfo with NI_NAMEREQD); "" when there is no name.
std::string reverseLookup(const sockaddr_storage& ss);

// The schema keys ipFilter and ipFilterRules, for a plugin to append to its own.
std::vector<sdk::Key> ipFilterKeys();

// Reads ipFilter / ipFilterRules: null when ipFilter is false. The rules are checked even then,
// so a typo is found before someone turns the filter on. Config errors (via Context::fail) name
// the key: a missing or invalid ipFilterRules.
std::shared_ptr<const IpFilter> configureIpFilter(const sdk::Context& context);

}  // namespace sluice::plugins::net
