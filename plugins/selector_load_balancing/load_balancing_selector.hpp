#pragma once
// Flume 1.10's LoadBalancingChannelSelector: each event goes to exactly one of the source's
// channels, chosen round robin or at random, to spread load over several channels (and so over
// their sinks) without a sink group.

#include <atomic>
#include <cstdint>
#include <vector>

#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/selector.hpp"

namespace sluice::plugins::loadbalancing {

const sdk::Schema& loadBalancingSelectorSchema();

// getRequiredChannels runs on the source's threads, possibly several at once: the position is an
// atomic counter, and each answer is a reference to a precomputed one-channel list, so choosing a
// channel neither locks nor allocates.
class LoadBalancingSelector final : public sdk::ChannelSelector {
 public:
  void configure(const sdk::Context& context) override;

  const std::vector<sdk::Channel*>& getRequiredChannels(const sdk::Event&) noexcept override;
  const std::vector<sdk::Channel*>& getOptionalChannels(const sdk::Event&) noexcept override {
    return none_;
  }

 private:
  std::vector<std::vector<sdk::Channel*>> single_;  // single_[i] = {channel i}
  std::vector<sdk::Channel*> none_;
  bool random_ = false;
  std::atomic<uint64_t> next_{0};
};

}  // namespace sluice::plugins::loadbalancing
