#include "seq_source.hpp"

#include <algorithm>
#include <charconv>
#include <string>

#include "config_keys.hpp"
#include "source_put.hpp"

namespace sluice::plugins::seq {

const sdk::Schema& seqSourceSchema() {
  static const sdk::Schema schema{
      sdk::Key("totalEvents")
          .longValue()
          .def("9223372036854775807")
          .atLeast(0)
          .doc("Number of events to generate; then process() returns BACKOFF"),
      sdk::Key("batchSize")
          .integer()
          .def("1")
          .range(1, 2147483647)
          .doc("Events generated and handed to the channels per process() call"),
  };
  return schema;
}

void SequenceSource::configure(const sdk::Context& context) {
  totalEvents_ = requireLong(context, "totalEvents");
  batchSize_ = static_cast<std::size_t>(requireInteger(context, "batchSize"));
}

sdk::Status SequenceSource::process() {
  if (next_ >= totalEvents_) return sdk::Status::BACKOFF;
  const auto n = static_cast<std::size_t>(
      std::min<int64_t>(static_cast<int64_t>(batchSize_), totalEvents_ - next_));
  batch_.clear();
  batch_.reserve(n);
  loadDigits(next_);
  for (std::size_t i = 0; i < n; ++i) {
    // Up to 15 digits fit the string's small buffer: no allocation besides the batch slot.
    batch_.emplace_back().body.assign(digits_ + digitsBegin_, kDigits - digitsBegin_);
    incrementDigits();
  }

  sdk::Result r = sources::putBatch(getChannelProcessor(), sourceCounter(), batch_);
  if (!r) return deliveryFailed(getName() + " source could not write to channel: " + r.error());
  next_ += static_cast<int64_t>(n);
  return next_ >= totalEvents_ ? sdk::Status::BACKOFF : sdk::Status::READY;
}

void SequenceSource::loadDigits(int64_t value) noexcept {
  char tmp[kDigits];
  auto [end, ec] = std::to_chars(tmp, tmp + kDigits, value);
  (void)ec;  // a non-negative int64 always fits in 24 characters
  const auto len = static_cast<std::size_t>(end - tmp);
  digitsBegin_ = kDigits - len;
  std::copy(tmp, end, digits_ + digitsBegin_);
}

void SequenceSource::incrementDigits() noexcept {
  std::size_t i = kDigits;
  while (i-- > digitsBegin_) {
    if (digits_[i] != '9') {
      ++digits_[i];
      return;
    }
    digits_[i] = '0';
  }
  // All nines: 999 -> 1000. At most 19 digits for an int64, so there is room to the left.
  digits_[--digitsBegin_] = '1';
}

}  // namespace sluice::plugins::seq
