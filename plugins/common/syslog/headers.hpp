#pragma once
// Building an event's headers with one allocation (the header vector): room for exactly the
// headers the event gets is reserved, then each is appended in slot order. sdk::Headers grows one
// element at a time otherwise, and the ~7 headers of a syslog event would reallocate it four
// times; and set() looks for an existing name first, which took a tenth of a parse. Internal to
// the syslog library.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/sdk/event.hpp"
#include "syslog/syslog_common.hpp"

namespace sluice::plugins::syslog {

class HeaderBuilder {
 public:
  // The order values are set in: later slots overwrite earlier ones of the same name, so the
  // connection's headers win over parsed ones (Flume puts them after parsing).
  enum Slot : uint8_t {
    Facility,
    Severity,
    Priority,
    Version,
    Timestamp,
    Host,
    Status,
    ClientIp,
    ClientHostname,
    Port,
    kSlots
  };
  // Header values by slot. Only the slots in a mask are read, so nothing is initialised: zeroing
  // an array of ten string_views took a measurable share of a parse.
  class Values {
   public:
    void set(Slot s, std::string_view v) noexcept {
      data_[s] = v.data();
      size_[s] = v.size();
    }
    std::string_view operator[](Slot s) const noexcept { return {data_[s], size_[s]}; }

   private:
    const char* data_[kSlots];
    std::size_t size_[kSlots];
  };

  explicit HeaderBuilder(const PeerHeaderNames& peer);
  HeaderBuilder(const HeaderBuilder&) = delete;
  HeaderBuilder& operator=(const HeaderBuilder&) = delete;

  // Adds the peer's slots whose header names are configured.
  void addPeer(const PeerInfo& peer, uint32_t& mask, Values& values) const;

  // out (empty) = headers named by the slots in mask, with their values.
  void build(uint32_t mask, const Values& values, sdk::Headers& out) const;

  static constexpr uint32_t bit(Slot s) noexcept { return 1u << s; }

 private:
  std::array<std::string, kSlots> names_;
  // False when a configured peer header name equals a parsed one (clientIPHeader = host): then
  // the later slot replaces the earlier value through set().
  bool distinct_ = true;
};

// A slot's bit in a mask, for the parsers' `mask |= bit(Slot::Host)`.
inline constexpr uint32_t bit(HeaderBuilder::Slot s) noexcept { return HeaderBuilder::bit(s); }

}  // namespace sluice::plugins::syslog
