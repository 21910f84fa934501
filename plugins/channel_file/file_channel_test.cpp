#include "file_channel.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "channel_test_util.hpp"
#include "crc32c.hpp"
#include "log_format.hpp"
#include "readme_schema_check.hpp"

namespace sdk = sluice::sdk;
namespace fs = std::filesystem;
namespace fc = sluice::plugins::filechannel;
using fc::FileChannel;
using sluice::plugins::testing::checkReadmeMatchesSchema;

namespace {

using sluice::plugins::channeltx::testing::drain;
using sluice::plugins::channeltx::testing::numbered;
using sluice::plugins::channeltx::testing::putAndTakeConcurrently;
using sluice::plugins::channeltx::testing::putCommit;
using sluice::plugins::channeltx::testing::seq;
using sluice::plugins::channeltx::testing::takeCommit;

// Collects log lines so tests can check what the channel said.
class CaptureLogger final : public sdk::Logger {
 public:
  bool shouldLog(sdk::LogLevel) const noexcept override { return true; }
  void log(sdk::LogLevel, std::string_view m) noexcept override {
    std::lock_guard lock(mu_);
    text_.append(m).push_back('\n');
  }
  std::string text() const {
    std::lock_guard lock(mu_);
    return text_;
  }

 private:
  mutable std::mutex mu_;
  std::string text_;
};

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/sluice-filechan-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str(const char* sub = "") const { return (path / sub).string(); }
};

using KV = std::vector<std::pair<std::string, std::string>>;

sdk::Context contextOf(const TempDir& d, const KV& extra) {
  sdk::Context ctx("a1.channels.c1");
  ctx.put("checkpointDir", d.str("checkpoint"));
  ctx.put("dataDirs", d.str("data"));
  ctx.put("minimumRequiredSpace", "0");
  ctx.put("capacity", "100000");
  ctx.put("transactionCapacity", "1000");
  for (const auto& [k, v] : extra) ctx.put(k, v);
  return ctx;
}

// A configured and started channel with a capturing logger.
struct Chan {
  CaptureLogger log;
  std::unique_ptr<FileChannel> ch = std::make_unique<FileChannel>();
  Chan(const TempDir& d, const KV& extra = {}, bool start = true) {
    ch->hostAttach("c1", &log);
    sdk::Result r = ch->hostConfigure(contextOf(d, extra));
    REQUIRE_MESSAGE(r.ok(), r.error());
    if (start) {
      r = ch->hostStart();
      REQUIRE_MESSAGE(r.ok(), r.error());
    }
  }
  ~Chan() { (void)ch->hostStop(); }
  FileChannel* operator->() { return ch.get(); }
  FileChannel& operator*() { return *ch; }
};

int64_t counter(FileChannel& ch, const char* name) {
  return ch.channelCounter().get(name).value_or(-1);
}

std::vector<fs::path> logFiles(const TempDir& d) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(d.path / "data"))
    if (e.path().filename().string().rfind("log-", 0) == 0) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void copyTree(const fs::path& from, const fs::path& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

}  // namespace

TEST_CASE("README key table matches the schema") {
  checkReadmeMatchesSchema(fc::fileChannelSchema(), SLUICE_PLUGIN_README);
}

TEST_CASE("valid config: defaults, directories created, counters") {
  TempDir d;
  Chan c(d, {{"capacity", "5000"}});
  CHECK(fs::is_directory(d.path / "checkpoint"));
  CHECK(fs::is_directory(d.path / "data"));
  CHECK(fs::exists(d.path / "checkpoint" / "checkpoint"));
  CHECK(c->transactionCapacity() == 1000);
  CHECK(c->channelCounter().getChannelCapacity() == 5000);
  CHECK(counter(*c, "Open") == 1);
  CHECK(counter(*c, "Unhealthy") == 0);
  CHECK(counter(*c, "CheckpointWriteErrorCount") == 0);
  CHECK(c->lastReplay().source == "empty");
  FileChannel defaults;
  sdk::Context ctx("a1.channels.c1");
  CHECK(defaults.hostConfigure(ctx).ok());
  CHECK(defaults.transactionCapacity() == 10000);
  CHECK(defaults.channelCounter().getChannelCapacity() == 1000000);
}

TEST_CASE("configure errors name the key") {
  TempDir d;
  auto err = [&](const KV& kv) {
    FileChannel ch;
    sdk::Result r = ch.hostConfigure(contextOf(d, kv));
    CHECK_FALSE(r.ok());
    return r.error();
  };
  CHECK(err({{"capacity", "10"}, {"transactionCapacity", "20"}}) ==
        "a1.channels.c1.transactionCapacity: transactionCapacity (20) must be <= capacity (10)");
  CHECK(
      err({{"useDualCheckpoints", "true"}}).find("a1.channels.c1.backupCheckpointDir: required") ==
      0);
  CHECK(err({{"useDualCheckpoints", "true"}, {"backupCheckpointDir", d.str("checkpoint")}})
            .find("must differ from checkpointDir") != std::string::npos);
  CHECK(err({{"dataDirs", " , "}}).find("a1.channels.c1.dataDirs:") == 0);
  CHECK(err({{"maxFileSize", "10"}}).find("a1.channels.c1.maxFileSize: must be between") == 0);
}

TEST_CASE("puts are invisible until commit; rolled-back puts are discarded") {
  TempDir d;
  Chan c(d);
  {
    sdk::TransactionGuard tx(*c);
    auto b = numbered(1, 3);
    REQUIRE(tx->putBatch(b).ok());
    CHECK(b.empty());
    CHECK(takeCommit(*c, 10).empty());
    REQUIRE(tx.commit().ok());
  }
  {
    sdk::TransactionGuard tx(*c);
    auto b = numbered(4, 5);
    REQUIRE(tx->putBatch(b).ok());
    tx.rollback();
  }
  CHECK(takeCommit(*c, 10) == seq(1, 3));
  CHECK(c->store().size() == 0);
}

TEST_CASE("headers and binary bodies survive the log") {
  TempDir d;
  Chan c(d);
  sdk::EventBatch b;
  b.emplace_back(sdk::Headers{{"host", "h1"}, {"k", ""}}, std::string("a\0b\n\xff", 5));
  b.emplace_back(std::string());
  REQUIRE(putCommit(*c, std::move(b)).ok());
  sdk::TransactionGuard tx(*c);
  std::span<sdk::Event> got;
  REQUIRE(tx->takeBatch(10, got).ok());
  REQUIRE(got.size() == 2);
  CHECK(got[0].headers.get("host") == "h1");
  CHECK(got[0].headers.contains("k"));
  CHECK(got[0].body == std::string("a\0b\n\xff", 5));
  CHECK(got[1].body.empty());
  CHECK(tx.commit().ok());
}

TEST_CASE("capacity, taken-but-uncommitted space, keep-alive") {
  TempDir d;
  Chan c(d, {{"capacity", "10"}, {"transactionCapacity", "10"}, {"keep-alive", "0"}});
  REQUIRE(putCommit(*c, numbered(1, 8)).ok());
  sdk::Result r = putCommit(*c, numbered(9, 11));
  CHECK_FALSE(r.ok());
  CHECK(r.error().find("Space for commit to queue couldn't be acquired") == 0);
  CHECK(counter(*c, "EventPutErrorCount") == 1);
  {
    // Taken but not committed: still holds its space.
    sdk::TransactionGuard tx(*c);
    std::span<sdk::Event> got;
    REQUIRE(tx->takeBatch(5, got).ok());
    CHECK(got.size() == 5);
    CHECK_FALSE(putCommit(*c, numbered(9, 11)).ok());
  }  // rolled back
  CHECK(putCommit(*c, numbered(9, 10)).ok());
  CHECK(drain(*c) == seq(1, 10));
}

TEST_CASE("keep-alive: a waiting commit succeeds when a take frees space") {
  TempDir d;
  Chan c(d, {{"capacity", "5"}, {"transactionCapacity", "5"}, {"keep-alive", "5"}});
  REQUIRE(putCommit(*c, numbered(1, 5)).ok());
  std::thread taker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(takeCommit(*c, 2).size() == 2);
  });
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(putCommit(*c, numbered(6, 7)).ok());
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(150));
  taker.join();
  CHECK(drain(*c) == seq(3, 7));
}

TEST_CASE("keep-alive: a commit waits for space, then fails") {
  TempDir d;
  Chan c(d, {{"capacity", "3"}, {"transactionCapacity", "3"}, {"keep-alive", "1"}});
  REQUIRE(putCommit(*c, numbered(1, 3)).ok());
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(putCommit(*c, numbered(4, 4)).ok());
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= std::chrono::milliseconds(900));
  CHECK(waited < std::chrono::seconds(10));
}

TEST_CASE("transactionCapacity bounds puts and takes per transaction") {
  TempDir d;
  Chan c(d, {{"capacity", "100"}, {"transactionCapacity", "5"}});
  sdk::Result r = putCommit(*c, numbered(1, 6));
  CHECK(r.error().find("Put queue for transaction of capacity 5 full") == 0);
  REQUIRE(putCommit(*c, numbered(1, 5)).ok());
  REQUIRE(putCommit(*c, numbered(6, 10)).ok());
  sdk::TransactionGuard tx(*c);
  std::span<sdk::Event> got;
  CHECK(tx->takeBatch(6, got).error().find("Take list for transaction of capacity 5 full") == 0);
  REQUIRE(tx->takeBatch(5, got).ok());
  CHECK(got.size() == 5);
  CHECK_FALSE(tx->takeBatch(1, got).ok());
}

TEST_CASE("rollback of takes restores the head in order") {
  TempDir d;
  Chan c(d);
  REQUIRE(putCommit(*c, numbered(1, 10)).ok());
  {
    sdk::TransactionGuard tx(*c);
    std::span<sdk::Event> got;
    REQUIRE(tx->takeBatch(3, got).ok());
    REQUIRE(tx->takeBatch(2, got).ok());
    CHECK(got[0].body == "4");
    tx.rollback();
  }
  {
    auto tx = c->getTransaction();
    tx->begin();
    std::span<sdk::Event> got;
    REQUIRE(tx->takeBatch(4, got).ok());
    // destroyed while open: rolls back
  }
  CHECK(drain(*c) == seq(1, 10));
  CHECK(c->store().inFlight() == 0);
}

TEST_CASE("calls outside an open transaction fail") {
  TempDir d;
  Chan c(d);
  auto tx = c->getTransaction();
  auto b = numbered(1, 1);
  CHECK_FALSE(tx->putBatch(b).ok());
  std::span<sdk::Event> got;
  CHECK_FALSE(tx->takeBatch(1, got).ok());
  CHECK_FALSE(tx->commit().ok());
}

TEST_CASE("counters follow puts and takes") {
  TempDir d;
  Chan c(d);
  REQUIRE(putCommit(*c, numbered(1, 10)).ok());
  CHECK(counter(*c, "EventPutAttemptCount") == 10);
  CHECK(counter(*c, "EventPutSuccessCount") == 10);
  CHECK(c->channelCounter().getChannelSize() == 10);
  CHECK(takeCommit(*c, 4).size() == 4);
  CHECK(counter(*c, "EventTakeSuccessCount") == 4);
  CHECK(counter(*c, "EventTakeAttemptCount") == 4);
  CHECK(c->channelCounter().getChannelSize() == 6);
  CHECK(c->channelCounter().getChannelFillPercentage() == doctest::Approx(0.006));
}

TEST_CASE("restart: committed puts and takes survive, uncommitted takes come back") {
  TempDir d;
  for (const char* onClose : {"true", "false"}) {
    CAPTURE(onClose);
    fs::remove_all(d.path / "checkpoint");
    fs::remove_all(d.path / "data");
    {
      Chan c(d, {{"checkpointOnClose", onClose}});
      REQUIRE(putCommit(*c, numbered(1, 10)).ok());
      REQUIRE(putCommit(*c, numbered(11, 20)).ok());
      CHECK(takeCommit(*c, 4) == seq(1, 4));
      auto tx = c->getTransaction();
      tx->begin();
      std::span<sdk::Event> got;
      REQUIRE(tx->takeBatch(3, got).ok());  // never committed
      (void)c.ch->hostStop();
      tx.reset();
    }
    Chan c(d, {{"checkpointOnClose", onClose}});
    CHECK(c->lastReplay().source == "checkpoint");
    CHECK(c->lastReplay().liveEvents == 16);
    CHECK(drain(*c) == seq(5, 20));
  }
}

TEST_CASE("kill -9 of a process: committed survives, uncommitted takes redelivered") {
  TempDir d;
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: a fresh channel, some work, then an abrupt death with a take in flight.
    FileChannel ch;
    sdk::Context ctx = contextOf(d, {});
    if (!ch.hostConfigure(ctx) || !ch.hostStart()) ::_exit(3);
    for (int i = 0; i < 50; ++i) {
      sdk::TransactionGuard tx(ch);
      auto b = numbered(i * 10 + 1, i * 10 + 10);
      if (!tx->putBatch(b) || !tx.commit()) ::_exit(4);
    }
    {
      sdk::TransactionGuard tx(ch);
      std::span<sdk::Event> got;
      if (!tx->takeBatch(100, got) || got.size() != 100 || !tx.commit()) ::_exit(5);
    }
    if (!ch.store().checkpoint()) ::_exit(6);
    {
      sdk::TransactionGuard tx(ch);
      std::span<sdk::Event> got;
      if (!tx->takeBatch(50, got) || !tx.commit()) ::_exit(7);
    }
    auto tx = ch.getTransaction();
    tx->begin();
    std::span<sdk::Event> got;
    if (!tx->takeBatch(30, got)) ::_exit(8);
    ::kill(::getpid(), SIGKILL);
    ::_exit(9);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE_MESSAGE(WIFSIGNALED(status), "child exit status ", WEXITSTATUS(status));
  Chan c(d);
  CHECK(c->lastReplay().source == "checkpoint");
  CHECK(drain(*c) == seq(151, 500));
}

TEST_CASE("torn tail: every truncation of the final transaction keeps all earlier commits") {
  TempDir d;
  fs::path base = d.path / "base";
  {
    TempDir src;
    {
      Chan c(src, {{"checkpointOnClose", "false"}});
      for (int i = 0; i < 5; ++i) REQUIRE(putCommit(*c, numbered(i * 4 + 1, i * 4 + 4)).ok());
      CHECK(takeCommit(*c, 2) == seq(1, 2));
      sdk::EventBatch last;
      last.emplace_back(sdk::Headers{{"h", "v"}}, "21");
      last.emplace_back("22");
      REQUIRE(putCommit(*c, std::move(last)).ok());
    }
    copyTree(src.path, base);
  }
  // The final transaction is the last Put, Put, Commit records of the newest log file.
  std::vector<fs::path> logs;
  for (const auto& e : fs::directory_iterator(base / "data"))
    if (e.path().filename().string().rfind("log-", 0) == 0) logs.push_back(e.path());
  std::sort(logs.begin(), logs.end());
  REQUIRE(!logs.empty());
  const std::string lastName = logs.back().filename().string();
  const auto fullSize = fs::file_size(logs.back());
  // Length of the last transaction: 2 Put records + 1 Commit record.
  std::string enc;
  sdk::Event e1(sdk::Headers{{"h", "v"}}, "21"), e2("22");
  std::set<std::size_t> boundaries{0};
  fc::appendPutRecord(enc, 1, e1);
  boundaries.insert(enc.size());
  fc::appendPutRecord(enc, 1, e2);
  boundaries.insert(enc.size());
  fc::appendCommitRecord(enc, 1, 2);
  const auto txStart = fullSize - enc.size();
  int checked = 0;
  for (auto cut = txStart; cut <= fullSize; ++cut) {
    CAPTURE(cut);
    TempDir run;
    copyTree(base, run.path);
    fs::resize_file(run.path / "data" / lastName, cut);
    Chan c(run, {{"checkpointOnClose", "false"}});
    const bool whole = cut == fullSize;
    CHECK(c->lastReplay().liveEvents == (whole ? 20u : 18u));
    std::vector<std::string> want = seq(3, whole ? 22 : 20);
    CHECK(drain(*c) == want);
    if (!whole && !boundaries.count(cut - txStart)) {
      CHECK(c.log.text().find("torn tail") != std::string::npos);
      const auto left = fs::file_size(run.path / "data" / lastName);
      CHECK(left >= txStart);  // whole Put records of the torn transaction may stay, uncommitted
      CHECK(left < cut);
    }
    ++checked;
  }
  CHECK(checked == static_cast<int>(enc.size()) + 1);
}

TEST_CASE("corrupt checkpoint falls back to the backup, then to a full replay") {
  TempDir d;
  const KV dual = {{"useDualCheckpoints", "true"}, {"backupCheckpointDir", d.str("backup")}};
  {
    Chan c(d, dual);
    REQUIRE(putCommit(*c, numbered(1, 10)).ok());
    CHECK(takeCommit(*c, 3) == seq(1, 3));
  }
  CHECK(fs::exists(d.path / "backup" / "checkpoint"));
  auto corrupt = [](const fs::path& p) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(45);
    f.put('\x55');
  };
  corrupt(d.path / "checkpoint" / "checkpoint");
  {
    Chan c(d, dual);
    CHECK(c->lastReplay().source == "backup checkpoint");
    CHECK(c.log.text().find("replaying from the backup checkpoint") != std::string::npos);
    CHECK(c->store().size() == 7);
  }
  corrupt(d.path / "checkpoint" / "checkpoint");
  corrupt(d.path / "backup" / "checkpoint");
  {
    Chan c(d, dual);
    CHECK(c->lastReplay().source == "full replay");
    CHECK(c.log.text().find("full replay") != std::string::npos);
    CHECK(drain(*c) == seq(4, 10));
  }
}

TEST_CASE("log files are deleted once their events are taken and checkpointed") {
  TempDir d;
  Chan c(d, {{"maxFileSize", "4096"}});
  for (int i = 0; i < 100; ++i) REQUIRE(putCommit(*c, numbered(i * 10 + 1, i * 10 + 10)).ok());
  const auto before = logFiles(d).size();
  CHECK(before > 5);
  CHECK(c->store().checkpoint().ok());
  CHECK(logFiles(d).size() == before);  // nothing taken yet: all kept
  std::vector<std::string> got = drain(*c);
  CHECK(got == seq(1, 1000));
  CHECK(c->store().checkpoint().ok());
  CHECK(logFiles(d).size() <= 2);
  CHECK(c->store().logFileCount() == logFiles(d).size());
}

TEST_CASE("minimumRequiredSpace: puts fail cleanly, committed events stay") {
  TempDir d;
  {
    Chan c(d);
    REQUIRE(putCommit(*c, numbered(1, 5)).ok());
  }
  Chan c(d, {{"minimumRequiredSpace", "1000000000000000"}});
  sdk::Result r = putCommit(*c, numbered(6, 7));
  CHECK_FALSE(r.ok());
  CHECK(r.error().find("Usable space exhausted") == 0);
  CHECK(r.error().find("minimumRequiredSpace") != std::string::npos);
  CHECK(counter(*c, "EventPutErrorCount") == 1);
  CHECK(drain(*c) == seq(1, 5));
}

TEST_CASE("a corrupt record in the middle: replay skips it, the rest survives") {
  TempDir d;
  {
    Chan c(d, {{"checkpointOnClose", "false"}});
    REQUIRE(putCommit(*c, numbered(1, 3)).ok());
    REQUIRE(putCommit(*c, numbered(4, 6)).ok());
    REQUIRE(putCommit(*c, numbered(7, 9)).ok());
  }
  auto logs = logFiles(d);
  // Flip a byte inside the second transaction's first Put record.
  std::string enc;
  for (int i = 1; i <= 3; ++i) fc::appendPutRecord(enc, 1, sdk::Event(std::to_string(i)));
  fc::appendCommitRecord(enc, 1, 3);
  const auto at = fc::kFileHeaderSize + enc.size() + 12;
  {
    std::fstream f(logs.back(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char ch = static_cast<char>(f.get());
    f.seekp(static_cast<std::streamoff>(at));
    f.put(static_cast<char>(ch ^ 0x40));
  }
  int rc =
      std::system((std::string(SLUICE_CHANNEL_CHECK) + " --checkpoint-dir " + d.str("checkpoint") +
                   " --data-dirs " + d.str("data") + " > " + d.str("check.txt"))
                      .c_str());
  CHECK(WEXITSTATUS(rc) == 1);
  std::ifstream report(d.str("check.txt"));
  std::string text((std::istreambuf_iterator<char>(report)), {});
  CHECK(text.find("live events: 6") != std::string::npos);
  CHECK(text.find("offset " + std::to_string(fc::kFileHeaderSize + enc.size())) !=
        std::string::npos);
  rc = std::system((std::string(SLUICE_CHANNEL_CHECK) + " --checkpoint-dir " + d.str("checkpoint") +
                    " --data-dirs " + d.str("data") + " --drop-corrupt > /dev/null")
                       .c_str());
  CHECK(WEXITSTATUS(rc) == 0);
  rc = std::system((std::string(SLUICE_CHANNEL_CHECK) + " --checkpoint-dir " + d.str("checkpoint") +
                    " --data-dirs " + d.str("data") + " > /dev/null")
                       .c_str());
  CHECK(WEXITSTATUS(rc) == 0);
  Chan c(d);
  std::vector<std::string> want = seq(1, 3);
  for (auto& s : seq(7, 9)) want.push_back(s);
  CHECK(drain(*c) == want);
}

TEST_CASE("a corrupt body found at take time is dropped and counted") {
  TempDir d;
  Chan c(d);
  REQUIRE(putCommit(*c, numbered(1, 3)).ok());
  auto logs = logFiles(d);
  std::string enc;
  fc::appendPutRecord(enc, 1, sdk::Event("1"));
  {
    // The second event's body byte.
    std::fstream f(logs.back(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fc::kFileHeaderSize + 2 * enc.size() - 1));
    f.put('X');
  }
  CHECK(takeCommit(*c, 10) == std::vector<std::string>{"1", "3"});
  CHECK(counter(*c, "EventTakeErrorCount") == 1);
  CHECK(c->store().size() == 0);
}

TEST_CASE("two channels on the same directories: the second fails to start") {
  TempDir d;
  Chan a(d);
  Chan b(d, {}, false);
  sdk::Result r = b->hostStart();
  CHECK_FALSE(r.ok());
  CHECK(r.error().find("is in use by another file channel") != std::string::npos);
}

TEST_CASE("several data dirs are used in turn") {
  TempDir d;
  Chan c(d, {{"dataDirs", d.str("d1") + "," + d.str("d2")}, {"maxFileSize", "4096"}});
  for (int i = 0; i < 100; ++i) REQUIRE(putCommit(*c, numbered(i * 10 + 1, i * 10 + 10)).ok());
  auto count = [](const fs::path& p) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(p))
      n += e.path().filename().string().rfind("log-", 0) == 0;
    return n;
  };
  CHECK(count(d.path / "d1") > 2);
  CHECK(count(d.path / "d2") > 2);
  (void)c.ch->hostStop();
  REQUIRE(c.ch->hostStart().ok());
  CHECK(drain(*c) == seq(1, 1000));
}

TEST_CASE("start and stop are repeatable and keep buffered events") {
  TempDir d;
  Chan c(d);
  REQUIRE(putCommit(*c, numbered(1, 5)).ok());
  for (int i = 0; i < 3; ++i) {
    CHECK(c.ch->hostStop().ok());
    CHECK(c.ch->hostStop().ok());
    CHECK(counter(*c, "Open") == 0);
    CHECK(c.ch->hostStart().ok());
  }
  CHECK(drain(*c) == seq(1, 5));
  // Every start begins a new log file; the used-up ones go at the next checkpoint.
  CHECK(c->store().checkpoint().ok());
  CHECK(logFiles(d).size() == 1);
}

TEST_CASE("fsyncPerTransaction=false: events visible at once, synced in the background") {
  TempDir d;
  {
    Chan c(d, {{"fsyncPerTransaction", "false"}, {"fsyncInterval", "1"}});
    REQUIRE(putCommit(*c, numbered(1, 100)).ok());
    CHECK(takeCommit(*c, 10) == seq(1, 10));
  }
  Chan c(d);
  CHECK(drain(*c) == seq(11, 100));
}

TEST_CASE("concurrent producers and consumers lose and duplicate nothing (group commit)") {
  TempDir d;
  Chan c(d, {{"maxFileSize", "65536"}, {"checkpointInterval", "100"}});
  constexpr int kProducers = 4, kBatches = 50, kBatch = 20;
  const std::multiset<std::string> got =
      putAndTakeConcurrently(*c, kProducers, kBatches, kBatch, 37, 5);
  CHECK(got.size() == kProducers * kBatches * kBatch);
  CHECK(std::set<std::string>(got.begin(), got.end()).size() == got.size());
  CHECK(c->store().inFlight() == 0);
}

TEST_CASE("checkpoint write errors are counted; a failed backup keeps the old log files") {
  TempDir d;
  Chan c(d, {{"useDualCheckpoints", "true"},
             {"backupCheckpointDir", d.str("backup")},
             {"maxFileSize", "4096"}});
  for (int i = 0; i < 50; ++i) REQUIRE(putCommit(*c, numbered(i * 10 + 1, i * 10 + 10)).ok());
  CHECK(drain(*c) == seq(1, 500));
  const auto files = logFiles(d).size();
  // A directory where the temporary checkpoint file goes makes the write fail.
  fs::create_directory(d.path / "backup" / "checkpoint.tmp");
  CHECK(c->store().checkpoint().ok());
  CHECK(counter(*c, "CheckpointBackupWriteErrorCount") == 1);
  CHECK(logFiles(d).size() == files);
  fs::create_directory(d.path / "checkpoint" / "checkpoint.tmp");
  CHECK_FALSE(c->store().checkpoint().ok());
  CHECK(counter(*c, "CheckpointWriteErrorCount") == 1);
  CHECK(c.log.text().find("checkpoint.tmp': Is a directory") != std::string::npos);
  fs::remove(d.path / "checkpoint" / "checkpoint.tmp");
  fs::remove(d.path / "backup" / "checkpoint.tmp");
  CHECK(c->store().checkpoint().ok());
  CHECK(logFiles(d).size() <= 2);
}

TEST_CASE("stop ends a waiting commit at once") {
  TempDir d;
  Chan c(d, {{"capacity", "3"}, {"transactionCapacity", "3"}, {"keep-alive", "30"}});
  REQUIRE(putCommit(*c, numbered(1, 3)).ok());
  std::atomic<bool> returned{false};
  std::thread putter([&] {
    CHECK_FALSE(putCommit(*c, numbered(4, 4)).ok());
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let it start waiting
  const auto t0 = std::chrono::steady_clock::now();
  (void)c.ch->hostStop();
  putter.join();
  CHECK(returned.load());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  REQUIRE(c.ch->hostStart().ok());
  CHECK(drain(*c) == seq(1, 3));
}

TEST_CASE("a really full disk (1 MB tmpfs): puts fail cleanly, committed events stay") {
  TempDir d;
  fs::create_directory(d.path / "small");
  const std::string small = d.str("small");
  if (std::system(("mount -t tmpfs -o size=1m tmpfs " + small + " 2>/dev/null").c_str()) != 0) {
    MESSAGE("cannot mount a tmpfs here (needs root); skipped");
    return;
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { (void)std::system(("umount " + dir).c_str()); }
  } unmount{small};
  auto fill = [](FileChannel& ch, int& committed) {
    sdk::Result r;
    for (int i = 0; i < 20000 && r.ok(); ++i) {
      sdk::EventBatch b;
      for (int k = 0; k < 10; ++k) b.emplace_back(std::to_string(committed + k));
      r = putCommit(ch, std::move(b));
      if (r) committed += 10;
    }
    return r;
  };
  int committed = 0;
  {
    // minimumRequiredSpace keeps room for take records: puts stop, sinks can still drain.
    Chan c(d, {{"dataDirs", small}, {"maxFileSize", "65536"}, {"minimumRequiredSpace", "300000"}});
    sdk::Result r = fill(*c, committed);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("Usable space exhausted") == 0);
    CHECK(committed > 100);
    CHECK(takeCommit(*c, 10) == seq(0, 9));
  }
  {
    // No margin: the write itself fails with ENOSPC, cleanly, and nothing committed is damaged.
    Chan c(d, {{"dataDirs", small}, {"maxFileSize", "65536"}, {"minimumRequiredSpace", "0"}});
    const int before = committed;
    sdk::Result r = fill(*c, committed);
    REQUIRE_MESSAGE(!r.ok(), "committed ", committed - before, " more");
    CHECK(r.error().find("No space left on device") != std::string::npos);
    CHECK(counter(*c, "EventPutErrorCount") >= 1);
  }
  REQUIRE(std::system(("mount -o remount,size=8m " + small).c_str()) == 0);
  Chan c(d, {{"dataDirs", small}, {"maxFileSize", "65536"}, {"minimumRequiredSpace", "0"}});
  CHECK(drain(*c) == seq(10, committed - 1));
}
