#pragma once
// Channel selectors decide, per event, which of a source's channels it goes to (Flume's
// ChannelSelector). Built-ins: replicating (the default) and multiplexing.

#include <string>
#include <utility>
#include <vector>

#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/component.hpp"
#include "sluice/sdk/event.hpp"

namespace sluice::sdk {

// configure() receives the source's "selector." keys with that prefix removed (header,
// mapping.CZ, optional...). The host sets the channels before configure().
// getRequiredChannels/getOptionalChannels run on the source's threads, possibly several at once:
// keep them thread-safe and allocation-free. They must not throw (the noexcept is enforced).
class SLUICE_SDK_API ChannelSelector : public PluginObject {
 public:
  // Set by the host before configure().
  const std::vector<Channel*>& getAllChannels() const noexcept { return channels_; }

  virtual const std::vector<Channel*>& getRequiredChannels(const Event& event) noexcept = 0;
  virtual const std::vector<Channel*>& getOptionalChannels(const Event& event) noexcept = 0;

 protected:
  // Resolves a space-separated list of channel names against getAllChannels(); throws
  // ConfigError naming the key when a name is not one of this source's channels.
  std::vector<Channel*> channelsNamed(const Context& context, const std::string& key,
                                      const std::string& names) const {
    std::vector<Channel*> out;
    std::size_t i = 0;
    while (i < names.size()) {
      while (i < names.size() && (names[i] == ' ' || names[i] == '\t' || names[i] == ',')) ++i;
      std::size_t j = i;
      while (j < names.size() && names[j] != ' ' && names[j] != '\t' && names[j] != ',') ++j;
      if (j > i) {
        std::string name = names.substr(i, j - i);
        Channel* found = nullptr;
        for (Channel* c : channels_)
          if (c->getName() == name) found = c;
        if (!found)
          context.fail(key, "channel '" + name + "' is not one of this source's channels");
        bool dup = false;
        for (Channel* c : out) dup = dup || c == found;
        if (!dup) out.push_back(found);
      }
      i = j;
    }
    return out;
  }

 private:
  friend struct HostAccess;
  std::vector<Channel*> channels_;
};

}  // namespace sluice::sdk
