#include "exec_source.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <iconv.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config_keys.hpp"
#include "counter_layout.hpp"
#include "text_util.hpp"
#include "worker_thread.hpp"

extern char** environ;

namespace sluice::plugins::exec {

namespace {

using Clock = std::chrono::steady_clock;

using text::errnoText;
using text::upper;

}  // namespace

const sdk::Schema& execSourceSchema() {
  static const sdk::Schema schema{
      sdk::Key("command").req().doc(
          "The command to run; each line it writes to stdout becomes an event"),
      sdk::Key("shell").doc(
          "Shell that runs the command, e.g. /bin/bash -c; without it the command is split on "
          "whitespace and run directly"),
      sdk::Key("restart").boolean().def("false").doc("Run the command again when it exits"),
      sdk::Key("restartThrottle")
          .longValue()
          .def("10000")
          .range(0, 86400000)
          .doc("Milliseconds to wait before running the command again"),
      sdk::Key("logStdErr").boolean().def("false").doc("Log the command's stderr lines (at info)"),
      sdk::Key("batchSize")
          .integer()
          .def("20")
          .range(1, 1000000)
          .doc("Lines handed to the channels per transaction"),
      sdk::Key("batchTimeout")
          .longValue()
          .def("3000")
          .range(1, 86400000)
          .doc("Milliseconds after which a partial batch is handed to the channels"),
      sdk::Key("charset").def("UTF-8").doc(
          "Charset of the command's output; must be ASCII-compatible; bytes are kept as read"),
      sdk::Key("maxLineLength")
          .integer()
          .def("1048576")
          .range(1, 1073741824)
          .doc("sluice: bytes after which a line is cut into several events (counted)"),
      sdk::Key("putRetryTimeout")
          .longValue()
          .def("30000")
          .range(0, 86400000)
          .doc("sluice: milliseconds a refused batch is retried (pipe held) before it is dropped; "
               "0 retries until stopped"),
  };
  return schema;
}

std::vector<std::string> splitCommand(std::string_view command) {
  return text::split(command, " \t\n\r");
}

bool charsetIsAsciiCompatible(const std::string& charset) {
  const std::string u = upper(charset);
  if (u == "UTF-8" || u == "UTF8") return true;
  iconv_t cd = ::iconv_open("UTF-8", charset.c_str());
  if (reinterpret_cast<intptr_t>(cd) == -1) return false;
  char in[] = "Az09\r\n";
  char out[32];
  char* ip = in;
  std::size_t il = sizeof(in) - 1;
  char* op = out;
  std::size_t ol = sizeof(out);
  const std::size_t r = ::iconv(cd, &ip, &il, &op, &ol);
  ::iconv_close(cd);
  return r != static_cast<std::size_t>(-1) && il == 0 &&
         std::string_view(out, static_cast<std::size_t>(op - out)) == "Az09\r\n";
}

ExecSource::ExecSource() {
  counter_layout::addInOrder(sourceCounter(), kLinesDropped,
                             {"LinesDroppedCount", "ChildRestartCount", "LineSplitCount",
                              "ChildStartCount", "SpawnFailCount"},
                             "exec source");
}

ExecSource::~ExecSource() { stop(); }

void ExecSource::configure(const sdk::Context& context) {
  ExecSettings s;
  s.command = context.requireString("command");
  if (auto shell = context.getString("shell"); shell && !splitCommand(*shell).empty()) {
    s.argv = splitCommand(*shell);
    s.argv.push_back(s.command);
  } else {
    s.argv = splitCommand(s.command);
  }
  if (s.argv.empty()) context.fail("command", "is empty");
  s.restart = requireBoolean(context, "restart");
  s.restartThrottle = std::chrono::milliseconds(requireLong(context, "restartThrottle"));
  s.logStdErr = requireBoolean(context, "logStdErr");
  s.batchSize = static_cast<std::size_t>(requireInteger(context, "batchSize"));
  s.batchTimeout = std::chrono::milliseconds(requireLong(context, "batchTimeout"));
  s.charset = requireValue(context, "charset");
  if (!charsetIsAsciiCompatible(s.charset))
    context.fail("charset", "'" + s.charset +
                                "' is not a charset this system's iconv knows, or it is not "
                                "ASCII-compatible (UTF-16/32 are not supported); use UTF-8, "
                                "US-ASCII, ISO-8859-1, windows-1252 or another ASCII superset");
  s.maxLineLength = static_cast<std::size_t>(requireInteger(context, "maxLineLength"));
  s.putRetryTimeout = std::chrono::milliseconds(requireLong(context, "putRetryTimeout"));
  settings_ = std::move(s);
}

void ExecSource::start() {
  if (thread_.joinable()) return;
  if (settings_.argv.empty()) throw std::logic_error("exec source started before configure()");
  if (wakeFd_ < 0) {
    wakeFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wakeFd_ < 0) throw std::runtime_error("eventfd: " + errnoText(errno));
  }
  uint64_t drain;
  while (::read(wakeFd_, &drain, sizeof drain) > 0) {
  }
  stopping_.store(false, std::memory_order_release);
  readBuf_.resize(kReadBytes + settings_.maxLineLength);
  thread_ = threads::startWorker(kThreadName, *this, "exec", [this] { run(); });
}

void ExecSource::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
  const uint64_t one = 1;
  (void)!::write(wakeFd_, &one, sizeof one);
  thread_.join();
  if (wakeFd_ >= 0) ::close(wakeFd_);
  wakeFd_ = -1;
  logger().info("stopped");
}

bool ExecSource::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mutex_);
  return !cv_.wait_for(lock, d, [this] { return stopping(); });
}

void ExecSource::run() {
  bool first = true;
  while (!stopping()) {
    if (!first) {
      if (!settings_.restart) break;
      logger().info("restarting '", settings_.command, "' in ", settings_.restartThrottle.count(),
                    " ms");
      if (!sleepFor(settings_.restartThrottle)) break;
      sourceCounter().increment(kChildRestarts);
    }
    first = false;
    int outFd = -1, errFd = -1;
    if (!spawn(outFd, errFd)) continue;
    carry_ = 0;
    errLine_.clear();
    const PumpEnd end = pump(outFd, errFd);
    ::close(outFd);
    ::close(errFd);
    // Lines read before the child exited still go to the channels (unless stopping).
    if (!batch_.empty()) flush();
    reap(end == PumpEnd::Stopping || stopping());
  }
  if (!batch_.empty()) {
    sourceCounter().add(kLinesDropped, static_cast<int64_t>(batch_.size()));
    logger().error("dropped ", batch_.size(), " lines read but not yet accepted at stop");
    batch_.clear();
    pendingRaw_.clear();
  }
}

bool ExecSource::spawn(int& outFd, int& errFd) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    logger().error("pipe: ", errnoText(errno));
    sourceCounter().increment(kSpawnFailures);
    return false;
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    logger().error("pipe: ", errnoText(errno));
    ::close(out[0]);
    ::close(out[1]);
    sourceCounter().increment(kSpawnFailures);
    return false;
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  ::posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  ::posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &all);
  ::posix_spawnattr_setpgroup(&attr, 0);  // its own process group, killed as a whole on stop
  ::posix_spawnattr_setflags(
      &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  for (auto& a : settings_.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&fa);
  ::posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    logger().error("cannot run '", settings_.command, "' (", settings_.argv[0],
                   "): ", errnoText(rc));
    sourceCounter().increment(kSpawnFailures);  // after the log line, for observers of both
    return false;
  }
  childPid_.store(pid);
  sourceCounter().increment(kChildStarts);
  logger().info("running '", settings_.command, "' as pid ", pid);
  outFd = out[0];
  errFd = err[0];
  return true;
}

ExecSource::PumpEnd ExecSource::pump(int outFd, int errFd) {
  bool outOpen = true, errOpen = true;
  char errBuf[4096];
  while (outOpen || errOpen) {
    if (stopping()) return PumpEnd::Stopping;
    int timeout = -1;
    if (!batch_.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          batchStart_ + settings_.batchTimeout - Clock::now());
      if (left.count() <= 0) {
        flush();
        continue;
      }
      timeout = static_cast<int>(std::min<int64_t>(left.count() + 1, 1 << 30));
    }
    pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = {wakeFd_, POLLIN, 0};
    const nfds_t outIdx = outOpen ? n : 99;
    if (outOpen) fds[n++] = {outFd, POLLIN, 0};
    const nfds_t errIdx = errOpen ? n : 99;
    if (errOpen) fds[n++] = {errFd, POLLIN, 0};
    const int r = ::poll(fds, n, timeout);
    if (r < 0) {
      if (errno == EINTR) continue;
      logger().error("poll: ", errnoText(errno));
      return PumpEnd::Stopping;
    }
    if (fds[0].revents) return PumpEnd::Stopping;
    if (outIdx != 99 && fds[outIdx].revents) {
      char* at = readBuf_.data() + carry_;
      const ssize_t got = ::read(outFd, at, kReadBytes);
      if (got > 0) {
        onStdout(readBuf_.data(), carry_ + static_cast<std::size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        outOpen = false;
        if (carry_ > 0) {  // a last line without a newline, as BufferedReader.readLine gives it
          std::size_t len = carry_;
          if (readBuf_[len - 1] == '\r') --len;
          addLine(readBuf_.data(), len);
          carry_ = 0;
        }
      }
    }
    if (errIdx != 99 && fds[errIdx].revents) {
      const ssize_t got = ::read(errFd, errBuf, sizeof errBuf);
      if (got > 0) {
        onStderr(errBuf, static_cast<std::size_t>(got), false);
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        errOpen = false;
        onStderr(errBuf, 0, true);
      }
    }
  }
  return PumpEnd::Eof;
}

void ExecSource::onStdout(const char* data, std::size_t n) {
  const char* p = data;
  const char* end = data + n;
  // Only the new bytes can hold a newline: the carried prefix was searched already.
  const char* scan = data + carry_;
  while (true) {
    const char* nl =
        static_cast<const char*>(std::memchr(scan, '\n', static_cast<std::size_t>(end - scan)));
    if (!nl) break;
    std::size_t len = static_cast<std::size_t>(nl - p);
    if (len > 0 && p[len - 1] == '\r') --len;
    while (len > settings_.maxLineLength) {
      sourceCounter().increment(kLinesSplit);
      addLine(p, settings_.maxLineLength);
      p += settings_.maxLineLength;
      len -= settings_.maxLineLength;
    }
    addLine(p, len);
    p = nl + 1;
    scan = p;
  }
  // The unfinished rest: emit whole maxLineLength pieces, keep the remainder at the front.
  std::size_t rest = static_cast<std::size_t>(end - p);
  while (rest > settings_.maxLineLength) {
    sourceCounter().increment(kLinesSplit);
    addLine(p, settings_.maxLineLength);
    p += settings_.maxLineLength;
    rest -= settings_.maxLineLength;
  }
  if (rest > 0 && p != readBuf_.data()) std::memmove(readBuf_.data(), p, rest);
  carry_ = rest;
}

void ExecSource::onStderr(const char* data, std::size_t n, bool eof) {
  auto emit = [&] {
    ++stderrLines_;
    if (settings_.logStdErr) logger().info("stderr[", stderrLines_, "]: ", errLine_);
    errLine_.clear();
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (data[i] == '\n') {
      if (!errLine_.empty() && errLine_.back() == '\r') errLine_.pop_back();
      emit();
    } else if (errLine_.size() < kMaxStderrLine) {
      errLine_ += data[i];
    }
  }
  if (eof && !errLine_.empty()) emit();
}

void ExecSource::addLine(const char* p, std::size_t n) {
  if (batch_.empty()) batchStart_ = Clock::now();
  batch_.emplace_back().body.assign(p, n);
  pendingRaw_.append(p, n);
  pendingRaw_ += '\n';
  if (batch_.size() >= settings_.batchSize) flush();
}

void ExecSource::flush() {
  if (batch_.empty()) return;
  sdk::SourceCounter& c = sourceCounter();
  const std::size_t n = batch_.size();
  c.addToEventReceivedCount(static_cast<int64_t>(n));
  const auto firstTry = Clock::now();
  auto delay = kRetryMin;
  std::string lastError;
  while (true) {
    c.incrementAppendBatchReceivedCount();
    sdk::Result r = getChannelProcessor().processEventBatch(batch_);
    batch_.clear();
    if (r) {
      c.addToEventAcceptedCount(static_cast<int64_t>(n));
      c.incrementAppendBatchAcceptedCount();
      pendingRaw_.clear();
      return;
    }
    c.incrementChannelWriteFail();
    if (lastError.empty())
      logger().warn("channels refused ", n, " lines (", r.error(),
                    "); holding the command's output and retrying");
    lastError = r.error();
    const bool expired = settings_.putRetryTimeout.count() > 0 &&
                         Clock::now() - firstTry >= settings_.putRetryTimeout;
    if (expired || stopping() || !sleepFor(delay)) break;
    delay = std::min(delay * 2, kRetryMax);
    // Rebuild the refused lines from their raw copy.
    std::size_t from = 0;
    while (from < pendingRaw_.size()) {
      const std::size_t nl = pendingRaw_.find('\n', from);
      batch_.emplace_back().body.assign(pendingRaw_, from, nl - from);
      from = nl + 1;
    }
  }
  logger().error("dropped ", n, " lines of '", settings_.command, "': the channels refused them",
                 stopping() ? " until stop"
                            : " for " + std::to_string(settings_.putRetryTimeout.count()) + " ms",
                 " (last error: ", lastError, "). The command cannot be told; see the README");
  c.add(kLinesDropped, static_cast<int64_t>(n));  // after the log line, for observers of both
  pendingRaw_.clear();
  batch_.clear();
}

void ExecSource::reap(bool stop) {
  const pid_t pid = childPid_.load();
  if (pid <= 0) return;
  int status = 0;
  pid_t got = 0;
  if (stop) {
    ::kill(-pid, SIGTERM);
    const auto deadline = Clock::now() + kKillGrace;
    while ((got = ::waitpid(pid, &status, WNOHANG)) == 0 && Clock::now() < deadline) ::usleep(5000);
    // Always sweep the group: members that outlived the leader, or ignored SIGTERM.
    ::kill(-pid, SIGKILL);
  } else {
    // stdout closed: the child is exiting (or closed stdout on purpose). Wait for it, but stay
    // responsive to stop().
    while ((got = ::waitpid(pid, &status, WNOHANG)) == 0) {
      if (stopping()) return reap(true);
      pollfd w{wakeFd_, POLLIN, 0};
      ::poll(&w, 1, 20);
    }
  }
  if (got == 0) got = ::waitpid(pid, &status, 0);
  childPid_.store(0);
  if (got != pid) {
    logger().warn("could not reap pid ", pid, ": ", errnoText(errno));
    return;
  }
  if (WIFEXITED(status))
    logger().info("command '", settings_.command, "' (pid ", pid, ") exited with status ",
                  WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    logger().info("command '", settings_.command, "' (pid ", pid, ") was killed by signal ",
                  WTERMSIG(status), stop ? " (stopping)" : "");
}

}  // namespace sluice::plugins::exec
