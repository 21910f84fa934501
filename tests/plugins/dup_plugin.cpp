// Built twice (DUP_NAME differs) so that two libraries declare the same sink type.
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
