// com.example.OffsetFileSource: the "resume from offset" file source of Flume's tutorials, as a
// sluice plugin in one file (its own .so, its own SLUICE_PLUGIN).
//
// It reads lines from `file` and hands them to the channel processor in batches of `batchSize`.
// After each batch is committed to the channel(s), it writes the byte offset just past that batch
// to `offsetFile` (write a temporary file, fsync, rename over the old one: a crash leaves either
// the old or the new offset, never a half-written one). On start it seeks to the stored offset.
//
// The order is commit, then offset. A crash between the two re-reads that one batch on restart:
// at most batchSize duplicate lines, never a lost one. (Offset first, then commit, would lose the
// batch instead.) The line after the last newline is read only once its newline is written, so
// the source also follows a file that is still growing, like `tail -F` without rotation.
//
//   a1.sources.r1.type = com.example.OffsetFileSource
//   a1.sources.r1.file = /var/log/app.log
//   a1.sources.r1.offsetFile = /var/lib/sluice/app.log.offset
//   a1.sources.r1.batchSize = 100

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

#include <sluice/sdk/sdk.hpp>

namespace example {

namespace sdk = sluice::sdk;

class OffsetFileSource final : public sdk::PollableSource {
 public:
  static sdk::Schema schema() {
    return {
        sdk::Key("file").string().req().doc("The file to read, one event per line"),
        sdk::Key("offsetFile")
            .string()
            .req()
            .doc("Where the byte offset after the last committed batch is kept"),
        sdk::Key("batchSize")
            .integer()
            .def("100")
            .range(1, 100000)
            .doc("Lines handed to the channel processor per transaction"),
    };
  }

  void configure(const sdk::Context& context) override {
    file_ = context.requireString("file");
    offsetFile_ = context.requireString("offsetFile");
    batchSize_ = context.getInteger("batchSize", 100);
    if (batchSize_ < 1) context.fail("batchSize", "must be >= 1");
  }

  void start() override {
    stop();
    fd_ = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("cannot open '" + file_ + "': " + std::strerror(errno));
    offset_ = readOffset();
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && offset_ > static_cast<uint64_t>(st.st_size)) {
      logger().warn("'", file_, "' is shorter (", st.st_size, " bytes) than the stored offset ",
                    offset_, ": it was replaced or truncated; reading from the start");
      offset_ = 0;
    }
    readPos_ = offset_;
    buf_.clear();
    logger().info("reading '", file_, "' from byte ", offset_);
  }

  void stop() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  sdk::Status process() override {
    if (fd_ < 0) return sdk::Status::BACKOFF;
    // Collect up to batchSize complete lines; buf_ holds the bytes from offset_ on.
    batch_.clear();
    std::size_t used = 0;
    while (batch_.size() < static_cast<std::size_t>(batchSize_)) {
      const std::size_t nl = buf_.find('\n', used);
      if (nl == std::string::npos) {
        char chunk[65536];
        const ssize_t n = ::pread(fd_, chunk, sizeof chunk, static_cast<off_t>(readPos_));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return deliveryFailed("cannot read '" + file_ + "': " + std::strerror(errno));
        if (n == 0) break;  // end of file (for now)
        buf_.append(chunk, static_cast<std::size_t>(n));
        readPos_ += static_cast<uint64_t>(n);
        continue;
      }
      batch_.emplace_back(buf_.substr(used, nl - used));
      used = nl + 1;
    }
    if (batch_.empty()) return sdk::Status::BACKOFF;

    const auto n = static_cast<int64_t>(batch_.size());
    sourceCounter().addToEventReceivedCount(n);
    // Returns after the channel transaction committed (or failed); the batch is empty after.
    if (sdk::Result r = getChannelProcessor().processEventBatch(batch_); !r) {
      sourceCounter().incrementChannelWriteFail();
      // Nothing advanced: the same lines are read again after the back-off.
      return deliveryFailed("channel did not accept " + std::to_string(n) + " lines: " + r.error());
    }
    sourceCounter().addToEventAcceptedCount(n);
    // Committed: only now move the offset, and persist it.
    offset_ += used;
    buf_.erase(0, used);
    if (!writeOffset()) {
      // The lines are in the channel; a crash before the next successful write re-reads them.
      logger().error("cannot write '", offsetFile_, "': ", std::strerror(errno));
    }
    return sdk::Status::READY;  // the next call backs off when nothing new is there
  }

 private:
  uint64_t readOffset() {
    std::ifstream in(offsetFile_);
    uint64_t v = 0;
    if (in && (in >> v)) return v;
    return 0;  // no offset yet: start at the beginning
  }

  // temp file, fsync, rename: the offset file is always whole.
  bool writeOffset() {
    const std::string tmp = offsetFile_ + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    const std::string text = std::to_string(offset_) + "\n";
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                    ::fsync(fd) == 0;
    ::close(fd);
    return ok && ::rename(tmp.c_str(), offsetFile_.c_str()) == 0;
  }

  std::string file_;
  std::string offsetFile_;
  int32_t batchSize_ = 100;
  int fd_ = -1;
  uint64_t offset_ = 0;   // bytes of the file committed to the channel
  uint64_t readPos_ = 0;  // bytes of the file read into buf_
  std::string buf_;
  sdk::EventBatch batch_;
};

namespace {
const sdk::PluginManifest& manifest() {
  static const sdk::PluginManifest m{
      "example-offset",
      "1.0.0",
      {sdk::makeComponent<OffsetFileSource>(
          sdk::ComponentKind::Source, "com.example.OffsetFileSource", {},
          OffsetFileSource::schema(),
          "Reads lines from a file, resuming after a restart at the offset of the last committed "
          "batch",
          sdk::Stability::Evolving)}};
  return m;
}
}  // namespace

}  // namespace example

SLUICE_PLUGIN(example::manifest)
