#pragma once
// com.example.MySink: a sink in the shape of Flume's AbstractSink. It takes up to batchSize
// events from its channel in one transaction, writes each body as <prefix><body><suffix> to the
// host's log at info level, and commits only after every write succeeded.

#include <cstddef>
#include <string>

#include <sluice/sdk/sdk.hpp>

namespace example {

class MySink final : public sluice::sdk::AbstractSink {
 public:
  static sluice::sdk::Schema schema();

  void configure(const sluice::sdk::Context& context) override;
  void start() override;
  void stop() override;
  // Runs on the host's sink runner thread only.
  sluice::sdk::Status process() override;

 private:
  // Writes one event. Throws on failure (here only std::bad_alloc can happen); a real sink would
  // write to a file or a socket and fail for real.
  void write(const sluice::sdk::Event& event);

  std::string prefix_;
  std::string suffix_;
  std::size_t batchSize_ = 100;
  std::string line_;  // reused formatting buffer
};

}  // namespace example
