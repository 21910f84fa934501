// The plugin's descriptor: the one place that tells sluice what this .so provides. The host reads
// the ABI version and toolchain tag from the file first and refuses the library on a mismatch
// without loading it; then it loads it and reads the manifest: kind, type name, aliases, schema,
// description and factory of each component.

#include <sluice/sdk/sdk.hpp>

#include "my_interceptor.hpp"
#include "my_sink.hpp"
#include "my_source.hpp"

namespace {

namespace sdk = sluice::sdk;

const sdk::PluginManifest& manifest() {
  // Built on first use, by the host, after the ABI check; lives until the library is unloaded.
  static const sdk::PluginManifest m{
      "example",
      "1.0.0",
      {
          sdk::makeComponent<example::MySource>(
              sdk::ComponentKind::Source, "com.example.MySource", {}, example::MySource::schema(),
              "Emits <prefix><n> for n = 0..totalEvents-1, then backs off",
              sdk::Stability::Evolving),
          sdk::makeComponent<example::MySink>(
              sdk::ComponentKind::Sink, "com.example.MySink", {}, example::MySink::schema(),
              "Logs each event body as <prefix><body><suffix> at info level",
              sdk::Stability::Evolving),
          sdk::makeComponent<example::MyInterceptorBuilder>(
              sdk::ComponentKind::Interceptor, "com.example.MyInterceptor$Builder", {},
              example::MyInterceptorBuilder::schema(),
              "Sets a header on every event, keeping a value the event already has",
              sdk::Stability::Evolving),
      }};
  return m;
}

}  // namespace

// Exports the one descriptor symbol (sluice_plugin_v2). Exactly one per shared object.
SLUICE_PLUGIN(manifest)
// Optional: the types above, readable without loading this library, so that an agent maps it
// only when its config names one of them. Every type and alias of the manifest, or the library
// is refused when first used.
SLUICE_PLUGIN_TYPES(
    "source com.example.MySource; sink com.example.MySink; "
    "interceptor com.example.MyInterceptor$Builder")
