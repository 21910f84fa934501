#include "core/plugin/host_schemas.hpp"

#include <algorithm>
#include <cctype>

#include "core/monitoring/options.hpp"
#include "core/runtime/sink_processor.hpp"

namespace sluice::core {

const HostSchema* findHostSchema(std::string_view type) {
  if (const HostSchema* h = findSinkProcessorSchema(type)) return h;
  const HostSchema& m = monitoring::monitoringSchema();  // its type is lower-case
  const bool isMonitoring =
      std::equal(type.begin(), type.end(), m.type.begin(), m.type.end(),
                 [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
  return isMonitoring ? &m : nullptr;
}

}  // namespace sluice::core
