#include "rolling_file_sink.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "config_keys.hpp"
#include "file_output.hpp"

namespace sluice::plugins::file_roll {

namespace {

using file_output::errnoText;
using file_output::lower;
using file_output::trimmed;

// The extended attribute that marks a file as being written; its value is the record format.
constexpr const char* kOpenAttr = "user.sluice.open";

}  // namespace

const sdk::Schema& rollingFileSinkSchema() {
  static const sdk::Schema schema{
      sdk::Key("sink.directory")
          .string()
          .req()
          .doc("Directory the files are written to; created when missing"),
      sdk::Key("sink.rollInterval")
          .longValue()
          .def("30")
          .range(0, 31536000)
          .doc("Seconds after which the sink starts a new file; 0 writes everything to one file"),
      sdk::Key("sink.batchSize")
          .integer()
          .def("100")
          .range(1, 1000000)
          .doc("Events taken from the channel and written per transaction"),
      sdk::Key("sink.serializer")
          .oneOf(file_output::serializerSpellings())
          .component(sdk::ComponentKind::EventSerializer)
          .def("TEXT")
          .doc("TEXT writes each body (and a newline); HEADER_AND_TEXT writes the headers as "
               "{k=v, k=v}, a space, then the body; avro_event writes an Avro container of "
               "headers and body; the type of a serializer plugin writes its own format, "
               "configured by the keys below sink.serializer"),
      sdk::Key("sink.serializer.appendNewline")
          .boolean()
          .def("true")
          .doc("TEXT, HEADER_AND_TEXT: write a newline after each event"),
      sdk::Key("sink.serializer.syncIntervalBytes")
          .integer()
          .def("2048000")
          .range(1, 1073741824)
          .doc("avro_event: bytes of records after which a new Avro block starts"),
      sdk::Key("sink.serializer.compressionCodec")
          .oneOf({"null"})
          .def("null")
          .doc("avro_event: block compression; only null (none) is supported"),
      sdk::Key("sink.pathManager")
          .oneOf({"DEFAULT", "ROLLTIME"})
          .def("DEFAULT")
          .doc("File names: DEFAULT is prefix, start time in ms, -N; ROLLTIME is prefix, "
               "yyyyMMddHHmmss, -N"),
      sdk::Key("sink.pathManager.prefix").string().doc("Text at the start of every file name"),
      sdk::Key("sink.pathManager.extension")
          .string()
          .doc("File name extension, added after a dot when not empty"),
  };
  return schema;
}

RollingFileSink::RollingFileSink() : rng_(std::random_device{}()) {}

RollingFileSink::~RollingFileSink() { closeFile(); }

void RollingFileSink::configure(const sdk::Context& context) {
  RollingFileSettings s;
  s.directory = trimmed(context.requireString("sink.directory"));

  s.rollInterval = std::chrono::seconds(requireLong(context, "sink.rollInterval"));
  s.batchSize = static_cast<std::size_t>(requireInteger(context, "sink.batchSize"));

  // Enum keys: the host has checked them against the schema's values (case-insensitively).
  s.custom = context.component<sdk::EventSerializerBuilder>("sink.serializer");
  if (!s.custom) {
    file_output::requireBuiltinSerializer(context, "sink.serializer");
    s.serializer = file_output::serializerFromName(requireValue(context, "sink.serializer"));
    s.appendNewline = requireBoolean(context, "sink.serializer.appendNewline");
    s.syncIntervalBytes =
        static_cast<std::size_t>(requireInteger(context, "sink.serializer.syncIntervalBytes"));
  }
  s.pathManager = lower(trimmed(requireValue(context, "sink.pathManager"))) == "rolltime"
                      ? PathManagerType::RollTime
                      : PathManagerType::Default;
  s.prefix = context.getString("sink.pathManager.prefix", "");
  s.extension = context.getString("sink.pathManager.extension", "");
  for (const char* key : {"sink.pathManager.prefix", "sink.pathManager.extension"})
    if (context.getString(key, "").find('/') != std::string::npos)
      context.fail(key, "must not contain '/'");

  s_ = std::move(s);
  directoryKey_ = context.describe("sink.directory");
  seriesMillis_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  fileIndex_ = 0;
  lastRollStamp_.clear();
  configured_ = true;
}

void RollingFileSink::start() {
  if (!configured_) throw std::logic_error("file_roll sink started before configure()");
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(s_.directory, ec);
  if (ec)
    throw std::runtime_error(directoryKey_ + ": cannot create directory '" + s_.directory +
                             "': " + ec.message());
  if (!fs::is_directory(s_.directory, ec))
    throw std::runtime_error(directoryKey_ + ": '" + s_.directory + "' is not a directory");
  if (::access(s_.directory.c_str(), W_OK | X_OK) != 0)
    throw std::runtime_error(directoryKey_ + ": cannot write to directory '" + s_.directory +
                             "': " + errnoText(errno));
  repairCrashedFiles();
  if (s_.rollInterval.count() == 0)
    logger().info("sink.rollInterval is 0: all events go to one file");
}

file_output::RecordFormat RollingFileSink::recordFormat() const noexcept {
  if (s_.custom)
    return custom_ && custom_->lineOriented() ? file_output::RecordFormat::Lines
                                              : file_output::RecordFormat::Opaque;
  if (s_.serializer == SerializerType::AvroEvent) return file_output::RecordFormat::AvroContainer;
  return s_.appendNewline ? file_output::RecordFormat::Lines : file_output::RecordFormat::Opaque;
}

void RollingFileSink::repairCrashedFiles() {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (fs::directory_iterator it(s_.directory, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (!it->is_regular_file(fec) || it->is_symlink(fec)) continue;
    const std::string path = it->path().string();
    char value[32];
    const ssize_t len = ::getxattr(path.c_str(), kOpenAttr, value, sizeof value - 1);
    if (len < 0) continue;  // ENODATA for every file that was closed properly
    const std::string format(value, static_cast<std::size_t>(len));
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    // A live writer (another sink, or this one before a reload) holds the lock: leave it be.
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      continue;
    }
    int64_t cut = 0;
    std::string error;
    if (!file_output::cutTornTail(path, file_output::formatFromName(format), &cut, &error))
      logger().error("repairing '", path, "' after a crash: ", error);
    else if (cut > 0)
      logger().warn("'", path, "' was being written when its agent stopped without closing it: ",
                    "cut ", cut, " bytes of a batch that never committed (its events are ",
                    "delivered again)");
    else
      logger().info("'", path, "' was left open by an earlier run; it ends with a whole event");
    if (::fremovexattr(fd, kOpenAttr) != 0 && errno != ENODATA)
      logger().warn("cannot clear the in-use mark of '", path, "': ", errnoText(errno));
    ::close(fd);
  }
}

void RollingFileSink::stop() { closeFile(); }

std::string RollingFileSink::nextFileName() {
  std::string name = s_.prefix;
  if (s_.pathManager == PathManagerType::RollTime) {
    // Flume's RollTimePathManager: local time to the second; the index restarts each second.
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::localtime_r(&now, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
    if (lastRollStamp_ != stamp) {
      lastRollStamp_ = stamp;
      fileIndex_ = 0;
    }
    name += stamp;
  } else {
    name += std::to_string(seriesMillis_);
  }
  name += '-';
  name += std::to_string(++fileIndex_);
  if (!s_.extension.empty()) name += '.' + s_.extension;
  return name;
}

bool RollingFileSink::openNext(std::string* error) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::string path = s_.directory;
    if (path.empty() || path.back() != '/') path += '/';
    path += nextFileName();
    // O_EXCL: never truncate an existing file (Flume's FileOutputStream would).
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      if (errno == EEXIST) {
        logger().warn("'", path, "' exists; trying the next name");
        continue;
      }
      *error = "cannot create '" + path + "': " + errnoText(errno);
      return false;
    }
    fd_ = fd;
    path_ = std::move(path);
    committed_ = 0;
    buf_.clear();
    // Removes the new file again when its start failed.
    auto abandon = [this] {
      custom_.reset();
      ::close(fd_);
      ::unlink(path_.c_str());
      fd_ = -1;
      path_.clear();
      return false;
    };
    if (s_.custom) {
      sdk::Result made;
      custom_ = s_.custom->newSerializer(made);
      if (made) made = custom_->afterCreate(buf_);
      if (!made) {
        *error = "the serializer could not start '" + path_ + "': " + made.error();
        return abandon();
      }
    }
    markOpen();
    if (s_.serializer == SerializerType::AvroEvent && !s_.custom) {
      for (std::size_t i = 0; i < sync_.size(); i += 8) {
        const uint64_t r = rng_();
        std::memcpy(sync_.data() + i, &r, 8);
      }
      avro::appendContainerHeader(buf_, sync_);
    }
    if (!buf_.empty()) {
      if (!writeBuffer(error)) return abandon();
      committed_ = buf_.size();
    }
    rollAt_ = Clock::now() + s_.rollInterval;
    sinkCounter().incrementConnectionCreatedCount();
    logger().info("writing to ", path_);
    return true;
  }
  *error = "no free file name in '" + s_.directory + "' after 1000 attempts";
  return false;
}

bool RollingFileSink::writeBuffer(std::string* error) {
  return file_output::writeAll(fd_, buf_.data(), buf_.size(), path_, error);
}

bool RollingFileSink::truncateToCommitted(std::string* error) {
  return file_output::cutBack(fd_, committed_, path_, error);
}

void RollingFileSink::markOpen() {
  // Crash repair (repairCrashedFiles): while this process lives it holds a lock on the file, and
  // an extended attribute names the file's record format, so a later start can tell a file that
  // a crash left half-written from one that is still being written, without a file of its own
  // in the directory that readers of it would trip over.
  if (recordFormat() == file_output::RecordFormat::Opaque) return;
  const char* format = file_output::formatName(recordFormat());
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0 ||
      ::fsetxattr(fd_, kOpenAttr, format, std::strlen(format), 0) != 0) {
    if (!warnedNoMark_)
      logger().warn("cannot mark '", path_, "' as in use (", errnoText(errno),
                    "): after a crash, files in '", s_.directory,
                    "' may end with part of a batch that is delivered again");
    warnedNoMark_ = true;
    return;
  }
  marked_ = true;
}

void RollingFileSink::closeFile() noexcept {
  if (fd_ < 0) return;
  if (custom_) {
    // The serializer's trailer, after the last committed batch.
    std::string tail;
    std::string error;
    sdk::Result r = custom_->beforeClose(tail);
    if (!r)
      logger().error("the serializer failed to end '", path_, "': ", r.error());
    else if (!tail.empty() && !file_output::writeAll(fd_, tail.data(), tail.size(), path_, &error))
      logger().error(error);
    custom_.reset();
  }
  // The mark goes first: while the file is still locked no repair can look at it.
  if (marked_ && ::fremovexattr(fd_, kOpenAttr) != 0)
    logger().warn("cannot clear the in-use mark of '", path_, "': ", errnoText(errno));
  marked_ = false;
  if (::close(fd_) != 0) logger().error("closing '", path_, "' failed: ", errnoText(errno));
  fd_ = -1;
  logger().debug("closed ", path_);
  path_.clear();
  sinkCounter().incrementConnectionClosedCount();
}

bool RollingFileSink::serializeBatch(std::span<const sdk::Event> events, std::string* error) {
  buf_.clear();
  if (custom_) {
    sdk::Result r = custom_->write(events, buf_);
    if (!r) *error = "the serializer failed: " + r.error();
    return static_cast<bool>(r);
  }
  if (s_.serializer == SerializerType::AvroEvent) {
    avro::appendEventBlocks(buf_, scratch_, events, sync_, s_.syncIntervalBytes);
    return true;
  }
  // The buffer keeps its capacity from batch to batch: after the first batches, no allocation.
  for (const sdk::Event& e : events) file_output::appendTextRecord(buf_, e, s_.serializer, s_.appendNewline);
  return true;
}

sdk::Status RollingFileSink::process() {
  sdk::Channel* channel = getChannel();
  if (!channel) return deliveryFailed("no channel attached");
  sdk::SinkCounter& counter = sinkCounter();

  // Roll between batches only.
  if (fd_ >= 0 && s_.rollInterval.count() > 0 && Clock::now() >= rollAt_) closeFile();
  if (fd_ < 0) {
    std::string error;
    if (!openNext(&error)) {
      counter.incrementConnectionFailedCount();
      return deliveryFailed(error);
    }
  }

  sdk::SinkBatch batch(*this, s_.batchSize);
  if (!batch.ok()) return deliveryFailed(batch.error());
  const std::size_t n = batch.size();
  if (n == 0) return sdk::Status::BACKOFF;
  std::string error;
  if (!serializeBatch(batch.events(), &error)) {
    counter.incrementEventWriteFail();
    batch.rollback();
    return deliveryFailed(error + "; " + std::to_string(n) + " events rolled back");
  }
  if (!writeBuffer(&error)) {
    counter.incrementEventWriteFail();
    batch.rollback();
    std::string cutError;
    if (!truncateToCommitted(&cutError)) logger().error(cutError);
    closeFile();
    return deliveryFailed(error + "; " + std::to_string(n) +
                          " events rolled back, to be written to a new file");
  }
  if (sdk::Result r = batch.commit(); !r) {
    // The events stay in the channel and come again: take them back out of the file.
    const std::string path = path_;
    std::string cutError;
    if (!truncateToCommitted(&cutError)) {
      logger().error(cutError);
      closeFile();
    }
    return deliveryFailed("commit to channel '" + channel->getName() + "' failed: " + r.error() +
                          "; the batch was cut from '" + path + "' and will be written again");
  }
  committed_ += buf_.size();
  return n < s_.batchSize ? sdk::Status::BACKOFF : sdk::Status::READY;
}

}  // namespace sluice::plugins::file_roll
