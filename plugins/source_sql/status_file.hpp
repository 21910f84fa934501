#pragma once
// keedio's status file: one flat JSON object of strings in status.file.path/status.file.name,
//   {"SourceName":"r1","URL":"jdbc:mysql://db:3306/shop","LastIndex":"1234",
//    "Table":"orders","ColumnsToSelect":"*","IncrementalColumn":"id"}
// ("Query" instead of Table/ColumnsToSelect for a custom query; sluice adds "TieBreakerColumn"
// and "LastTieBreaker" for timestamp columns with a tie-breaker).
//
// Writes are atomic: the new content goes to <name>.tmp (write, fsync), which is renamed over the
// file, and the directory is fsynced. The source splits this in two - prepare() before handing a
// batch to the channels, commit() (rename + directory fsync) after their commit - so that the
// offset follows the channel commit within one rename.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::plugins::sql {

// The fields, in the order they were read or set.
class StatusRecord {
 public:
  const std::string* find(std::string_view key) const;
  void set(std::string_view key, std::string value);
  void erase(std::string_view key);
  const std::vector<std::pair<std::string, std::string>>& fields() const noexcept {
    return fields_;
  }
  std::string toJson() const;
  // Parses a flat JSON object; string, number, boolean and null values (the latter three kept
  // as their text, null as ""). Throws std::runtime_error saying what is wrong and where.
  static StatusRecord parse(std::string_view json);

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

class StatusFile {
 public:
  StatusFile(std::string directory, const std::string& name);

  const std::string& path() const noexcept { return path_; }
  // Creates the directory if needed. Throws std::runtime_error naming the path and the reason.
  void openDirectory();
  // The record on disk, or nullopt when there is no file. Throws on a file that cannot be read
  // or parsed (never silently starts over: that would re-send the whole table).
  std::optional<StatusRecord> read() const;
  // Writes <name>.tmp and fsyncs it. Throws std::runtime_error.
  void prepare(const StatusRecord& record);
  // Renames the prepared file over the status file and fsyncs the directory. Throws.
  void commit();
  void write(const StatusRecord& record) {
    prepare(record);
    commit();
  }

 private:
  std::string dir_, path_, tmp_;
  std::string content_;  // reused buffer
  bool prepared_ = false;
};

}  // namespace sluice::plugins::sql
