#include "stress_source.hpp"

#include <algorithm>
#include <thread>

#include "config_keys.hpp"
#include "source_put.hpp"

namespace sluice::plugins::stress {

const sdk::Schema& stressSourceSchema() {
  static const sdk::Schema schema{
      sdk::Key("size")
          .integer()
          .def("500")
          .range(0, 2147483647)
          .doc("Body size of each event, in bytes"),
      sdk::Key("maxTotalEvents")
          .longValue()
          .def("-1")
          .atLeast(-1)
          .doc("Events to send in total, counting failed attempts; -1 means no limit"),
      sdk::Key("maxSuccessfulEvents")
          .longValue()
          .def("-1")
          .atLeast(-1)
          .doc("Events to deliver successfully; -1 means no limit"),
      sdk::Key("batchSize")
          .integer()
          .def("1")
          .range(1, 2147483647)
          .doc("Events handed to the channels per process() call"),
      sdk::Key("maxEventsPerSecond")
          .integer()
          .def("0")
          .range(0, 2147483647)
          .doc("Rate limit in events per second; 0 means no limit"),
  };
  return schema;
}

StressSource::StressSource()
    : totalIdx_(sourceCounter().add("events.total")),
      successfulIdx_(sourceCounter().add("events.successful")),
      failedIdx_(sourceCounter().add("events.failed")) {}

void StressSource::configure(const sdk::Context& context) {
  const int64_t size = requireInteger(context, "size");
  maxTotalEvents_ = requireLong(context, "maxTotalEvents");
  maxSuccessfulEvents_ = requireLong(context, "maxSuccessfulEvents");
  batchSize_ = static_cast<std::size_t>(requireInteger(context, "batchSize"));
  maxEventsPerSecond_ = requireInteger(context, "maxEventsPerSecond");
  // Flume fills the buffer with Byte.MAX_VALUE.
  body_.assign(static_cast<std::size_t>(size), '\x7f');
  bucketStarted_ = false;
}

bool StressSource::acquire(int64_t n) {
  const double rate = static_cast<double>(maxEventsPerSecond_);
  const double burst = std::max(rate, static_cast<double>(n));
  auto refill = [&] {
    const Clock::time_point now = Clock::now();
    if (!bucketStarted_) {
      // Start with one batch's worth, so the first batch goes out at once (as Guava's first
      // acquire does) without a one-second burst on top.
      tokens_ = static_cast<double>(n);
      bucketStarted_ = true;
    } else {
      tokens_ = std::min(burst,
                         tokens_ + std::chrono::duration<double>(now - lastRefill_).count() * rate);
    }
    lastRefill_ = now;
  };
  refill();
  if (tokens_ < static_cast<double>(n)) {
    const auto wait = std::chrono::duration<double>((static_cast<double>(n) - tokens_) / rate);
    std::this_thread::sleep_for(std::min<std::chrono::duration<double>>(wait, kMaxRateSleep));
    refill();
    if (tokens_ < static_cast<double>(n)) return false;
  }
  tokens_ -= static_cast<double>(n);
  return true;
}

sdk::Status StressSource::process() {
  sdk::SourceCounter& counter = sourceCounter();
  const int64_t total = counter.get(totalIdx_);
  if ((maxTotalEvents_ >= 0 && total >= maxTotalEvents_) ||
      (maxSuccessfulEvents_ >= 0 && counter.get(successfulIdx_) >= maxSuccessfulEvents_))
    return sdk::Status::BACKOFF;

  int64_t n = static_cast<int64_t>(batchSize_);
  if (maxTotalEvents_ >= 0) n = std::min(n, maxTotalEvents_ - total);
  // Not yet allowed: we slept a little; READY brings the runner back without its back-off.
  if (maxEventsPerSecond_ > 0 && !acquire(n)) return sdk::Status::READY;

  batch_.clear();
  batch_.reserve(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) batch_.emplace_back(body_);  // the copy is the event

  counter.add(totalIdx_, n);
  sdk::Result r = sources::putBatch(getChannelProcessor(), counter, batch_);
  if (!r) {
    counter.add(failedIdx_, n);
    return deliveryFailed(getName() + " source could not write to channel: " + r.error());
  }
  counter.add(successfulIdx_, n);
  return sdk::Status::READY;
}

}  // namespace sluice::plugins::stress
