#pragma once
// The durable storage under the file channel (and under the spillable memory channel's
// overflow): an append-only log of Put/Take/Commit records spread over data directories, an
// in-memory index of queued events (one IndexEntry each, bodies stay on disk), and periodic
// checkpoints of that index. See README.md for the format and the recovery rules.
//
// Threads: any number of transaction threads call commitPuts/take/commitTakes/rollbackTakes at
// once; one background thread (started by open()) writes checkpoints and, without
// fsyncPerTransaction, syncs the log every fsyncInterval. open() and close() run on the control
// thread while no transaction is active.
//
// Locking: mu_ guards the queue, the log tail and the file table; each write() of a whole
// transaction happens under it, so log order is queue order and a checkpoint is consistent.
// fdatasync happens outside mu_, in syncTo(): concurrent committers share one sync (group
// commit). Events become visible to takers only once their records are synced.
//
// Failure: a failed fdatasync (or an index that could not take events back) leaves the log in a
// state only a replay can sort out, so it is sticky: from then on every put and every checkpoint
// fails, and Unhealthy is 1, until close() and open() (see markFailed()).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "log_format.hpp"
#include "sluice/sdk/counters.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::plugins::filechannel {

struct StoreOptions {
  std::string checkpointDir;
  std::vector<std::string> dataDirs;
  std::string backupCheckpointDir;  // empty: no backup checkpoint
  uint64_t capacity = 1000000;
  int64_t checkpointIntervalMs = 30000;
  uint64_t maxFileSize = 2146435071;
  uint64_t minimumRequiredSpace = 524288000;
  bool checkpointOnClose = true;
  bool fsyncPerTransaction = true;
  int64_t fsyncIntervalMs = 5000;
  int64_t keepAliveMs = 3000;   // how long a put commit waits for room
  int64_t maxTakeWaitMs = 100;  // how long a take on an empty queue waits
  // Test seam, never set by configuration: called instead of ::fdatasync(fd) for log files, with
  // the same contract (0, or -1 with errno set). Tests use it to count syncs, slow them down or
  // make one fail. Empty: ::fdatasync.
  std::function<int(int fd)> logSync;
};

// One damaged stretch of a log file found by replay.
struct CorruptRegion {
  std::string file;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string reason;
  bool tail = false;  // nothing valid follows it in its file
};

// What a replay found; open() logs it, the offline checker prints it.
struct ReplayReport {
  std::string source;  // "checkpoint", "backup checkpoint", "full replay", "empty"
  std::string fallbackReason;
  std::size_t liveEvents = 0;
  std::size_t logFiles = 0;
  uint64_t logBytes = 0;
  std::size_t recordsRead = 0;
  std::size_t uncommittedPuts = 0;  // Put records without their Commit (rolled back by a crash)
  std::size_t lostEvents = 0;       // checkpointed events whose log file is gone
  std::size_t sourceStates = 0;     // sources whose committed state the channel holds
  std::vector<CorruptRegion> corrupt;
  double seconds = 0;
};

// Indices of the counters beyond Flume's ChannelCounter, added to the channel's group.
struct StoreCounters {
  // Open and Closed are Flume's FileChannelCounter isOpen() and getClosed(): one is 1, the other 0.
  std::size_t putError, takeError, checkpointWriteError, checkpointBackupWriteError, open, closed,
      unhealthy;
  static StoreCounters addTo(sdk::CounterGroup& g);
};

class FileStore {
 public:
  // State of one take transaction. Owned by the transaction; the store registers it while it
  // holds events, so a checkpoint still counts them as queued. While registered, checkpoint()
  // reads `entries` under the store's mu_ from another thread: only the store changes them then,
  // and only under mu_ (the caller may read them, and use everything else freely).
  struct TakeState {
    std::vector<IndexEntry> entries;  // every record taken in this transaction
    sdk::EventBatch events;           // their decoded events (minus corrupt ones)
    // Events of finished transactions, kept so the next take decodes into their strings
    // instead of allocating a body (and freeing it at commit) per event. Bounded by
    // kRecycleBytes of string capacity; a caller that moves bodies out simply recycles less.
    sdk::EventBatch spare;
    std::string readBuf;
    std::string recordBuf;
    bool registered = false;
    uint64_t epoch = 0;  // which open() of the store the entries belong to

    static constexpr std::size_t kRecycleBytes = std::size_t{1} << 20;
    // Empties events, keeping what fits in spare.
    void recycleEvents() noexcept {
      std::size_t bytes = 0;
      for (const sdk::Event& e : spare) bytes += e.body.capacity();
      for (sdk::Event& e : events) {
        bytes += e.body.capacity();
        if (bytes > kRecycleBytes || spare.size() == spare.capacity()) break;
        spare.push_back(std::move(e));  // within capacity: cannot throw
      }
      events.clear();
    }
  };

  FileStore(sdk::Logger& logger, sdk::ChannelCounter& counter, StoreCounters indices);
  ~FileStore();
  FileStore(const FileStore&) = delete;
  FileStore& operator=(const FileStore&) = delete;

  // Locks the directories, replays, opens a new log file, writes a checkpoint and starts the
  // background thread. Throws std::runtime_error naming the directory or file on failure.
  ReplayReport open(const StoreOptions& options);
  // Stops the background thread, writes a last checkpoint (checkpointOnClose), closes files.
  void close() noexcept;
  bool isOpen() const noexcept { return open_.load(std::memory_order_acquire); }
  // Call while closed (the host attaches the logger after construction).
  void setLogger(sdk::Logger& logger) noexcept { logger_ = &logger; }

  // Appends the events as one put transaction and returns once they are durable (per
  // fsyncPerTransaction). Waits up to keepAlive for room; `leaving` is how many events the same
  // transaction took (they leave as these arrive). Empties `events` on success and failure.
  // `states` (sdk::Transaction::putSourceState) are written in the same transaction, before its
  // Commit record, and become what sourceState() returns; a transaction may carry states alone.
  sdk::Result commitPuts(sdk::EventBatch& events, std::string& scratch,
                         std::vector<IndexEntry>& scratchIndex, std::size_t leaving,
                         std::span<const SourceState> states = {});
  // commitPuts in two steps, for a caller that must order the queued events against its own
  // bookkeeping: appendPuts writes and queues them (not yet durable, not yet visible to takers)
  // and sets endPos (0 when there was nothing to write); syncPuts(endPos) makes them durable
  // and visible. appendPuts may be called under the caller's lock, syncPuts should not be.
  sdk::Result appendPuts(sdk::EventBatch& events, std::string& scratch,
                         std::vector<IndexEntry>& scratchIndex, std::size_t leaving,
                         uint64_t& endPos, std::span<const SourceState> states = {});
  sdk::Result syncPuts(uint64_t endPos);
  // Writes the events as one put transaction and splices them into the queue by `order`: a
  // run n > 0 places the next n events, n < 0 keeps the next -n queued entries; what order
  // does not cover follows, in its order. Ignores capacity, keepAlive and minimumRequiredSpace:
  // the events exist already and this is their last chance to be kept. Returns once they and
  // a checkpoint holding their place are durable. For the spillable channel's stop(), while no
  // put is in progress. Empties `events` once they are written.
  sdk::Result spliceCommitPuts(sdk::EventBatch& events, std::span<const int64_t> order,
                               std::string& scratch, std::vector<IndexEntry>& scratchIndex);
  // Takes up to max events (reading their bodies back); `taken` views the new ones.
  sdk::Result take(TakeState& st, std::size_t max, std::span<sdk::Event>& taken);
  sdk::Result commitTakes(TakeState& st);
  void rollbackTakes(TakeState& st) noexcept;

  // Writes a checkpoint now and deletes log files nothing needs any more. Fails once the store
  // has failed (a checkpoint must not pass records that may not be on disk).
  sdk::Result checkpoint();

  // Wakes waiting takers and putters and makes new waits return at once (channel stopping).
  void interruptWaits() noexcept;

  // The value of the last committed put transaction that carried `key` (replayed from the log
  // and the checkpoint on open). False when none did. Any thread.
  bool sourceState(std::string_view key, std::string& out) const;

  std::size_t size() const;  // committed events queued (not counting taken ones)
  // Put commits now waiting for room (keep-alive). For tests, which wait on it instead of
  // sleeping until a commit has started to wait.
  int putWaiters() const {
    std::lock_guard lock(mu_);
    return spaceWaiters_;
  }
  std::size_t inFlight() const;      // taken, not yet committed
  std::size_t logFileCount() const;  // log files on disk
  // True after a failure that only close() + open() clears (see markFailed()).
  bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }
  uint64_t capacity() const noexcept { return options_.capacity; }
  const StoreOptions& options() const noexcept { return options_; }

  // Replays the directories without changing anything (the offline checker); the directories
  // must not be in use. Throws std::runtime_error.
  static ReplayReport inspect(const StoreOptions& options, sdk::Logger& logger);

 private:
  struct LogFile;
  struct FileInfo {
    std::shared_ptr<LogFile> file;
    uint64_t live = 0;  // queued or in-flight events whose Put record is in this file
  };
  // A FIFO of index entries that grows by doubling.
  class Ring {
   public:
    std::size_t size() const noexcept { return count_; }
    bool empty() const noexcept { return count_ == 0; }
    const IndexEntry& operator[](std::size_t i) const noexcept {
      return buf_[(head_ + i) & (buf_.size() - 1)];
    }
    void pushBack(const IndexEntry& e);
    void pushFront(const IndexEntry& e);
    IndexEntry popFront() noexcept;
    void clear() noexcept { head_ = count_ = 0; }
    void reserve(std::size_t n);

   private:
    std::vector<IndexEntry> buf_;  // size is a power of two (or 0)
    std::size_t head_ = 0, count_ = 0;
  };
  struct Checkpoint;
  struct Scan;

  void lockDirectories();
  void unlockDirectories() noexcept;
  // Replay into `scan`; with repair, truncates torn tails.
  static void replay(const StoreOptions& o, sdk::Logger& logger, bool repair, Scan& scan,
                     ReplayReport& report);
  void openNewLogFile();  // caller holds mu_ (or is open())
  // Encodes events as one put transaction into scratch (records, then the commit record).
  sdk::Result encodePuts(const sdk::EventBatch& events, std::string& scratch,
                         std::vector<IndexEntry>& scratchIndex,
                         std::span<const SourceState> states = {});
  // Makes everything up to pos durable; shares the fdatasync with concurrent callers. Fails for
  // any pos not yet synced once the store has failed.
  sdk::Result syncTo(uint64_t pos);
  int syncLog(int fd);  // ::fdatasync, or options_.logSync
  // Writes buf at the log tail (rolling to a new file first if it would pass maxFileSize).
  // Caller holds mu_. Returns the position of buf's first byte.
  sdk::Result appendLocked(const std::string& buf, uint64_t& at);
  uint64_t visibleLimitLocked() const noexcept;
  void unregisterLocked(TakeState& st) noexcept;
  void wakeTakers();
  void backgroundLoop();
  // The oldest log files nothing queued or in flight needs (a prefix of the log, below
  // belowFileId, never the active one). Caller holds mu_; decided with the checkpoint snapshot.
  void collectDeletableLocked(uint32_t belowFileId, std::vector<uint32_t>& ids) const;
  void deleteFilesLocked(const std::vector<uint32_t>& ids);
  void setUnhealthy(bool bad) noexcept;
  // Makes the failure sticky: puts, syncs of unsynced positions and checkpoints fail from now
  // on, with `reason`; Unhealthy is 1. Logs once. Any thread, with or without mu_ held.
  void markFailed(std::string_view reason) noexcept;
  std::string failReason() const;

  sdk::Logger* logger_;
  sdk::ChannelCounter& counter_;
  StoreCounters idx_;
  StoreOptions options_;
  std::atomic<bool> open_{false};

  mutable std::mutex mu_;
  std::condition_variable dataCv_;   // takers waiting for visible events
  std::condition_variable spaceCv_;  // put commits waiting for room
  Ring queue_;
  std::size_t reserved_ = 0;  // taken, not committed
  int dataWaiters_ = 0, spaceWaiters_ = 0;
  bool stopping_ = false;
  std::vector<TakeState*> inflight_;
  uint64_t epoch_ = 0;  // incremented by open()
  std::map<uint32_t, FileInfo> files_;
  // Source states of committed put transactions, by key; written to every checkpoint, so that
  // deleting old log files never loses them. Updated when the transaction is appended, under the
  // same lock as the queue, so a checkpoint's snapshot holds the states of exactly the records
  // before its position.
  std::map<std::string, std::string, std::less<>> states_;
  std::shared_ptr<LogFile> active_;
  FileInfo* activeInfo_ = nullptr;
  std::size_t nextDir_ = 0;
  uint64_t writeOff_ = 0;  // tail offset in active_
  std::atomic<uint64_t> writtenPos_{0};
  std::atomic<uint64_t> nextTxId_{1};

  std::mutex syncMu_;
  std::condition_variable syncCv_;
  bool syncing_ = false;
  std::atomic<uint64_t> syncedPos_{0};

  std::mutex checkpointMu_;  // one checkpoint at a time
  std::vector<IndexEntry> snapshot_;
  std::vector<SourceState> stateSnapshot_;
  std::vector<uint32_t> deletable_;  // files the checkpoint being written makes unneeded
  std::string checkpointBuf_;

  // Set by markFailed(), cleared by open(). Read lock-free on the put path.
  std::atomic<bool> failed_{false};
  mutable std::mutex failMu_;  // a leaf lock: taken last, under any other
  std::string failReason_;

  std::vector<int> lockFds_;
  std::thread bg_;
  std::mutex bgMu_;
  std::condition_variable bgCv_;
  bool bgStop_ = false;
};

// "~/x" -> "$HOME/x".
std::string expandHome(const std::string& path);

}  // namespace sluice::plugins::filechannel
