#include "syslog/headers.hpp"

namespace sluice::plugins::syslog {

namespace {
// Past this many distinct header sets (a few are ever used) templates are built per event.
constexpr std::size_t kMaxTemplates = 32;
}  // namespace

HeaderTemplates::HeaderTemplates(const PeerHeaderNames& peer) {
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
}

void HeaderTemplates::addPeer(const PeerInfo& peer, uint32_t& mask, Values& values) const {
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

void HeaderTemplates::build(uint32_t mask, const Values& values, sdk::Headers& out) {
  const sdk::Headers* tmpl = nullptr;
  for (const auto& [m, h] : cache_)
    if (m == mask) {
      tmpl = &h;
      break;
    }
  if (!tmpl) {
    sdk::Headers h;
    for (uint8_t s = 0; s < kSlots; ++s)
      if (mask & bit(static_cast<Slot>(s))) h.set(names_[s], std::string_view());
    if (cache_.size() < kMaxTemplates) {
      cache_.emplace_back(mask, std::move(h));
      tmpl = &cache_.back().second;
    } else {
      out = std::move(h);
    }
  }
  if (tmpl) out = *tmpl;
  for (uint8_t s = 0; s < kSlots; ++s)
    if (mask & bit(static_cast<Slot>(s))) out.set(names_[s], values[static_cast<Slot>(s)]);
}

}  // namespace sluice::plugins::syslog
