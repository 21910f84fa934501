#pragma once
// Flume's MultiplexingChannelSelector: routes each event by the value of one header.
//   header     the header to look at (default flume.selector.header)
//   mapping.V  the required channels for header value V
//   default    the required channels when the header is missing, blank or has no mapping
//   optional.V the optional channels for header value V (minus any that are required for V)

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/selector.hpp"

namespace sluice::plugins::multiplexing {

const sdk::Schema& multiplexingSelectorSchema();

class MultiplexingSelector final : public sdk::ChannelSelector {
 public:
  static constexpr const char* kDefaultHeader = "flume.selector.header";

  void configure(const sdk::Context& context) override;

  // Per event: one header lookup and one map lookup by string_view; no allocation, no lock.
  const std::vector<sdk::Channel*>& getRequiredChannels(const sdk::Event& event) noexcept override;
  const std::vector<sdk::Channel*>& getOptionalChannels(const sdk::Event& event) noexcept override;

 private:
  using ChannelMap = std::map<std::string, std::vector<sdk::Channel*>, std::less<>>;

  std::string header_;  // set by configure(); the default is the schema's (kDefaultHeader)
  ChannelMap mapping_;
  ChannelMap optional_;
  std::vector<sdk::Channel*> default_;
  const std::vector<sdk::Channel*> none_{};
};

}  // namespace sluice::plugins::multiplexing
