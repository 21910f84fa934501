#pragma once
// Flume's ReplicatingChannelSelector, the default selector: every event goes to all of the
// source's channels; the ones listed in `optional` may fail without failing the put.

#include <vector>

#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/selector.hpp"

namespace sluice::plugins::replicating {

const sdk::Schema& replicatingSelectorSchema();

class ReplicatingSelector final : public sdk::ChannelSelector {
 public:
  // Precomputes both lists; the per-event calls only return references to them.
  void configure(const sdk::Context& context) override;

  const std::vector<sdk::Channel*>& getRequiredChannels(const sdk::Event&) noexcept override {
    return required_;
  }
  const std::vector<sdk::Channel*>& getOptionalChannels(const sdk::Event&) noexcept override {
    return optional_;
  }

 private:
  std::vector<sdk::Channel*> required_;
  std::vector<sdk::Channel*> optional_;
};

}  // namespace sluice::plugins::replicating
