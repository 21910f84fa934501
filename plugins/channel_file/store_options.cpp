#include "store_options.hpp"

#include "config_keys.hpp"
#include "text_util.hpp"

#include <algorithm>
#include <limits>
#include <string>

namespace sluice::plugins::filechannel {

namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

std::vector<std::string> splitDirs(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',') {
      const std::string dir = text::trimmed(cur);
      if (!dir.empty()) out.push_back(expandHome(dir));
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

}  // namespace

const sdk::Schema& fileChannelSchema() {
  static const sdk::Schema schema{
      sdk::Key("checkpointDir")
          .string()
          .def("~/.flume/file-channel/checkpoint")
          .doc("Directory of the checkpoint (the index of queued events)"),
      sdk::Key("dataDirs")
          .string()
          .def("~/.flume/file-channel/data")
          .doc("Comma-separated directories of the log files, used in turn as files roll"),
      sdk::Key("useDualCheckpoints")
          .boolean()
          .def("false")
          .doc("Also write every checkpoint to backupCheckpointDir"),
      sdk::Key("backupCheckpointDir")
          .string()
          .doc("Directory of the backup checkpoint; required with useDualCheckpoints, must differ "
               "from checkpointDir"),
      sdk::Key("capacity")
          .integer()
          .def("1000000")
          .range(1, kMaxInt)
          .doc("The maximum number of events stored in the channel"),
      sdk::Key("transactionCapacity")
          .integer()
          .def("10000")
          .range(1, kMaxInt)
          .doc("The maximum number of events in one put or take transaction; must be <= "
               "capacity"),
      sdk::Key("checkpointInterval")
          .longValue()
          .def("30000")
          .range(100, 86400000)
          .doc("Milliseconds between checkpoints"),
      sdk::Key("maxFileSize")
          .longValue()
          .def("2146435071")
          .range(4096, 1099511627775.0)
          .doc("Bytes after which a log file is closed and the next one started"),
      sdk::Key("minimumRequiredSpace")
          .longValue()
          .def("524288000")
          .atLeast(0)
          .doc("Puts fail while less than this many bytes are free on the data directory's disk"),
      sdk::Key("keep-alive")
          .integer()
          .def("3")
          .range(0, kMaxInt)
          .doc("Seconds a put commit waits for free space before it fails"),
      sdk::Key("checkpointOnClose")
          .boolean()
          .def("true")
          .doc("Write a checkpoint when the channel stops, so the next start replays nothing"),
      sdk::Key("fsyncPerTransaction")
          .boolean()
          .def("true")
          .doc("Sync the log before every commit returns; false syncs every fsyncInterval "
               "seconds"),
      sdk::Key("fsyncInterval")
          .integer()
          .def("5")
          .range(1, 86400)
          .doc("Seconds between log syncs when fsyncPerTransaction is false"),
      sdk::Key("use-log-replay-v1").flumeIgnored("Flume's old replay; sluice has one replay"),
      sdk::Key("use-fast-replay").flumeIgnored("sluice's replay is always the fast one"),
      sdk::Key("compressBackupCheckpoint").flumeIgnored("the backup checkpoint is not compressed"),
      sdk::Key("encryption.*").flumeIgnored("log encryption is not supported"),
  };
  return schema;
}

StoreOptions readStoreOptions(const sdk::Context& context, const std::string& channelName) {
  (void)channelName;
  StoreOptions o;
  o.checkpointDir = expandHome(requireValue(context, "checkpointDir"));
  o.dataDirs = splitDirs(requireValue(context, "dataDirs"));
  if (o.checkpointDir.empty()) context.fail("checkpointDir", "must not be empty");
  if (o.dataDirs.empty())
    context.fail("dataDirs", "expected a comma-separated list of directories, got none");
  if (requireBoolean(context, "useDualCheckpoints")) {
    o.backupCheckpointDir = expandHome(context.getString("backupCheckpointDir", ""));
    if (o.backupCheckpointDir.empty())
      context.fail("backupCheckpointDir",
                   "required when useDualCheckpoints is true: the directory of the backup "
                   "checkpoint");
    if (o.backupCheckpointDir == o.checkpointDir)
      context.fail("backupCheckpointDir",
                   "must differ from checkpointDir ('" + o.checkpointDir + "')");
    for (const auto& d : o.dataDirs)
      if (d == o.backupCheckpointDir)
        context.fail("backupCheckpointDir", "must not be one of dataDirs ('" + d + "')");
  }
  o.checkpointIntervalMs = requireLong(context, "checkpointInterval");
  o.maxFileSize = static_cast<uint64_t>(requireLong(context, "maxFileSize"));
  o.minimumRequiredSpace = static_cast<uint64_t>(requireLong(context, "minimumRequiredSpace"));
  o.checkpointOnClose = requireBoolean(context, "checkpointOnClose");
  o.fsyncPerTransaction = requireBoolean(context, "fsyncPerTransaction");
  o.fsyncIntervalMs = requireInteger(context, "fsyncInterval") * int64_t{1000};
  return o;
}

}  // namespace sluice::plugins::filechannel
