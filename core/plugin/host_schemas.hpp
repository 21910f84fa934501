#pragma once
// The key sets the host reads itself, declared as schemas so that they are checked, hinted and
// described like a plugin's: the sink processors (default, failover, load_balance) and the
// monitoring keys. `sluice describe <type>` finds them here when no plugin has the type.

#include <string_view>

#include "core/plugin/schema_check.hpp"

namespace sluice::core {

// The HostSchema of a sink processor type, a Flume sink processor class or "monitoring"
// (case-insensitive), or nullptr.
const HostSchema* findHostSchema(std::string_view type);

}  // namespace sluice::core
