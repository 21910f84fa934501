#pragma once
// Where the process's log lines go, as Flume's log4j configuration names it:
//   -Dflume.root.logger=INFO,console           stderr (sluice's default)
//   -Dflume.root.logger=INFO,LOGFILE           the file flume.log.dir/flume.log.file
//   -Dflume.root.logger=DEBUG,console,LOGFILE  both
// with Flume's defaults ./logs and flume.log. As with Flume's shipped log4j configuration, whose
// root logger is INFO,LOGFILE, giving -Dflume.log.dir or -Dflume.log.file without
// -Dflume.root.logger also logs to the file. The file rotates by size (Flume's log4j2.xml:
// 100 MB, 20 files kept; sluice's --log-file-max-size and --log-file-max-files change that).

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::core {

struct LogOutputs {
  bool console = true;  // stderr
  std::string file;     // empty: no log file
  // Rotation: at this size flume.log becomes flume.1.log (flume.1.log flume.2.log...), keeping
  // maxFiles old files. 0: never rotate (for logrotate's copytruncate; the file is opened for
  // appending).
  uint64_t maxFileBytes = uint64_t{100} << 20;
  std::size_t maxFiles = 20;
};

// Flume's logging switches, collected from -D and turned into a level and LogOutputs.
class FlumeLogSwitches {
 public:
  // Takes flume.root.logger, flume.log.dir and flume.log.file; false for any other key.
  bool take(const std::string& key, const std::string& value);
  // The level flume.root.logger names ("" when not given).
  std::string level() const;
  // Applies the switches to `out` (its rotation settings are kept). Appenders other than console
  // and LOGFILE (matched case-insensitively, as log4j2's Console and LogFile too) are named in
  // `warnings` and ignored; a root logger naming neither keeps the console. Returns false with
  // `error` for an empty flume.log.dir or flume.log.file.
  bool apply(LogOutputs& out, std::vector<std::string>& warnings, std::string& error) const;

 private:
  bool rootGiven_ = false;
  std::string root_;
  std::string dir_ = "./logs", file_ = "flume.log";
  bool dirGiven_ = false, fileGiven_ = false;
};

// "100MB", "512 KB", "1GB", "4096" (bytes; units are 1024-based, case-insensitive, as log4j's
// file sizes). Returns false for anything else.
bool parseFileSize(const std::string& text, uint64_t& bytes);

}  // namespace sluice::core
