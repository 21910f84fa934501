#include "multiplexing_selector.hpp"

#include <algorithm>
#include <string_view>

#include "config_keys.hpp"

namespace sluice::plugins::multiplexing {

const sdk::Schema& multiplexingSelectorSchema() {
  static const sdk::Schema schema{
      sdk::Key("header")
          .string()
          .def(MultiplexingSelector::kDefaultHeader)
          .doc("The event header whose value picks the channels"),
      sdk::Key("mapping.*")
          .list()
          .doc("mapping.<value>: the required channels for events whose header has that value"),
      sdk::Key("default").list().doc(
          "The required channels for events whose header is missing, blank or not mapped"),
      sdk::Key("optional.*")
          .list()
          .doc(
              "optional.<value>: extra channels for that value whose failures do not fail the put"),
  };
  return schema;
}

namespace {

// Java's String.trim().isEmpty(): only characters <= ' '.
bool isBlank(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) <= ' '; });
}

}  // namespace

void MultiplexingSelector::configure(const sdk::Context& context) {
  std::string header = requireValue(context, "header");
  if (isBlank(header)) context.fail("header", "must name a header");
  std::vector<sdk::Channel*> defaults =
      channelsNamed(context, "default", context.getString("default", ""));

  ChannelMap mapping;
  const sdk::Context mappings = context.getSubProperties("mapping.");
  for (const auto& [value, param] : mappings.parameters()) {
    std::vector<sdk::Channel*> channels = channelsNamed(mappings, value, param.value);
    // Flume: an empty mapping is a mistake, not a way to say "use the default".
    if (channels.empty())
      mappings.fail(value, "no channel configured for header value '" + value + "'");
    mapping.emplace(value, std::move(channels));
  }

  ChannelMap optional;
  const sdk::Context optionals = context.getSubProperties("optional.");
  for (const auto& [value, param] : optionals.parameters()) {
    std::vector<sdk::Channel*> channels = channelsNamed(optionals, value, param.value);
    // A channel required for this value is not also optional for it (as Flume).
    auto it = mapping.find(value);
    const std::vector<sdk::Channel*>& required =
        it != mapping.end() && !it->second.empty() ? it->second : defaults;
    std::erase_if(channels, [&](sdk::Channel* c) {
      return std::find(required.begin(), required.end(), c) != required.end();
    });
    optional.emplace(value, std::move(channels));
  }

  header_ = std::move(header);
  default_ = std::move(defaults);
  mapping_ = std::move(mapping);
  optional_ = std::move(optional);
}

const std::vector<sdk::Channel*>& MultiplexingSelector::getRequiredChannels(
    const sdk::Event& event) noexcept {
  const std::string* value = event.headers.find(header_);
  if (value == nullptr || isBlank(*value)) return default_;
  auto it = mapping_.find(std::string_view(*value));
  return it == mapping_.end() ? default_ : it->second;
}

const std::vector<sdk::Channel*>& MultiplexingSelector::getOptionalChannels(
    const sdk::Event& event) noexcept {
  const std::string* value = event.headers.find(header_);
  if (value == nullptr) return none_;
  auto it = optional_.find(std::string_view(*value));
  return it == optional_.end() ? none_ : it->second;
}

}  // namespace sluice::plugins::multiplexing
