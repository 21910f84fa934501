#include "load_balancing_selector.hpp"

#include <cctype>
#include <string>

#include "config_keys.hpp"
#include "text_util.hpp"

namespace sluice::plugins::loadbalancing {

const sdk::Schema& loadBalancingSelectorSchema() {
  static const sdk::Schema schema{
      sdk::Key("policy")
          .oneOf({"round_robin", "random"})
          .def("round_robin")
          .doc("How each event's channel is chosen: in turn, or at random"),
  };
  return schema;
}

void LoadBalancingSelector::configure(const sdk::Context& context) {
  // An enum the host has checked: round_robin or random, in any case.
  random_ = text::lower(requireValue(context, "policy")) == "random";
  single_.clear();
  for (sdk::Channel* c : getAllChannels()) single_.push_back({c});
  if (single_.empty()) throw sdk::ConfigError(context.path() + ": the source has no channels");
}

const std::vector<sdk::Channel*>& LoadBalancingSelector::getRequiredChannels(
    const sdk::Event&) noexcept {
  uint64_t n = next_.fetch_add(1, std::memory_order_relaxed);
  if (random_) {
    // splitmix64 of the counter: uniform enough to spread load, and lock-free across threads.
    n += 0x9e3779b97f4a7c15ULL;
    n = (n ^ (n >> 30)) * 0xbf58476d1ce4e5b9ULL;
    n = (n ^ (n >> 27)) * 0x94d049bb133111ebULL;
    n ^= n >> 31;
  }
  return single_[n % single_.size()];
}

}  // namespace sluice::plugins::loadbalancing
