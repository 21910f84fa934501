#pragma once
// The worked example of README.md, compiled by the layer's tests and bench so that it stays
// true: a line-protocol source (what the netcat source becomes) as a thin protocol layer over
// TcpListener. One event per line; the lines of one read go to the channels in batches of
// batchSize; with ack, "OK" (or "FAILED: reason") is replied per line; without ack, a refused
// batch holds the connection (back-pressure) and is offered again with back-off.
//
// Allocations on the data path: the event bodies only. The batch is per I/O thread and reused;
// the layer hands over the bytes in place (its read buffer, or the kept tail of a line).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/tcp_listener.hpp"
#include "sluice/sdk/counters.hpp"
#include "sluice/sdk/source.hpp"

namespace sluice::plugins::net::example {

struct LineSourceOptions {
  std::size_t batchSize = 100;
  std::size_t maxLineLength = 512;  // longer lines are cut to this
  bool ack = false;
  std::chrono::milliseconds retryMin{10}, retryMax{1000};  // back-off while held
};

class LineSource final : public Protocol {
 public:
  // workers: the IoPool's size (one reused batch per I/O thread).
  LineSource(sdk::ChannelProcessor& processor, sdk::SourceCounter& counter, std::size_t workers,
             LineSourceOptions o)
      : processor_(processor), counter_(counter), o_(o), batches_(workers) {
    for (sdk::EventBatch& b : batches_) b.reserve(o_.batchSize);
  }

  std::unique_ptr<Session> open(Connection&) override;

  std::atomic<int64_t> truncated{0};       // lines cut to maxLineLength
  std::atomic<int64_t> partialDropped{0};  // connections closed in the middle of a line

 private:
  friend class LineSession;
  sdk::ChannelProcessor& processor_;
  sdk::SourceCounter& counter_;
  const LineSourceOptions o_;
  std::vector<sdk::EventBatch> batches_;  // [Connection::worker()]
};

class LineSession final : public Session {
 public:
  explicit LineSession(LineSource& source) : s_(source) {}

  Step onData(Connection& c, std::string_view data) override {
    sdk::EventBatch& batch = s_.batches_[c.worker()];
    std::size_t pos = 0;       // the start of the next line
    std::size_t accepted = 0;  // the bytes of the lines the channels took
    for (;;) {
      const void* nl = std::memchr(data.data() + pos, '\n', data.size() - pos);
      if (!nl) break;
      const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(nl) - data.data());
      std::size_t len = end - pos;
      if (len > 0 && data[end - 1] == '\r') --len;
      if (len > s_.o_.maxLineLength) {
        len = s_.o_.maxLineLength;
        s_.truncated.fetch_add(1, std::memory_order_relaxed);
      }
      batch.emplace_back(std::string(data.substr(pos, len)));
      pos = end + 1;
      if (batch.size() == s_.o_.batchSize) {
        if (!handOver(c, batch)) return hold(accepted);
        accepted = pos;
      }
    }
    if (!batch.empty() && !handOver(c, batch)) return hold(accepted);
    // The unfinished last line stays with the layer and comes again in front of the next bytes
    // (a line longer than maxBufferedInputBytes closes the connection).
    return Step::read(pos);
  }

  void onClose(Connection& c, CloseReason) noexcept override {
    if (!c.unconsumed().empty()) s_.partialDropped.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  // False when the channels refused the batch and the connection must be held.
  bool handOver(Connection& c, sdk::EventBatch& batch) {
    const auto n = static_cast<int64_t>(batch.size());
    s_.counter_.addToEventReceivedCount(n);
    s_.counter_.incrementAppendBatchReceivedCount();
    const sdk::Result r = s_.processor_.processEventBatch(batch);  // leaves batch empty
    if (r) {
      s_.counter_.addToEventAcceptedCount(n);
      s_.counter_.incrementAppendBatchAcceptedCount();
      backoff_ = std::chrono::milliseconds(0);  // taken: a later refusal starts the back-off over
      if (s_.o_.ack)
        for (int64_t i = 0; i < n; ++i) c.send("OK\n");
      return true;
    }
    s_.counter_.incrementChannelWriteFail();
    if (!s_.o_.ack) return false;
    const std::string reply = "FAILED: " + r.error() + "\n";
    for (int64_t i = 0; i < n; ++i) c.send(reply);
    return true;
  }

  // Keeps the refused lines (and everything after them) with the layer, which stops reading
  // this connection, so TCP stalls the sender, and offers them again after the back-off.
  Step hold(std::size_t accepted) {
    backoff_ = backoff_.count() == 0 ? s_.o_.retryMin : std::min(backoff_ * 2, s_.o_.retryMax);
    return Step::hold(accepted, backoff_);
  }

  LineSource& s_;
  std::chrono::milliseconds backoff_{0};
};

inline std::unique_ptr<Session> LineSource::open(Connection&) {
  return std::make_unique<LineSession>(*this);
}

}  // namespace sluice::plugins::net::example
