// spooldir's keys (the schema the host checks, README.md's table) and configure(), which turns
// them into the settings the scanning and reading code in spooldir_source.cpp uses.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "config_keys.hpp"
#include "counter_layout.hpp"
#include "file_util.hpp"
#include "java_regex.hpp"
#include "spooldir_source.hpp"
#include "text_util.hpp"

namespace sluice::plugins::spooldir {

namespace {

using files::joinPath;
using text::upper;

constexpr const char* kBlobDeserializerBuilder =
    "org.apache.flume.sink.solr.morphline.BlobDeserializer$Builder";

}  // namespace

const sdk::Schema& spoolDirSourceSchema() {
  static const sdk::Schema schema{
      sdk::Key("spoolDir").req().doc("Directory to read files from"),
      sdk::Key("fileSuffix")
          .def(".COMPLETED")
          .doc("Suffix appended to a file's name once it is fully delivered"),
      sdk::Key("deletePolicy")
          .oneOf({"never", "immediate"})
          .def("never")
          .doc("never keeps completed files (renamed or tracked); immediate deletes them"),
      sdk::Key("fileHeader")
          .boolean()
          .def("false")
          .doc("Add a header with the file's absolute path"),
      sdk::Key("fileHeaderKey").def("file").doc("Name of the absolute path header"),
      sdk::Key("basenameHeader").boolean().def("false").doc("Add a header with the file's name"),
      sdk::Key("basenameHeaderKey").def("basename").doc("Name of the file name header"),
      sdk::Key("includePattern").def("^.*$").doc("Regex a file name must match to be read"),
      sdk::Key("ignorePattern")
          .def("^$")
          .doc("Regex of file names to skip (wins over includePattern)"),
      sdk::Key("trackerDir")
          .def(".flumespool")
          .doc("Directory for progress metadata and markers; relative to spoolDir unless absolute"),
      sdk::Key("trackingPolicy")
          .oneOf({"rename", "tracker_dir"})
          .def("rename")
          .doc("rename adds fileSuffix to a completed file; tracker_dir leaves it and writes a "
               "marker in trackerDir"),
      sdk::Key("consumeOrder")
          .oneOf({"oldest", "youngest", "random"})
          .def("oldest")
          .doc("Which file to read next, by modification time (ties by name)"),
      sdk::Key("pollDelay")
          .integer()
          .def("500")
          .range(1, 86400000)
          .doc("Milliseconds between directory scans when idle"),
      sdk::Key("recursiveDirectorySearch")
          .boolean()
          .def("false")
          .doc("Also read files in subdirectories (hidden ones skipped)"),
      sdk::Key("maxBackoff")
          .integer()
          .def("4000")
          .range(1, 86400000)
          .doc("Longest wait in milliseconds between retries when the channels refuse a batch"),
      sdk::Key("batchSize").integer().def("100").range(1, 1000000).doc("Events per transaction"),
      sdk::Key("inputCharset")
          .def("UTF-8")
          .doc("Charset of the files: UTF-8 or an ASCII-compatible charset iconv knows"),
      sdk::Key("decodeErrorPolicy")
          .oneOf({"FAIL", "REPLACE", "IGNORE"})
          .def("FAIL")
          .doc("Undecodable bytes: FAIL treats the file as bad, REPLACE puts U+FFFD, IGNORE drops "
               "them"),
      sdk::Key("deserializer")
          .oneOf({"LINE", "BLOB", "org.apache.flume.serialization.LineDeserializer$Builder",
                  kBlobDeserializerBuilder})
          .def("LINE")
          .doc("LINE makes an event per line; BLOB makes one event of the whole file"),
      sdk::Key("deserializer.maxLineLength")
          .integer()
          .def("2048")
          .range(1, 268435456)
          .doc("LINE: characters after which a line is cut into several events"),
      sdk::Key("deserializer.outputCharset")
          .def("UTF-8")
          .doc("LINE: charset of the event bodies; only UTF-8"),
      sdk::Key("deserializer.maxBlobLength")
          .integer()
          .def("100000000")
          .range(1, 2147483647)
          .doc("BLOB: bytes per event; a larger file becomes several events"),
      sdk::Key("onError")
          .oneOf({"quarantine", "leave"})
          .def("quarantine")
          .doc("sluice: a bad file is moved to quarantineDir, or left where it is and skipped"),
      sdk::Key("quarantineDir")
          .doc("sluice: where bad files go (default: trackerDir/quarantine); relative to spoolDir "
               "unless absolute"),
      sdk::Key("metaSyncInterval")
          .integer()
          .def("1000")
          .range(0, 86400000)
          .doc("sluice: milliseconds between fsyncs of the progress record (0: after every batch); "
               "a process crash never needs them"),
  };
  return schema;
}

SpoolDirSource::SpoolDirSource() {
  counter_layout::addInOrder(sourceCounter(), kFilesCompleted,
                             {"FilesCompletedCount", "FilesQuarantinedCount", "LineSplitCount",
                              "UndecodableByteCount", "FilesResumedCount"},
                             "spooldir source");
}

SpoolDirSource::~SpoolDirSource() {
  stop();
  closeCurrent();
  closeMeta();
}

void SpoolDirSource::configure(const sdk::Context& context) {
  SpoolSettings s;
  s.spoolDir = context.requireString("spoolDir");
  while (s.spoolDir.size() > 1 && s.spoolDir.back() == '/') s.spoolDir.pop_back();
  if (s.spoolDir.front() != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd)) s.spoolDir = joinPath(cwd, s.spoolDir);
  }
  s.fileSuffix = requireValue(context, "fileSuffix");
  if (s.fileSuffix.empty()) context.fail("fileSuffix", "must not be empty");
  // Enum keys: the host has checked them against the schema's values (case-insensitively).
  auto enumOf = [&](const char* key) { return upper(requireValue(context, key)); };
  s.deleteImmediate = enumOf("deletePolicy") == "IMMEDIATE";
  s.fileHeader = requireBoolean(context, "fileHeader");
  s.fileHeaderKey = requireValue(context, "fileHeaderKey");
  s.basenameHeader = requireBoolean(context, "basenameHeader");
  s.basenameHeaderKey = requireValue(context, "basenameHeaderKey");
  s.includePattern = requireValue(context, "includePattern");
  s.ignorePattern = requireValue(context, "ignorePattern");
  std::string err;
  auto inc = javaregex::Regex::compile(s.includePattern, javaregex::Mode::Matches, &err);
  if (!inc) context.fail("includePattern", "invalid regex '" + s.includePattern + "': " + err);
  auto ign = javaregex::Regex::compile(s.ignorePattern, javaregex::Mode::Matches, &err);
  if (!ign) context.fail("ignorePattern", "invalid regex '" + s.ignorePattern + "': " + err);
  s.trackerDir = joinPath(s.spoolDir, requireValue(context, "trackerDir"));
  s.trackerDirPolicy = enumOf("trackingPolicy") == "TRACKER_DIR";
  const std::string order = enumOf("consumeOrder");
  s.consumeOrder = order == "YOUNGEST" ? ConsumeOrder::Youngest
                   : order == "RANDOM" ? ConsumeOrder::Random
                                       : ConsumeOrder::Oldest;
  s.pollDelay = std::chrono::milliseconds(requireInteger(context, "pollDelay"));
  s.recursive = requireBoolean(context, "recursiveDirectorySearch");
  s.maxBackoff = std::chrono::milliseconds(requireInteger(context, "maxBackoff"));
  s.batchSize = static_cast<std::size_t>(requireInteger(context, "batchSize"));
  s.inputCharset = requireValue(context, "inputCharset");
  auto decoder = Decoder::open(s.inputCharset, &err);
  if (!decoder) context.fail("inputCharset", err);
  const std::string pol = enumOf("decodeErrorPolicy");
  s.decodeErrorPolicy = pol == "REPLACE"  ? DecodeErrorPolicy::Replace
                        : pol == "IGNORE" ? DecodeErrorPolicy::Ignore
                                          : DecodeErrorPolicy::Fail;
  const std::string des = enumOf("deserializer");
  s.deserializer = des == "BLOB" || des == upper(kBlobDeserializerBuilder) ? DeserializerKind::Blob
                                                                           : DeserializerKind::Line;
  s.maxLineLength = static_cast<std::size_t>(requireInteger(context, "deserializer.maxLineLength"));
  const std::string outCs = upper(requireValue(context, "deserializer.outputCharset"));
  if (outCs != "UTF-8" && outCs != "UTF8")
    context.fail("deserializer.outputCharset",
                 "only UTF-8 is supported, got '" +
                     context.getString("deserializer.outputCharset", "") + "'");
  s.maxBlobLength = static_cast<std::size_t>(requireInteger(context, "deserializer.maxBlobLength"));
  s.quarantine = enumOf("onError") == "QUARANTINE";
  // No schema default: unset means trackerDir/quarantine.
  s.quarantineDir = context.containsKey("quarantineDir")
                        ? joinPath(s.spoolDir, context.getString("quarantineDir", ""))
                        : joinPath(s.trackerDir, "quarantine");
  s.metaSyncInterval = std::chrono::milliseconds(requireInteger(context, "metaSyncInterval"));

  settings_ = std::move(s);
  include_ = std::move(inc);
  ignore_ = std::move(ign);
  decoder_ = std::move(decoder);
  line_ = std::make_unique<LineDeserializer>(*decoder_, settings_.decodeErrorPolicy,
                                             settings_.maxLineLength);
  blob_ = std::make_unique<BlobDeserializer>(settings_.maxBlobLength);
}

}  // namespace sluice::plugins::spooldir
