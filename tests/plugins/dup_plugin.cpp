// Built several times (DUP_NAME differs) so that two libraries declare the same sink type, and
// with a type list (DUP_TYPES) that matches the manifest (loaded on first use) or does not
// (refused when first used).
#include "sluice/sdk/sdk.hpp"

namespace {
class DupSink final : public sluice::sdk::AbstractSink {
 public:
  sluice::sdk::Status process() override { return sluice::sdk::Status::BACKOFF; }
};
const sluice::sdk::PluginManifest& manifest() {
  static const sluice::sdk::PluginManifest m{
      DUP_NAME, "1.0",
      {sluice::sdk::makeComponent<DupSink>(sluice::sdk::ComponentKind::Sink, "test.dup", {}, {},
                                           "duplicate")}};
  return m;
}
}  // namespace
SLUICE_PLUGIN(manifest)
#ifdef DUP_TYPES
SLUICE_PLUGIN_TYPES(DUP_TYPES)
#endif
