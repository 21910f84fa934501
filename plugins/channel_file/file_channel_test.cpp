#include "file_channel.hpp"

#include <doctest/doctest.h>
#include <malloc.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "capture_logger.hpp"
#include "channel_test_util.hpp"
#include "crc32c.hpp"
#include "host_context.hpp"
#include "log_format.hpp"
#include "readme_schema_check.hpp"
#include "skip.hpp"
#include "wait.hpp"
#include "sluice/sdk/host_access.hpp"

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
using sluice::plugins::testing::canMountTmpfs;
using sluice::plugins::testing::CaptureLogger;
using sluice::plugins::testing::skipUnless;
using sluice::plugins::testing::waitFor;

struct TempDir {
  fs::path path;
  // in: the parent directory (a tmpfs such as /dev/shm makes syncs free, for stress tests).
  explicit TempDir(const char* in = "/tmp") {
    std::string tmpl = std::string(in) + "/sluice-filechan-XXXXXX";
    if (!::mkdtemp(tmpl.data())) {
      tmpl = "/tmp/sluice-filechan-XXXXXX";
      REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    }
    path = tmpl;
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

// Configures as the host does: schema check, defaults filled in.
sdk::Result configure(sdk::PluginObject& object, const sdk::Context& ctx) {
  return sluice::plugins::testing::configureAsHost(object, fc::fileChannelSchema(), ctx, "file");
}

// A configured and started channel with a capturing logger.
struct Chan {
  CaptureLogger log;
  std::unique_ptr<FileChannel> ch = std::make_unique<FileChannel>();
  Chan(const TempDir& d, const KV& extra = {}, bool start = true) {
    sdk::HostAccess::attach(*ch, "c1", &log);
    sdk::Result r = configure(*ch, contextOf(d, extra));
    REQUIRE_MESSAGE(r.ok(), r.error());
    if (start) {
      r = sdk::HostAccess::start(*ch);
      REQUIRE_MESSAGE(r.ok(), r.error());
    }
  }
  ~Chan() { (void)sdk::HostAccess::stop(*ch); }
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
  CHECK(counter(*c, "Closed") == 0);
  CHECK(counter(*c, "Unhealthy") == 0);
  CHECK(counter(*c, "CheckpointWriteErrorCount") == 0);
  CHECK(c->lastReplay().source == "empty");
  FileChannel defaults;
  sdk::Context ctx("a1.channels.c1");
  CHECK(configure(defaults, ctx).ok());
  CHECK(defaults.transactionCapacity() == 10000);
  CHECK(defaults.channelCounter().getChannelCapacity() == 1000000);
}

TEST_CASE("configure errors name the key") {
  TempDir d;
  auto err = [&](const KV& kv) {
    FileChannel ch;
    sdk::Result r = configure(ch, contextOf(d, kv));
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
  // Ranges are the host's check now: its message, with the range from the schema.
  CHECK(err({{"maxFileSize", "10"}})
            .find("a1.channels.c1.maxFileSize: expected a value between 4096 and 1099511627775, "
                  "got 10") == 0);
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
  // The take happens only once the commit is seen waiting for room; the commit must then
  // succeed, and not before the take freed the room.
  std::atomic<bool> took{false};
  std::thread taker([&] {
    CHECK(waitFor([&] { return c->store().putWaiters() == 1; }));
    took = true;
    CHECK(takeCommit(*c, 2).size() == 2);
  });
  CHECK(putCommit(*c, numbered(6, 7)).ok());
  CHECK(took.load());
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
      (void)sdk::HostAccess::stop(*c.ch);
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
    if (!configure(ch, ctx) || !sdk::HostAccess::start(ch)) ::_exit(3);
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
  sdk::Result r = sdk::HostAccess::start(*b);
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
  (void)sdk::HostAccess::stop(*c.ch);
  REQUIRE(sdk::HostAccess::start(*c.ch).ok());
  CHECK(drain(*c) == seq(1, 1000));
}

TEST_CASE("start and stop are repeatable and keep buffered events") {
  TempDir d;
  Chan c(d);
  REQUIRE(putCommit(*c, numbered(1, 5)).ok());
  for (int i = 0; i < 3; ++i) {
    CHECK(sdk::HostAccess::stop(*c.ch).ok());
    CHECK(sdk::HostAccess::stop(*c.ch).ok());
    CHECK(counter(*c, "Open") == 0);
    CHECK(counter(*c, "Closed") == 1);
    CHECK(sdk::HostAccess::start(*c.ch).ok());
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
  REQUIRE(waitFor([&] { return c->store().putWaiters() == 1; }));  // the commit waits
  const auto t0 = std::chrono::steady_clock::now();
  (void)sdk::HostAccess::stop(*c.ch);
  putter.join();
  CHECK(returned.load());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  REQUIRE(sdk::HostAccess::start(*c.ch).ok());
  CHECK(drain(*c) == seq(1, 3));
}

TEST_CASE("a really full disk (1 MB tmpfs): puts fail cleanly, committed events stay" *
          skipUnless(canMountTmpfs(), "a really full disk: needs to mount a tmpfs (root)")) {
  TempDir d;
  fs::create_directory(d.path / "small");
  const std::string small = d.str("small");
  REQUIRE(std::system(("mount -t tmpfs -o size=1m tmpfs " + small).c_str()) == 0);
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

// ---- The storage engine on its own: StoreOptions the channel's keys do not reach ----------

namespace {

// An open FileStore on a temporary directory. Options default to explicit checkpoints only.
struct Store {
  CaptureLogger log;
  sdk::ChannelCounter counter;
  fc::StoreCounters idx = fc::StoreCounters::addTo(counter);
  std::unique_ptr<fc::FileStore> store = std::make_unique<fc::FileStore>(log, counter, idx);
  fc::StoreOptions opts;
  std::string scratch;
  std::vector<fc::IndexEntry> scratchIndex;

  explicit Store(const TempDir& d) {
    opts.checkpointDir = d.str("checkpoint");
    opts.dataDirs = {d.str("data")};
    opts.minimumRequiredSpace = 0;
    opts.checkpointIntervalMs = 86400000;
    opts.fsyncIntervalMs = 86400000;
    opts.keepAliveMs = 0;
  }
  ~Store() { store->close(); }
  fc::FileStore* operator->() { return store.get(); }
  fc::ReplayReport open() { return store->open(opts); }
  sdk::Result put(int from, int to, std::size_t pad = 0) {
    sdk::EventBatch b = numbered(from, to, pad);
    return store->commitPuts(b, scratch, scratchIndex, 0);
  }
  int64_t unhealthy() const { return counter.get(idx.unhealthy); }
};

// Bodies of the events a take returned, without numbered()'s padding.
std::vector<std::string> bodiesOf(std::span<const sdk::Event> events) {
  std::vector<std::string> out;
  for (const sdk::Event& e : events) {
    std::string b = e.body;
    while (!b.empty() && b.back() == ' ') b.pop_back();
    out.push_back(std::move(b));
  }
  return out;
}

// Takes and commits until the store has nothing visible; every body, in order.
std::vector<std::string> drainStore(fc::FileStore& s) {
  std::vector<std::string> all;
  fc::FileStore::TakeState st;
  for (;;) {
    std::span<sdk::Event> got;
    sdk::Result r = s.take(st, 1000, got);
    REQUIRE_MESSAGE(r.ok(), r.error());
    if (got.empty()) return all;
    for (std::string& b : bodiesOf(got)) all.push_back(std::move(b));
    REQUIRE(s.commitTakes(st).ok());
  }
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return v;
}

// The checkpoint file as written (format in README.md, "On-disk format").
struct CheckpointFile {
  uint32_t fileId = 0;
  uint64_t offset = 0;
  std::vector<fc::IndexEntry> entries;
};

CheckpointFile readCheckpoint(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::string d((std::istreambuf_iterator<char>(f)), {});
  CheckpointFile ck;
  REQUIRE(d.size() >= 44);
  uint64_t count = 0;
  std::memcpy(&ck.fileId, d.data() + 8, 4);
  std::memcpy(&ck.offset, d.data() + 16, 8);
  std::memcpy(&count, d.data() + 32, 8);
  // Version 2: the entries, then the source states (none in the tests that read this), then
  // the checksum.
  uint32_t version = 0, states = 0;
  std::memcpy(&version, d.data() + 4, 4);
  REQUIRE(version == 2);
  REQUIRE(d.size() == 40 + count * 12 + 4 + 4);
  std::memcpy(&states, d.data() + 40 + count * 12, 4);
  REQUIRE(states == 0);
  ck.entries.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    std::memcpy(&ck.entries[i].pos, d.data() + 40 + i * 12, 8);
    std::memcpy(&ck.entries[i].len, d.data() + 40 + i * 12 + 8, 4);
  }
  return ck;
}

fs::path logPath(const TempDir& d, uint32_t id) {
  char name[32];
  std::snprintf(name, sizeof name, "log-%08u", id);
  return d.path / "data" / name;
}

// What is wrong with the checkpoint on disk, or "": every entry must name a whole Put record in
// a log file that exists, and no record twice. Call only while nothing else writes checkpoints.
std::string checkpointProblem(const TempDir& d) {
  const CheckpointFile ck = readCheckpoint(d.path / "checkpoint" / "checkpoint");
  std::set<uint64_t> seen;
  std::map<uint32_t, std::string> files;
  for (const fc::IndexEntry& e : ck.entries) {
    if (!seen.insert(e.pos).second) return "position " + std::to_string(e.pos) + " twice";
    const uint32_t id = fc::fileOf(e.pos);
    auto it = files.find(id);
    if (it == files.end()) {
      std::ifstream f(logPath(d, id), std::ios::binary);
      if (!f) return "entry in log file " + std::to_string(id) + ", which is gone";
      it = files.emplace(id, std::string((std::istreambuf_iterator<char>(f)), {})).first;
    }
    const uint64_t off = fc::offsetOf(e.pos);
    fc::RecordView rv;
    if (off + e.len > it->second.size() ||
        fc::parseRecord(it->second.data() + off, e.len, rv) != fc::ParseStatus::Ok ||
        rv.type != fc::RecordType::Put || rv.size != e.len)
      return "entry " + std::to_string(e.pos) + " is not a Put record";
  }
  return "";
}

}  // namespace

TEST_CASE("several takes per transaction while checkpoints run: every event exactly once") {
#ifdef M_PERTURB
  // Freed memory is overwritten: a checkpoint that reads a buffer a take just freed (the race
  // this test is for) writes garbage positions, which checkpointProblem() reports. Under TSan
  // the race is reported directly.
  mallopt(M_PERTURB, 0xa5);
#endif
  // On a tmpfs if there is one: free syncs make checkpoints, and so the race, frequent.
  TempDir d("/dev/shm");
  Store s(d);
  s.opts.maxFileSize = 32768;  // many files, so checkpoints also delete some
  s.opts.fsyncPerTransaction = false;
  s.open();
  constexpr int kBatch = 50, kCheckpoints = 300, kConsumers = 3;
  std::atomic<bool> stopProducer{false}, stopCheckpoints{false};
  std::atomic<int> produced{0}, checkpoints{0};
  std::mutex mu;
  std::vector<std::string> committed;
  std::string problem;
  std::thread producer([&] {
    std::string scratch;
    std::vector<fc::IndexEntry> index;
    // Keeps a few thousand events queued, so takes always find some.
    while (!stopProducer.load()) {
      if (s->size() > 5000) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));  // pacing, not a wait
        continue;
      }
      const int first = produced.load() + 1;
      sdk::EventBatch b = numbered(first, first + kBatch - 1, 20);
      sdk::Result r = s->commitPuts(b, scratch, index, 0);
      CHECK_MESSAGE(r.ok(), r.error());
      produced += kBatch;
    }
  });
  std::thread checkpointer([&] {
    while (!stopCheckpoints.load()) {
      sdk::Result r = s->checkpoint();
      CHECK_MESSAGE(r.ok(), r.error());
      ++checkpoints;
      std::string p = checkpointProblem(d);
      if (!p.empty()) {
        std::lock_guard lock(mu);
        if (problem.empty()) problem = p;
      }
    }
  });
  // Consumers run for kCheckpoints checkpoints (at most a few seconds, for slow sanitizer
  // builds), then stop with one transaction each still open.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  std::vector<std::unique_ptr<fc::FileStore::TakeState>> open;
  std::vector<std::thread> consumers;
  consumers.reserve(kConsumers);
  for (int c = 0; c < kConsumers; ++c)
    consumers.emplace_back([&, c] {
      unsigned rnd = 12345u + static_cast<unsigned>(c);
      for (int round = 0;
           checkpoints.load() < kCheckpoints && std::chrono::steady_clock::now() < until; ++round) {
        // A fresh TakeState per transaction: every take of one event grows its entries.
        auto st = std::make_unique<fc::FileStore::TakeState>();
        std::vector<std::string> got;
        rnd = rnd * 1103515245u + 12345u;
        const int takes = 2 + static_cast<int>((rnd >> 16) % 30);
        for (int t = 0; t < takes; ++t) {
          std::span<sdk::Event> taken;
          sdk::Result r = s->take(*st, 1 + t % 3, taken);
          CHECK_MESSAGE(r.ok(), r.error());
          for (std::string& b : bodiesOf(taken)) got.push_back(std::move(b));
        }
        if (round % 5 == 4) {
          s->rollbackTakes(*st);
        } else {
          CHECK(s->commitTakes(*st).ok());
          std::lock_guard lock(mu);
          committed.insert(committed.end(), got.begin(), got.end());
        }
      }
      auto st = std::make_unique<fc::FileStore::TakeState>();
      std::span<sdk::Event> taken;
      CHECK(s->take(*st, 40, taken).ok());
      std::lock_guard lock(mu);
      open.push_back(std::move(st));  // in flight at the "crash"
    });
  for (auto& t : consumers) t.join();
  stopProducer = true;
  producer.join();
  // A last checkpoint with the consumers' transactions in flight and the producer done.
  stopCheckpoints = true;
  checkpointer.join();
  REQUIRE(s->checkpoint().ok());
  CHECK(checkpointProblem(d).empty());
  CHECK_MESSAGE(problem.empty(), problem);
  MESSAGE(produced.load(), " events, ", committed.size(), " taken in ", checkpoints.load(),
          " checkpoints");
  // No checkpoint at close: the next open replays from the last checkpoint plus the log after
  // it, where nothing but the close's sync happened.
  s.opts.checkpointOnClose = false;
  s->close();
  open.clear();
  fc::ReplayReport rep = s.open();
  CHECK(rep.source == "checkpoint");
  CHECK(rep.lostEvents == 0);
  std::vector<std::string> all = committed;
  for (std::string& b : drainStore(*s.store)) all.push_back(std::move(b));
  CHECK(sorted(all) == seq(1, produced.load()));
#ifdef M_PERTURB
  mallopt(M_PERTURB, 0);
#endif
}

TEST_CASE("a checkpoint deletes only files its own snapshot does not need") {
  // A take commits while a checkpoint is between its snapshot and its deletions; then power
  // fails before that take record is synced. The checkpoint still names the taken events, so
  // their log file must still be there.
  TempDir d;
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool armed = false, entered = false, released = false;
  } gate;
  Store s(d);  // after gate: its close() may still sync
  s.opts.maxFileSize = 4096;
  s.opts.fsyncPerTransaction = false;  // syncs only where the checkpoint asks for one
  s.opts.checkpointOnClose = false;
  s.opts.logSync = [&gate](int fd) {
    std::unique_lock l(gate.mu);
    if (gate.armed) {
      gate.armed = false;
      gate.entered = true;
      gate.cv.notify_all();
      gate.cv.wait(l, [&] { return gate.released; });
    }
    return ::fdatasync(fd);
  };
  s.open();
  REQUIRE(s.put(1, 30, 100).ok());  // fills log file 1
  REQUIRE(s->logFileCount() == 1);
  REQUIRE(s.put(31, 40, 100).ok());  // rolls to log file 2
  REQUIRE(s->logFileCount() == 2);
  fc::FileStore::TakeState st;
  std::span<sdk::Event> taken;
  REQUIRE(s->take(st, 30, taken).ok());
  REQUIRE(bodiesOf(taken) == seq(1, 30));
  {
    std::lock_guard l(gate.mu);
    gate.armed = true;
  }
  sdk::Result ckResult;
  std::thread checkpointer([&] { ckResult = s->checkpoint(); });
  {
    // The checkpoint has taken its snapshot (1-30 in flight) and waits for its log sync.
    std::unique_lock l(gate.mu);
    REQUIRE(gate.cv.wait_for(l, std::chrono::seconds(20), [&] { return gate.entered; }));
  }
  REQUIRE(s->commitTakes(st).ok());  // log file 1 now has no live event
  {
    std::lock_guard l(gate.mu);
    gate.released = true;
  }
  gate.cv.notify_all();
  checkpointer.join();
  REQUIRE_MESSAGE(ckResult.ok(), ckResult.error());
  CHECK(fs::exists(logPath(d, 1)));
  s->close();
  // Power loss: what the checkpoint did not cover (the take record) never reached the disk.
  const CheckpointFile ck = readCheckpoint(d.path / "checkpoint" / "checkpoint");
  CHECK(ck.entries.size() == 40);
  fs::resize_file(logPath(d, ck.fileId), ck.offset);
  fc::ReplayReport rep = s.open();
  CHECK(rep.source == "checkpoint");
  CHECK(rep.lostEvents == 0);
  CHECK(drainStore(*s.store) == seq(1, 40));
  // Once the takes are durable, the next checkpoint deletes the used-up files.
  CHECK(s->checkpoint().ok());
  CHECK(s->logFileCount() == 1);
  CHECK(!fs::exists(logPath(d, 1)));
}

TEST_CASE("a failed fdatasync sticks: concurrent and later put commits fail until reopened") {
  TempDir d;
  struct Fault {
    std::mutex mu;
    std::condition_variable cv;
    bool armed = false, entered = false, released = false;
  } fault;
  Store s(d);  // after fault: its close() may still sync
  // The armed sync waits until the test releases it, then fails with EIO; later ones succeed,
  // as a retried fdatasync usually does on Linux after it dropped the dirty pages.
  s.opts.logSync = [&fault](int fd) {
    std::unique_lock l(fault.mu);
    if (fault.armed) {
      fault.armed = false;
      fault.entered = true;
      fault.cv.notify_all();
      fault.cv.wait(l, [&] { return fault.released; });
      errno = EIO;
      return -1;
    }
    return ::fdatasync(fd);
  };
  s.open();
  REQUIRE(s.put(1, 10).ok());
  CHECK(s.unhealthy() == 0);
  {
    std::lock_guard l(fault.mu);
    fault.armed = true;
  }
  constexpr int kThreads = 4;
  std::vector<sdk::Result> results(kThreads);
  std::vector<std::thread> putters;
  putters.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t)
    putters.emplace_back([&, t] {
      std::string scratch;
      std::vector<fc::IndexEntry> index;
      sdk::EventBatch b = numbered(11 + t * 10, 20 + t * 10);
      results[t] = s->commitPuts(b, scratch, index, 0);
    });
  {
    // One committer leads the failing sync; the others have written and wait behind it.
    std::unique_lock l(fault.mu);
    REQUIRE(fault.cv.wait_for(l, std::chrono::seconds(20), [&] { return fault.entered; }));
  }
  REQUIRE(waitFor([&] { return s->size() == 10 + kThreads * 10; }));
  {
    std::lock_guard l(fault.mu);
    fault.released = true;
  }
  fault.cv.notify_all();
  for (auto& t : putters) t.join();
  for (const sdk::Result& r : results) {
    CHECK_FALSE(r.ok());
    CHECK(r.error().find("Input/output error") != std::string::npos);
  }
  CHECK(s.unhealthy() == 1);
  CHECK(s->failed());
  // Later syncs would succeed, but the store does not believe them: later puts fail.
  sdk::Result later = s.put(100, 109);
  CHECK_FALSE(later.ok());
  CHECK(later.error().find("puts are refused until it is restarted") != std::string::npos);
  CHECK_FALSE(s->checkpoint().ok());
  CHECK(s.counter.get(s.idx.putError) == kThreads + 1);
  // Takes still work for what was synced before, and their commits report success.
  CHECK(drainStore(*s.store) == seq(1, 10));
  CHECK(s.unhealthy() == 1);
  const std::string text = s.log.text();
  const auto first = text.find("refuses puts and checkpoints until it is restarted");
  CHECK(first != std::string::npos);
  CHECK(text.find("refuses puts", first + 1) == std::string::npos);  // said once
  // Reopened, the replay decides: here the failed puts did reach the file, so they come back.
  s->close();
  fc::ReplayReport rep = s.open();
  CHECK(rep.lostEvents == 0);
  CHECK(s.unhealthy() == 0);
  CHECK_FALSE(s->failed());
  REQUIRE(s.put(51, 55).ok());
  CHECK(sorted(drainStore(*s.store)) == seq(11, 55));
}

TEST_CASE("a put commit returns only once its records are synced; concurrent commits share syncs") {
  TempDir d;
  // Records, per log file (by inode), how far a successful sync covered it: everything written
  // before the fdatasync call. The sleep stands in for a disk's sync latency.
  struct Syncs {
    std::mutex mu;
    std::map<ino_t, off_t> covered;
    int count = 0;
  } syncs;
  Store s(d);  // after syncs: its close() may still sync
  s.opts.maxFileSize = 65536;
  s.opts.capacity = 1000000;
  s.opts.logSync = [&syncs](int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const int rc = ::fdatasync(fd);
    if (rc == 0) {
      std::lock_guard l(syncs.mu);
      ++syncs.count;
      off_t& c = syncs.covered[st.st_ino];
      c = std::max(c, st.st_size);
    }
    return rc;
  };
  auto coveredOf = [&](const fs::path& p) -> off_t {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return -1;
    std::lock_guard l(syncs.mu);
    auto it = syncs.covered.find(st.st_ino);
    return it == syncs.covered.end() ? 0 : it->second;
  };
  s.open();
  SUBCASE("one committer: the whole log file is synced when commitPuts returns") {
    for (int i = 0; i < 30; ++i) {
      REQUIRE(s.put(i * 20 + 1, i * 20 + 20, 200).ok());
      const fs::path newest = logFiles(d).back();
      CHECK(coveredOf(newest) == static_cast<off_t>(fs::file_size(newest)));
    }
    CHECK(s->logFileCount() > 1);
  }
  SUBCASE("concurrent committers: each returns synced, and they share fdatasyncs") {
    constexpr int kThreads = 8, kCommits = 25, kBatch = 20;
    std::atomic<int> notCovered{0};
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        std::string scratch;
        std::vector<fc::IndexEntry> index;
        for (int c = 0; c < kCommits; ++c) {
          const int first = (t * kCommits + c) * kBatch + 1;
          sdk::EventBatch b = numbered(first, first + kBatch - 1, 100);
          uint64_t end = 0;
          sdk::Result r = s->appendPuts(b, scratch, index, 0, end);
          if (r) r = s->syncPuts(end);
          CHECK_MESSAGE(r.ok(), r.error());
          if (coveredOf(logPath(d, fc::fileOf(end))) < static_cast<off_t>(fc::offsetOf(end)))
            ++notCovered;
        }
      });
    for (auto& t : threads) t.join();
    CHECK(notCovered.load() == 0);
    const int commits = kThreads * kCommits;
    MESSAGE(commits, " commits, ", syncs.count, " fdatasyncs");
    CHECK(syncs.count < commits);
    CHECK(drainStore(*s.store).size() == static_cast<std::size_t>(commits * kBatch));
  }
}

// ---- Source state (sdk::Transaction::putSourceState): durable with the put commit ----

namespace {

// One put transaction: the events (may be none) and key=value, committed or rolled back.
sdk::Result putWithState(FileChannel& ch, sdk::EventBatch events, std::string_view key,
                         std::string_view value, bool commit = true) {
  auto tx = ch.getTransaction();
  tx->begin();
  sdk::Result r = tx->putBatch(events);
  if (r) r = tx->putSourceState(key, value);
  if (r && commit) r = tx->commit();
  if (!r || !commit) tx->rollback();
  tx->close();
  return r;
}

std::string stateOf(FileChannel& ch, std::string_view key) {
  std::string v;
  return ch.committedSourceState(key, v) ? v : "<none>";
}

}  // namespace

TEST_CASE("source state: committed with the puts, rolled back with them, per key, across replay") {
  TempDir d;
  {
    Chan c(d, {{"checkpointOnClose", "false"}});
    CHECK(c->keepsSourceState());
    CHECK(stateOf(*c, "a1.sources.r1") == "<none>");
    REQUIRE(putWithState(*c, numbered(1, 5), "a1.sources.r1", "v1").ok());
    CHECK(stateOf(*c, "a1.sources.r1") == "v1");
    // Rolled back: neither the events nor the state.
    REQUIRE(putWithState(*c, numbered(6, 9), "a1.sources.r1", "lost", false).ok());
    CHECK(stateOf(*c, "a1.sources.r1") == "v1");
    // A transaction with a state alone, for another key: independent of r1.
    REQUIRE(putWithState(*c, {}, "a1.sources.r2", "w1").ok());
    CHECK(stateOf(*c, "a1.sources.r1") == "v1");
    CHECK(stateOf(*c, "a1.sources.r2") == "w1");
    // A second value in one transaction replaces the first.
    {
      auto tx = c->getTransaction();
      tx->begin();
      REQUIRE(tx->putSourceState("a1.sources.r1", "first").ok());
      REQUIRE(tx->putSourceState("a1.sources.r1", "v2").ok());
      REQUIRE(tx->commit().ok());
      tx->close();
    }
    // Outside a transaction: refused.
    auto tx = c->getTransaction();
    CHECK_FALSE(tx->putSourceState("a1.sources.r1", "x").ok());
    // Takes do not touch states.
    CHECK(takeCommit(*c, 2) == seq(1, 2));
    CHECK(counter(*c, "EventPutSuccessCount") == 5);  // a state alone is no event
  }
  // No checkpoint on close: the states come back from the log records after the open's one.
  {
    Chan c(d, {{"checkpointOnClose", "false"}});
    CHECK(c->lastReplay().sourceStates == 2);
    CHECK(stateOf(*c, "a1.sources.r1") == "v2");
    CHECK(stateOf(*c, "a1.sources.r2") == "w1");
    CHECK(drain(*c) == seq(3, 5));
  }
  // No checkpoint at all: a full replay of the log finds them too.
  fs::remove(d.path / "checkpoint" / "checkpoint");
  {
    Chan c(d);
    CHECK(c->lastReplay().source == "full replay");
    CHECK(stateOf(*c, "a1.sources.r1") == "v2");
    CHECK(stateOf(*c, "a1.sources.r2") == "w1");
  }
  // The offline checker reads them.
  const int rc =
      std::system((std::string(SLUICE_CHANNEL_CHECK) + " --checkpoint-dir " + d.str("checkpoint") +
                   " --data-dirs " + d.str("data") + " > " + d.str("check.txt"))
                      .c_str());
  CHECK(WEXITSTATUS(rc) == 0);
  std::ifstream report(d.str("check.txt"));
  std::string text((std::istreambuf_iterator<char>(report)), {});
  CHECK(text.find("source states: 2") != std::string::npos);
}

TEST_CASE("source state: a torn transaction keeps the previous state, as it keeps the events") {
  TempDir d;
  {
    Chan c(d, {{"checkpointOnClose", "false"}});
    REQUIRE(putWithState(*c, numbered(1, 3), "a1.sources.r1", "after-3").ok());
    REQUIRE(putWithState(*c, numbered(4, 6), "a1.sources.r1", "after-6").ok());
  }
  // Cut the newest log file inside the last transaction's Commit record (a kill -9 during the
  // write): its events and its state must both be gone, the earlier ones both kept.
  const fs::path last = logFiles(d).back();
  fs::resize_file(last, fs::file_size(last) - 3);
  Chan c(d);
  CHECK(stateOf(*c, "a1.sources.r1") == "after-3");
  CHECK(drain(*c) == seq(1, 3));
}

TEST_CASE("source state survives checkpoints and the deletion of the log file that carried it") {
  TempDir d;
  {
    Chan c(d, {{"maxFileSize", "4096"}});
    REQUIRE(putWithState(*c, numbered(1, 10), "a1.sources.r1", "v-first").ok());
    REQUIRE(putWithState(*c, {}, "a1.sources.r2", "w-first").ok());
    const fs::path first = logFiles(d).front();
    for (int i = 1; i < 100; ++i) REQUIRE(putCommit(*c, numbered(i * 10 + 1, i * 10 + 10)).ok());
    CHECK(drain(*c) == seq(1, 1000));
    REQUIRE(c->store().checkpoint().ok());
    CHECK_FALSE(fs::exists(first));  // the record is gone; the checkpoint holds the states
    CHECK(logFiles(d).size() <= 2);
    CHECK(stateOf(*c, "a1.sources.r1") == "v-first");
  }
  {
    Chan c(d);
    CHECK(c->lastReplay().source == "checkpoint");
    CHECK(stateOf(*c, "a1.sources.r1") == "v-first");
    CHECK(stateOf(*c, "a1.sources.r2") == "w-first");
    REQUIRE(putWithState(*c, numbered(1001, 1001), "a1.sources.r1", "v-second").ok());
  }
  Chan c(d);
  CHECK(stateOf(*c, "a1.sources.r1") == "v-second");
  CHECK(stateOf(*c, "a1.sources.r2") == "w-first");
}

TEST_CASE("log format: version 1 files still open, unknown versions are refused") {
  std::string header;
  fc::appendFileHeader(header, 7);
  uint32_t id = 0;
  std::string why;
  CHECK(fc::parseFileHeader(header.data(), header.size(), id, &why));
  for (uint32_t v : {1u, 2u, 3u}) {
    CAPTURE(v);
    std::memcpy(header.data() + 4, &v, 4);
    CHECK(fc::parseFileHeader(header.data(), header.size(), id, &why) == (v <= 2));
  }
  CHECK(why.find("unsupported log format version 3") != std::string::npos);
  // A State record round-trips.
  std::string rec;
  fc::appendStateRecord(rec, 42, "a1.sources.r1", "{\"LastIndex\":\"7\"}");
  fc::RecordView rv;
  REQUIRE(fc::parseRecord(rec.data(), rec.size(), rv) == fc::ParseStatus::Ok);
  CHECK(rv.type == fc::RecordType::State);
  CHECK(rv.txId == 42);
  std::string_view key, value;
  REQUIRE(fc::decodeState(rv.body, key, value));
  CHECK(key == "a1.sources.r1");
  CHECK(value == "{\"LastIndex\":\"7\"}");
}
