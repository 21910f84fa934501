#pragma once
// com.example.MySource: the custom source of Flume's developer guide, as a sluice plugin.
// A pollable source: the host's runner thread calls process() in a loop and backs off when it
// returns BACKOFF.

#include <cstdint>
#include <string>

#include <sluice/sdk/sdk.hpp>

namespace example {

class MySource final : public sluice::sdk::PollableSource {
 public:
  // The keys this source accepts; the host checks a config against it before configure().
  static sluice::sdk::Schema schema();

  void configure(const sluice::sdk::Context& context) override;
  void start() override;
  void stop() override;
  sluice::sdk::Status process() override;

 private:
  std::string prefix_;
  int64_t totalEvents_ = 10;
  int64_t batchSize_ = 1;
  // The next number to emit. Only process() touches it, on the runner thread; it advances only
  // when the channel processor accepted the batch, so a refused batch is emitted again.
  int64_t counter_ = 0;
  // Reused from batch to batch: processEventBatch() empties it but keeps its capacity.
  sluice::sdk::EventBatch batch_;
};

}  // namespace example
