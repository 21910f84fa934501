// Fuzz target: Flume .properties text through the parser and the agent model builder, the path
// every config file (and every hot reload) takes. A syntax error must be a ConfigParseError with
// file:line, never a crash or another exception.
#include <cstdint>
#include <string_view>

#include "core/config/diagnostics.hpp"
#include "core/config/model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    sluice::core::Diagnostics parseDiags;
    const auto raw = sluice::core::parseProperties(text, "fuzz.properties", &parseDiags);
    for (const auto& agent : sluice::core::agentNames(raw)) {
      sluice::core::Diagnostics diags;
      (void)sluice::core::buildAgentConfig(raw, agent, diags);
    }
  } catch (const sluice::core::ConfigParseError&) {
  }
  return 0;
}
