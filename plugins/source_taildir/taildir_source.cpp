#include "taildir_source.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <stdexcept>

#include "config_keys.hpp"
#include "counter_layout.hpp"
#include "position_file.hpp"
#include "tailer.hpp"
#include "text_util.hpp"

namespace sluice::plugins::taildir {

namespace {

constexpr int64_t kMaxLineLengthLimit = 256LL * 1024 * 1024;
constexpr int64_t kMaxOpenFilesLimit = 1 << 20;

std::string homeDir() {
  if (const char* h = ::getenv("HOME"); h && *h) return h;
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) return pw->pw_dir;
  return "/";
}

}  // namespace

const sdk::Schema& taildirSourceSchema() {
  static const sdk::Schema schema{
      sdk::Key("filegroups")
          .string()
          .doc("Space-separated names of file groups; each group is one directory and a file-name "
               "regex"),
      sdk::Key("filegroups.*")
          .string()
          .doc("filegroups.<g>: a fixed directory, then a regex for the file names (whole-name "
               "match)"),
      sdk::Key("positionFile")
          .string()
          .def("~/.flume/taildir_position.json")
          .doc("JSON file of {inode, pos, file} per followed file, in Flume's format"),
      sdk::Key("headers.*")
          .string()
          .doc("headers.<g>.<key>: a header with this value on every event from group g"),
      sdk::Key("byteOffsetHeader")
          .boolean()
          .def("false")
          .doc("Put the byte offset of each line in the header byteoffset"),
      sdk::Key("skipToEnd")
          .boolean()
          .def("false")
          .doc("Start files found at start-up that the position file lacks at their end"),
      sdk::Key("idleTimeout")
          .integer()
          .def("120000")
          .range(1, 2147483647)
          .doc("Milliseconds without growth after which a file is closed and its unfinished last "
               "line is sent"),
      sdk::Key("writePosInterval")
          .integer()
          .def("3000")
          .range(1, 2147483647)
          .doc("Milliseconds between writes of the position file"),
      sdk::Key("batchSize")
          .integer()
          .def("100")
          .range(1, 1000000)
          .doc("Lines read and handed to the channels per transaction"),
      sdk::Key("maxBatchCount")
          .longValue()
          .def("9223372036854775807")
          .range(1, 9.3e18)
          .doc("Batches read from one file before moving on to the next"),
      sdk::Key("backoffSleepIncrement")
          .longValue()
          .def("1000")
          .range(1, 3600000)
          .doc("Milliseconds added to the poll interval (and the retry delay after a refused "
               "batch) each time"),
      sdk::Key("maxBackoffSleep")
          .longValue()
          .def("5000")
          .range(1, 3600000)
          .doc("Longest poll interval and retry delay in milliseconds"),
      sdk::Key("cachePatternMatching")
          .boolean()
          .def("true")
          .doc("Re-list a directory only when it changed, instead of on every poll"),
      sdk::Key("fileHeader").boolean().def("false").doc("Put the file's absolute path in a header"),
      sdk::Key("fileHeaderKey").string().def("file").doc("Name of the header fileHeader adds"),
      sdk::Key("maxLineLength")
          .integer()
          .def("1048576")
          .range(1, static_cast<double>(kMaxLineLengthLimit))
          .doc("sluice: longest event body in bytes; the rest of a longer line is dropped and "
               "counted"),
      sdk::Key("maxOpenFiles")
          .integer()
          .def("1000")
          .range(1, static_cast<double>(kMaxOpenFilesLimit))
          .doc("sluice: most files held open at once; beyond it the least recently active one is "
               "closed and reopened when it changes"),
      sdk::Key("inotify").boolean().def("true").doc(
          "sluice: watch the directories with inotify; false polls only"),
      sdk::Key("multiline.pattern")
          .string()
          .doc("sluice: regex (Java syntax, found anywhere in the line) that marks lines to join; "
               "unset means no joining"),
      sdk::Key("multiline.negate")
          .boolean()
          .def("false")
          .doc("sluice: join the lines that do not match multiline.pattern"),
      sdk::Key("multiline.match")
          .oneOf({"after", "before"})
          .def("after")
          .doc("sluice: after appends joined lines to the line before them; before to the line "
               "after them"),
      sdk::Key("multiline.maxLines")
          .integer()
          .def("500")
          .range(1, 1000000)
          .doc("sluice: most lines in one joined event; further lines are dropped"),
      sdk::Key("multiline.timeout")
          .integer()
          .def("5000")
          .range(1, 2147483647)
          .doc("sluice: milliseconds after which a joined event is sent without waiting for more"),
  };
  return schema;
}

TaildirSource::TaildirSource() {
  counter_layout::addInOrder(
      sourceCounter(), kLinesTruncated,
      {"LinesTruncatedCount", "FilesOpenedCount", "FilesClosedCount", "RotationsDetectedCount",
       "TruncationsDetectedCount", "PartialLinesFlushedCount", "MultilineEventsCount",
       "PositionWriteFail", "FilesDeletedCount", "FilesEvictedCount", "ClosedFilesLostCount"},
      "taildir source");
}

TaildirSource::~TaildirSource() { stop(); }

void TaildirSource::configure(const sdk::Context& context) {
  TaildirSettings s;
  const std::vector<std::string> names = context.getNames("filegroups");
  if (names.empty()) context.fail("filegroups", "is required but missing");
  for (const std::string& name : names) {
    const std::string key = "filegroups." + name;
    if (!context.containsKey(key))
      context.fail("filegroups", "names group '" + name + "' but " + key + " is missing");
    GroupSpec g;
    g.name = name;
    const std::string value = text::trimmed(context.getString(key, ""));
    const std::size_t slash = value.rfind('/');
    if (value.empty() || slash == std::string::npos || slash + 1 == value.size())
      context.fail(key,
                   "expected a directory and a file-name regex such as /var/log/app/.*\\.log, "
                   "got '" +
                       value + "'");
    g.dir = slash == 0 ? "/" : value.substr(0, slash);
    g.pattern = value.substr(slash + 1);
    if (g.dir.front() != '/') {
      char cwd[PATH_MAX];
      if (::getcwd(cwd, sizeof cwd)) g.dir = std::string(cwd) + "/" + g.dir;
    }
    std::string err;
    g.regex = javaregex::Regex::compile(g.pattern, javaregex::Mode::Matches, &err);
    if (!g.regex) context.fail(key, "bad file-name regex '" + g.pattern + "': " + err);
    s.groups.push_back(std::move(g));
  }
  // headers.<group>.<key>
  for (const auto& [key, param] : context.parameters()) {
    if (key.rfind("headers.", 0) != 0) continue;
    const std::string rest = key.substr(8);
    const std::size_t dot = rest.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size())
      context.fail(key, "expected headers.<group>.<header name>");
    const std::string group = rest.substr(0, dot);
    auto it = std::find_if(s.groups.begin(), s.groups.end(),
                           [&](const GroupSpec& g) { return g.name == group; });
    if (it == s.groups.end())
      context.fail(key, "names file group '" + group + "', which filegroups does not list");
    it->headers.emplace_back(rest.substr(dot + 1), param.value);
  }
  for (const auto& [key, param] : context.parameters()) {
    if (key.rfind("filegroups.", 0) != 0) continue;
    const std::string group = key.substr(11);
    if (std::find(names.begin(), names.end(), group) == names.end())
      logger().warn(context.describe(key), ": file group '", group,
                    "' is not listed in filegroups and is ignored");
  }
  s.positionFile = requireValue(context, "positionFile");
  if (s.positionFile.empty()) context.fail("positionFile", "must name a file");
  if (s.positionFile.rfind("~/", 0) == 0) s.positionFile = homeDir() + s.positionFile.substr(1);
  s.byteOffsetHeader = requireBoolean(context, "byteOffsetHeader");
  s.skipToEnd = requireBoolean(context, "skipToEnd");
  s.cachePatternMatching = requireBoolean(context, "cachePatternMatching");
  s.fileHeader = requireBoolean(context, "fileHeader");
  s.fileHeaderKey = requireValue(context, "fileHeaderKey");
  s.idleTimeout = milliseconds(requireInteger(context, "idleTimeout"));
  s.writePosInterval = milliseconds(requireInteger(context, "writePosInterval"));
  s.batchSize = static_cast<std::size_t>(requireInteger(context, "batchSize"));
  s.maxBatchCount = requireLong(context, "maxBatchCount");
  s.backoffSleepIncrement = requireLong(context, "backoffSleepIncrement");
  s.maxBackoffSleep = requireLong(context, "maxBackoffSleep");
  if (s.maxBackoffSleep < s.backoffSleepIncrement)
    context.fail("maxBackoffSleep", "(" + std::to_string(s.maxBackoffSleep) +
                                        ") must be >= backoffSleepIncrement (" +
                                        std::to_string(s.backoffSleepIncrement) + ")");
  s.maxLineLength = static_cast<std::size_t>(requireInteger(context, "maxLineLength"));
  s.maxOpenFiles = static_cast<std::size_t>(requireInteger(context, "maxOpenFiles"));
  s.inotify = requireBoolean(context, "inotify");
  if (auto pattern = context.getString("multiline.pattern")) {
    std::string err;
    s.multiline.pattern = javaregex::Regex::compile(*pattern, javaregex::Mode::Find, &err);
    if (!s.multiline.pattern)
      context.fail("multiline.pattern", "bad regex '" + *pattern + "': " + err);
    s.multiline.negate = requireBoolean(context, "multiline.negate");
    // An enum the host has checked: after or before, in any case.
    s.multiline.matchAfter = text::lower(requireValue(context, "multiline.match")) != "before";
    s.multiline.maxLines = static_cast<std::size_t>(requireInteger(context, "multiline.maxLines"));
    s.multiline.maxBytes = s.maxLineLength;
    s.multilineTimeout = milliseconds(requireInteger(context, "multiline.timeout"));
  } else {
    // The host fills in the other multiline.* keys' defaults: a value that differs from the
    // schema's default is one the user set, to no effect.
    for (const sdk::Key& k : taildirSourceSchema().keys)
      if (k.name.rfind("multiline.", 0) == 0 && !k.defaultValue.empty() &&
          context.getString(k.name) != k.defaultValue)
        logger().warn(context.describe(k.name), " has no effect without multiline.pattern");
  }
  path_ = context.path();
  settings_ = std::move(s);
  configured_ = true;
}

void TaildirSource::start() {
  if (tailer_) return;
  if (!configured_) throw std::logic_error("taildir source started before configure()");
  auto t = std::make_unique<Tailer>(*this, settings_, path_);
  t->open();
  std::string dirs;
  for (const auto& g : settings_.groups)
    dirs += (dirs.empty() ? "" : ", ") + g.dir + "/" + g.pattern;
  logger().info("tailing ", dirs, "; positions in '", settings_.positionFile, "'");
  t->startThread();
  tailer_ = std::move(t);
}

void TaildirSource::stop() {
  if (!tailer_) return;
  tailer_.reset();  // stops the reader thread first
  sourceCounter().setOpenConnectionCount(0);
  logger().info("stopped");
}

void TaildirSource::poke() noexcept {
  if (tailer_) tailer_->poke();
}

}  // namespace sluice::plugins::taildir
