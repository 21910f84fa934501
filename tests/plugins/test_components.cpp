// Components that exist only for tests, loaded through the real loader like any plugin:
//  - test.header_seq: a pollable source whose events carry a header cycling through values,
//    to drive multiplexing and routing tests; it counts its process() calls (PollCount) and
//    has back-off defaults of its own (backoffDefaultMs), to test how the runner backs off;
//  - test.file_sink: a sink that appends bodies to a file and fails (rolling back) while a
//    control file exists, to test rollback, redelivery and failover; optionally it also records
//    which stretches of that file belong to committed batches (commitLog), so crash tests can
//    tell a batch whose take committed from one that was in flight;
//  - test.weighted_selector: a load_balance sink selector (smooth weighted round robin) that can
//    be told to throw, to test custom selectors and the host's fallback;
//  - a serializer and an http handler: see test_subcomponents.cpp.

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <thread>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "sluice/sdk/sdk.hpp"
#include "test_subcomponents.hpp"

namespace sluice::tests {

using namespace sluice::sdk;

class HeaderSeqSource final : public PollableSource {
 public:
  HeaderSeqSource() : pollCount_(sourceCounter().add("PollCount")) {}
  void configure(const Context& ctx) override {
    total_ = ctx.getLong("totalEvents", 100);
    batch_ = static_cast<std::size_t>(ctx.getInteger("batchSize", 10));
    header_ = ctx.getString("header", "state");
    values_ = ctx.getNames("values");
    sleepMs_ = ctx.getInteger("sleepMs", 0);
    backoffDefaultMs_ = ctx.getLong("backoffDefaultMs", kDefaultBackOffSleepIncrement);
    if (values_.empty()) values_.push_back("A");
  }
  // The source's own back-off defaults, which the host uses where the config sets no key.
  int64_t getBackOffSleepIncrement() const noexcept override { return backoffDefaultMs_; }
  int64_t getMaxBackOffSleepInterval() const noexcept override {
    return std::max(backoffDefaultMs_, kDefaultMaxBackOffSleep);
  }
  Status process() override {
    sourceCounter().increment(pollCount_);
    if (next_ >= total_) return Status::BACKOFF;
    // Test pacing only: keeps events flowing across a reload.
    if (sleepMs_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleepMs_));
    batchBuf_.clear();
    int64_t end = std::min<int64_t>(total_, next_ + static_cast<int64_t>(batch_));
    for (int64_t i = next_; i < end; ++i) {
      Event e(std::to_string(i));
      e.headers.set(header_, values_[static_cast<std::size_t>(i) % values_.size()]);
      batchBuf_.push_back(std::move(e));
    }
    auto n = static_cast<int64_t>(batchBuf_.size());
    sourceCounter().addToEventReceivedCount(n);
    sourceCounter().incrementAppendBatchReceivedCount();
    if (!getChannelProcessor().processEventBatch(batchBuf_)) {
      sourceCounter().incrementChannelWriteFail();
      return Status::BACKOFF;
    }
    sourceCounter().addToEventAcceptedCount(n);
    sourceCounter().incrementAppendBatchAcceptedCount();
    next_ = end;
    return Status::READY;
  }

 private:
  int64_t total_ = 100;
  std::size_t batch_ = 10;
  std::string header_;
  std::vector<std::string> values_;
  int64_t next_ = 0;
  int sleepMs_ = 0;
  int64_t backoffDefaultMs_ = kDefaultBackOffSleepIncrement;
  std::size_t pollCount_;
  EventBatch batchBuf_;
};

class FileSink final : public AbstractSink {
 public:
  void configure(const Context& ctx) override {
    out_ = ctx.requireString("outFile");
    failFile_ = ctx.getString("failFile", "");
    commitLog_ = ctx.getString("commitLog", "");
    batch_ = static_cast<std::size_t>(ctx.getInteger("batchSize", 100));
  }
  Status process() override {
    SinkBatch tx(*this, batch_);
    if (!tx.ok()) return deliveryFailed(tx.error());
    if (tx.empty()) return Status::BACKOFF;
    const std::span<Event> batchBuf_ = tx.events();
    struct stat st {};
    if (!failFile_.empty() && ::stat(failFile_.c_str(), &st) == 0) {
      sinkCounter().incrementEventWriteFail();
      return deliveryFailed("failing on purpose: " + failFile_ + " exists");
    }
    std::string text;
    for (const auto& e : batchBuf_) {
      text.append(e.body);
      for (const auto& [k, v] : e.headers) text.append(" ").append(k).append("=").append(v);
      text.push_back('\n');
    }
    FILE* f = std::fopen(out_.c_str(), "ab");
    if (!f) return deliveryFailed("cannot open " + out_ + ": " + std::strerror(errno));
    // Where this batch starts in outFile: appends go to the end, and with one sink writing
    // the file nothing else moves it.
    long start = std::fseek(f, 0, SEEK_END) == 0 ? std::ftell(f) : -1;
    bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) return deliveryFailed("cannot write " + out_);
    if (!tx.commit()) return deliveryFailed("commit failed");
    if (!commitLog_.empty() && start >= 0) {
      // "C START END": bytes [START, END) of outFile are a batch whose take committed. Written
      // after the commit returned, so a crash in between leaves a committed batch unmarked
      // (it looks in flight), never the other way round.
      const std::string mark = "C " + std::to_string(start) + " " +
                               std::to_string(start + static_cast<long>(text.size())) + "\n";
      if (FILE* c = std::fopen(commitLog_.c_str(), "ab")) {
        (void)std::fwrite(mark.data(), 1, mark.size(), c);
        (void)std::fclose(c);
      }
    }
    return Status::READY;
  }

 private:
  std::string out_, failFile_, commitLog_;
  std::size_t batch_ = 100;
};

class WeightedSinkSelector final : public SinkSelector {
 public:
  void configure(const Context& context) override {
    const std::string list = context.requireString("weights");
    std::size_t i = 0;
    while (i < list.size()) {
      while (i < list.size() && list[i] == ' ') ++i;
      std::size_t j = list.find(' ', i);
      if (j == std::string::npos) j = list.size();
      if (j > i) {
        int w = 0;
        auto [p, ec] = std::from_chars(list.data() + i, list.data() + j, w);
        if (ec != std::errc() || p != list.data() + j || w < 1)
          context.fail("weights", "expected positive integers, got '" + list + "'");
        weights_.push_back(w);
      }
      i = j;
    }
    if (weights_.size() != getSinks().size())
      context.fail("weights", "expected one weight per sink (" + std::to_string(getSinks().size()) +
                                  "), got " + std::to_string(weights_.size()));
    current_.assign(weights_.size(), 0);
    throwEvery_ = context.getInteger("throwEvery", 0);
  }

  // Smooth weighted round robin over the candidates: the best goes first, the rest keep order.
  void order(std::vector<std::size_t>& candidates) override {
    if (throwEvery_ > 0 && ++calls_ % throwEvery_ == 0) throw std::runtime_error("asked to throw");
    if (candidates.empty()) return;
    int total = 0;
    std::size_t best = 0;
    for (std::size_t k = 0; k < candidates.size(); ++k) {
      const std::size_t s = candidates[k];
      current_[s] += weights_[s];
      total += weights_[s];
      if (current_[s] > current_[candidates[best]]) best = k;
    }
    current_[candidates[best]] -= total;
    std::rotate(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(best),
                candidates.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }

 private:
  std::vector<int> weights_;
  std::vector<int> current_;
  int throwEvery_ = 0;
  int calls_ = 0;
};

const PluginManifest& manifest() {
  static const PluginManifest m{
      "sluice-test-plugins",
      "0.0.1",
      {makeComponent<HeaderSeqSource>(
           ComponentKind::Source, "test.header_seq", {"headerseq"},
           Schema{Key("totalEvents").longValue().def("100").atLeast(0).doc("events to emit"),
                  Key("batchSize").integer().def("10").range(1, 1000000).doc("events per batch"),
                  Key("header").def("state").doc("header to set"),
                  Key("values").list().def("A").doc("values the header cycles through"),
                  Key("sleepMs").integer().def("0").range(0, 10000).doc("pause before each batch"),
                  Key("backoffDefaultMs")
                      .longValue()
                      .def("1000")
                      .range(0, 3600000)
                      .doc("what getBackOffSleepIncrement() returns (the max is at least 5000)")},
           "test source with a cycling header", Stability::Experimental),
       makeComponent<FileSink>(
           ComponentKind::Sink, "test.file_sink", {},
           Schema{Key("outFile").req().doc("file to append bodies to"),
                  Key("failFile").doc("while this file exists every batch fails"),
                  Key("commitLog")
                      .doc("after each committed batch, append 'C START END' (its "
                           "bytes in outFile) to this file"),
                  Key("batchSize").integer().def("100").range(1, 1000000).doc("events per batch"),
                  // Named like no secret on purpose: only isSecret() says it is one.
                  Key("accessCode")
                      .longValue()
                      .range(0, 99999999999.0)
                      .isSecret()
                      .doc("unused; a secret by schema only, to test masking")},
           "test sink writing to a file, failing on demand", Stability::Experimental),
       makeComponent<WeightedSinkSelector>(
           ComponentKind::SinkSelector, "test.weighted_selector", {},
           Schema{Key("weights").list().req().doc("one positive weight per sink, in group order"),
                  Key("throwEvery")
                      .integer()
                      .def("0")
                      .range(0, 1000000)
                      .doc("throw from order() on every Nth call (0 = never)")},
           "test load_balance selector: smooth weighted round robin", Stability::Experimental),
       upperSerializerComponent(), csvHandlerComponent()}};
  return m;
}

}  // namespace sluice::tests

SLUICE_PLUGIN(sluice::tests::manifest)
