#pragma once
// Flume's FileChannel: a durable channel. Events are appended to log files in dataDirs and an
// index of them is checkpointed to checkpointDir; a put commit returns once its events are on
// stable storage. The storage engine is FileStore (file_store.hpp); this class adds Flume's
// configuration, transactions and counters. See README.md.

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "channel_transaction.hpp"
#include "file_store.hpp"
#include "sluice/sdk/channel.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"
#include "store_options.hpp"

namespace sluice::plugins::filechannel {

// Staging storage of one transaction, pooled by the channel.
struct FileTxBuffers {
  sdk::EventBatch puts;
  std::string encoded;
  std::vector<IndexEntry> index;
  FileStore::TakeState take;
  std::vector<SourceState> states;  // putSourceState() of this transaction, one per key
  void reset() noexcept {
    puts.clear();
    states.clear();
    take.recycleEvents();
    take.entries.clear();
  }
};

class FileChannel final : public sdk::Channel {
 public:
  FileChannel();
  ~FileChannel() override;

  // Settings apply at the next start(); a running channel keeps its files open.
  void configure(const sdk::Context& context) override;
  // Opens the log: locks the directories, replays, writes a checkpoint.
  void start() override;
  // Checkpoints (checkpointOnClose) and closes the log.
  void stop() override;
  std::unique_ptr<sdk::Transaction> getTransaction() override;
  sdk::Backlog backlog() const noexcept override;
  // Source states ride in the put transaction's log write and in every checkpoint.
  bool keepsSourceState() const noexcept override { return true; }
  bool committedSourceState(std::string_view key, std::string& out) const noexcept override;

  FileStore& store() noexcept { return *store_; }
  const ReplayReport& lastReplay() const noexcept { return lastReplay_; }
  std::size_t transactionCapacity() const noexcept { return transactionCapacity_; }

 private:
  friend class FileTxOps;

  StoreCounters idx_;
  std::unique_ptr<FileStore> store_;
  StoreOptions options_;
  std::size_t transactionCapacity_ = 10000;
  ReplayReport lastReplay_;

  channeltx::BufferPool<FileTxBuffers> pool_;
};

}  // namespace sluice::plugins::filechannel
