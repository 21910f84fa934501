#include "syslog/headers.hpp"

namespace sluice::plugins::syslog {

HeaderBuilder::HeaderBuilder(const PeerHeaderNames& peer) {
  names_[Facility] = kFacility;
  names_[Severity] = kSeverity;
  names_[Priority] = kPriority;
  names_[Version] = kVersion;
  names_[Timestamp] = kTimestamp;
  names_[Host] = kHost;
  names_[Status] = kStatus;
  names_[ClientIp] = peer.clientIp;
  names_[ClientHostname] = peer.clientHostname;
  names_[Port] = peer.port;
  for (uint8_t a = 0; a < kSlots; ++a)
    for (uint8_t b = a + 1; b < kSlots; ++b)
      if (!names_[a].empty() && names_[a] == names_[b]) distinct_ = false;
}

void HeaderBuilder::addPeer(const PeerInfo& peer, uint32_t& mask, Values& values) const {
  if (!names_[ClientIp].empty()) {
    mask |= bit(ClientIp);
    values.set(ClientIp, peer.ip);
  }
  if (!names_[ClientHostname].empty()) {
    mask |= bit(ClientHostname);
    values.set(ClientHostname, peer.hostname);
  }
  if (!names_[Port].empty()) {
    mask |= bit(Port);
    values.set(Port, peer.port);
  }
}

void HeaderBuilder::build(uint32_t mask, const Values& values, sdk::Headers& out) const {
  out.reserve(static_cast<std::size_t>(__builtin_popcount(mask)));
  for (uint8_t s = 0; s < kSlots; ++s) {
    if (!(mask & bit(static_cast<Slot>(s)))) continue;
    if (distinct_)
      out.appendDistinct(names_[s], values[static_cast<Slot>(s)]);
    else
      out.set(names_[s], values[static_cast<Slot>(s)]);
  }
}

}  // namespace sluice::plugins::syslog
