// test.stall: a sink for the service watchdog test (test_sd_notify.py). It takes and commits
// batches like any sink, except that while the file named by `stallFile` exists, process() does
// not return: the wedged runner the watchdog must notice. Removing the file lets it go on.

#include <chrono>
#include <filesystem>
#include <span>
#include <string>
#include <thread>

#include <sluice/sdk/sdk.hpp>

namespace {

namespace sdk = sluice::sdk;

class StallSink final : public sdk::AbstractSink {
 public:
  static sdk::Schema schema() {
    return {sdk::Key("stallFile")
                .string()
                .req()
                .doc("while this file exists, process() blocks (a wedged sink)")};
  }

  void configure(const sdk::Context& context) override {
    stallFile_ = context.getString("stallFile", "");
  }

  // Runs on the sink runner's thread only.
  sdk::Status process() override {
    std::error_code ec;
    while (std::filesystem::exists(stallFile_, ec))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    sdk::TransactionGuard tx(*getChannel());
    std::span<sdk::Event> batch;
    if (!tx->takeBatch(100, batch)) return deliveryFailed("take failed");
    if (!tx.commit()) return deliveryFailed("commit failed");
    return batch.empty() ? sdk::Status::BACKOFF : sdk::Status::READY;
  }

 private:
  std::string stallFile_;
};

const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "test-stall",
      "1.0.0",
      {sdk::makeComponent<StallSink>(
          sdk::ComponentKind::Sink, "test.stall", {}, StallSink::schema(),
          "Blocks in process() while stallFile exists", sdk::Stability::Evolving)}};
  return m;
}

}  // namespace

SLUICE_PLUGIN(manifest)
