// sluice-channel-check: checks a file channel's directories offline.
//
//   sluice-channel-check --checkpoint-dir DIR --data-dirs DIR1[,DIR2...]
//                        [--backup-checkpoint-dir DIR] [--drop-corrupt]
//
// Prints where the replay starts (checkpoint, backup checkpoint or full replay), the number of
// live events, and every damaged stretch of a log file with its offset and length. Without
// --drop-corrupt nothing is changed. With it, the channel is opened and closed once: torn tails
// are truncated and a fresh checkpoint past every damaged record is written, so the next start
// of the channel reads none of them again.
//
// Exit status: 0 clean, 1 damage found (or repaired, with --drop-corrupt: 0), 2 bad usage or
// the directories cannot be read (e.g. an agent is using them).

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

#include "file_store.hpp"

namespace fc = sluice::plugins::filechannel;
namespace sdk = sluice::sdk;

namespace {

class StderrLogger final : public sdk::Logger {
 public:
  bool shouldLog(sdk::LogLevel level) const noexcept override {
    return level >= sdk::LogLevel::warn;
  }
  void log(sdk::LogLevel level, std::string_view message) noexcept override {
    std::fprintf(stderr, "%s: %.*s\n", level >= sdk::LogLevel::error ? "error" : "warning",
                 static_cast<int>(message.size()), message.data());
  }
};

int usage(const char* why) {
  if (why) std::cerr << "sluice-channel-check: " << why << "\n";
  std::cerr << "usage: sluice-channel-check --checkpoint-dir DIR --data-dirs DIR1[,DIR2...]\n"
               "                            [--backup-checkpoint-dir DIR] [--drop-corrupt]\n";
  return 2;
}

void printReport(const fc::ReplayReport& r) {
  std::cout << "replay source: " << r.source;
  if (!r.fallbackReason.empty()) std::cout << " (" << r.fallbackReason << ")";
  std::cout << "\nlog files: " << r.logFiles << " (" << r.logBytes << " bytes)\n"
            << "records replayed: " << r.recordsRead << "\n"
            << "live events: " << r.liveEvents << "\n"
            << "uncommitted puts ignored: " << r.uncommittedPuts << "\n"
            << "source states: " << r.sourceStates << "\n";
  if (r.lostEvents) std::cout << "checkpointed events in missing files: " << r.lostEvents << "\n";
  std::cout << "corrupt regions: " << r.corrupt.size() << "\n";
  for (const auto& c : r.corrupt)
    std::cout << "  " << c.file << " offset " << c.offset << " length " << c.length << ": "
              << c.reason << (c.tail ? " (tail)" : "") << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  fc::StoreOptions o;
  bool drop = false;
  std::string dataDirs;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) return nullptr;
      (void)name;
      return argv[++i];
    };
    if (a == "--checkpoint-dir") {
      const char* v = value("--checkpoint-dir");
      if (!v) return usage("--checkpoint-dir needs a directory");
      o.checkpointDir = v;
    } else if (a == "--data-dirs") {
      const char* v = value("--data-dirs");
      if (!v) return usage("--data-dirs needs directories");
      dataDirs = v;
    } else if (a == "--backup-checkpoint-dir") {
      const char* v = value("--backup-checkpoint-dir");
      if (!v) return usage("--backup-checkpoint-dir needs a directory");
      o.backupCheckpointDir = v;
    } else if (a == "--drop-corrupt") {
      drop = true;
    } else if (a == "-h" || a == "--help") {
      usage(nullptr);
      return 0;
    } else {
      return usage(("unknown argument '" + std::string(a) + "'").c_str());
    }
  }
  if (o.checkpointDir.empty() || dataDirs.empty())
    return usage("--checkpoint-dir and --data-dirs are required");
  std::string cur;
  for (char c : dataDirs + ",") {
    if (c == ',') {
      if (!cur.empty()) o.dataDirs.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  StderrLogger logger;
  try {
    fc::ReplayReport r = fc::FileStore::inspect(o, logger);
    printReport(r);
    const bool damaged = !r.corrupt.empty() || r.lostEvents > 0 || !r.fallbackReason.empty();
    if (!drop) return damaged ? 1 : 0;
    if (!damaged) {
      std::cout << "nothing to repair\n";
      return 0;
    }
    sdk::ChannelCounter counter;
    fc::FileStore store(logger, counter, fc::StoreCounters::addTo(counter));
    o.minimumRequiredSpace = 0;
    o.capacity = std::max<uint64_t>(o.capacity, r.liveEvents + 1);
    store.open(o);
    store.close();
    fc::ReplayReport after = fc::FileStore::inspect(o, logger);
    std::cout << "repaired: " << after.liveEvents << " live events, " << after.corrupt.size()
              << " corrupt regions left in the replayed part of the log\n";
    return after.corrupt.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "sluice-channel-check: " << e.what() << "\n";
    return 2;
  }
}
