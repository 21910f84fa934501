#include "replicating_selector.hpp"

#include <algorithm>
#include <string>

namespace sluice::plugins::replicating {

const sdk::Schema& replicatingSelectorSchema() {
  static const sdk::Schema schema{
      sdk::Key("optional")
          .list()
          .doc("Channels (space-separated) whose failures do not fail the put; all others are "
               "required"),
  };
  return schema;
}

void ReplicatingSelector::configure(const sdk::Context& context) {
  std::vector<sdk::Channel*> optional =
      channelsNamed(context, "optional", context.getString("optional", ""));
  std::vector<sdk::Channel*> required;
  for (sdk::Channel* c : getAllChannels())
    if (std::find(optional.begin(), optional.end(), c) == optional.end()) required.push_back(c);
  required_ = std::move(required);
  optional_ = std::move(optional);
}

}  // namespace sluice::plugins::replicating
