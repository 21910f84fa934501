#include "core/log/log_ring.hpp"

#include <algorithm>

namespace sluice::core {

LogRing::LogRing(std::size_t capacity) : capacity_(std::max<std::size_t>(1, capacity)) {
  slots_.reserve(capacity_);
}

void LogRing::push(int64_t timeMs, std::string_view level, std::string_view logger,
                   std::string_view message) {
  LogRecord r;
  r.timeMs = timeMs;
  r.level = level;
  r.logger = logger;
  if (message.size() > kMaxMessageBytes) {
    // Cut on a UTF-8 character boundary.
    std::size_t cut = kMaxMessageBytes;
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
    r.message.assign(message.substr(0, cut));
    r.message += "\xE2\x80\xA6";
  } else {
    r.message = message;
  }
  std::lock_guard lock(mutex_);
  ++total_;
  if (slots_.size() < capacity_) {
    slots_.push_back(std::move(r));
    return;
  }
  slots_[next_] = std::move(r);
  next_ = (next_ + 1) % capacity_;
}

LogRing::Copy LogRing::copy() const {
  Copy out;
  std::lock_guard lock(mutex_);
  out.records.reserve(slots_.size());
  // Once full, next_ is the oldest slot; before that, next_ is 0 and slots_ is in order.
  for (std::size_t i = 0; i < slots_.size(); ++i)
    out.records.push_back(slots_[(next_ + i) % slots_.size()]);
  out.total = total_;
  out.dropped = total_ - static_cast<int64_t>(slots_.size());
  return out;
}

}  // namespace sluice::core
