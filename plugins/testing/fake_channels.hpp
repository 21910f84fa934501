#pragma once
// Fake channels for plugin unit tests that need a channel but not a real one (for a channel with
// a queue and failing commits, see TestChannel in sink_test_support.hpp).

#include <cstddef>
#include <memory>
#include <span>
#include <utility>

#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/host_access.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::plugins::testing {

// A channel that is only a name (selectors look at nothing else); it has no transactions.
class NamedChannel final : public sdk::Channel {
 public:
  explicit NamedChannel(const char* name) { sdk::HostAccess::attach(*this, name, nullptr); }
  std::unique_ptr<sdk::Transaction> getTransaction() override { return nullptr; }
  sdk::Backlog backlog() const noexcept override { return sdk::Backlog::Unknown; }
};

// Wraps a real channel and fails the next `failCommits` commits, like a channel error at the
// worst moment (after the sink has written), or every take while failTakes is set.
class FlakyChannel final : public sdk::Channel {
 public:
  explicit FlakyChannel(sdk::Channel& inner) : inner_(inner) {}
  std::unique_ptr<sdk::Transaction> getTransaction() override {
    return std::make_unique<Tx>(*this, inner_.getTransaction());
  }
  sdk::Backlog backlog() const noexcept override { return inner_.backlog(); }
  int failCommits = 0;
  bool failTakes = false;

 private:
  struct Tx final : sdk::Transaction {
    Tx(FlakyChannel& ch, std::unique_ptr<sdk::Transaction> in) : ch(ch), in(std::move(in)) {}
    void begin() noexcept override { in->begin(); }
    sdk::Result putBatch(sdk::EventBatch& e) noexcept override { return in->putBatch(e); }
    sdk::Result takeBatch(std::size_t max, std::span<sdk::Event>& taken) noexcept override {
      if (ch.failTakes) return sdk::Result::failure("disk on fire");
      return in->takeBatch(max, taken);
    }
    sdk::Result commit() noexcept override {
      if (ch.failCommits > 0) {
        --ch.failCommits;
        return sdk::Result::failure("commit refused");
      }
      return in->commit();
    }
    void rollback() noexcept override { in->rollback(); }
    void close() noexcept override { in->close(); }
    FlakyChannel& ch;
    std::unique_ptr<sdk::Transaction> in;
  };
  sdk::Channel& inner_;
};

}  // namespace sluice::plugins::testing
