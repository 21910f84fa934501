#pragma once
// The file channel's keys: its schema and how they become StoreOptions. In the storage library
// because the spillable memory channel configures its overflow with the same keys.

#include <string>

#include "file_store.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::filechannel {

// The keys of the file channel; README.md's table must match (a unit test checks).
const sdk::Schema& fileChannelSchema();

// Reads the storage keys (directories, checkpoints, files, syncs) from a file channel's or
// spillable channel's host-prepared config (schema defaults filled in); capacity and the waits
// (keep-alive, take wait) are the caller's business. Throws ConfigError naming the key.
StoreOptions readStoreOptions(const sdk::Context& context, const std::string& channelName);

}  // namespace sluice::plugins::filechannel
