#pragma once
// Flume's SequenceGeneratorSource: generates events whose bodies are the decimal numbers 0, 1,
// 2, ... up to totalEvents - 1. Used for testing and benchmarking pipelines.

#include <cstddef>
#include <cstdint>
#include <limits>

#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/schema.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::plugins::seq {

const sdk::Schema& seqSourceSchema();

class SequenceSource final : public sdk::PollableSource {
 public:
  void configure(const sdk::Context& context) override;
  // Runner thread. Generates up to batchSize events and hands them to the channel processor.
  // The counter advances only when the batch is accepted, so a failed batch is regenerated with
  // the same numbers on the next call.
  sdk::Status process() override;

  // The first number not yet accepted by the channels.
  int64_t next() const noexcept { return next_; }

 private:
  // Writes next_ into digits_ (right-aligned) once per batch; then each event copies the digits
  // and increments them in place, which is cheaper than a conversion per event.
  void loadDigits(int64_t value) noexcept;
  void incrementDigits() noexcept;

  static constexpr std::size_t kDigits = 24;

  int64_t totalEvents_ = std::numeric_limits<int64_t>::max();
  std::size_t batchSize_ = 1;
  int64_t next_ = 0;
  sdk::EventBatch batch_;  // reused: the processor leaves it empty with its capacity
  char digits_[kDigits] = {};
  std::size_t digitsBegin_ = kDigits;
};

}  // namespace sluice::plugins::seq
