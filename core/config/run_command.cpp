#include "core/config/run_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "plugins/common/text_util.hpp"

extern char** environ;

namespace sluice::core {

namespace {

constexpr std::size_t kMaxErr = 4096;
constexpr std::size_t kMaxOut = 1 << 20;  // a config value, not a data stream

void closeFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

CommandResult runCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CommandResult r;
  if (argv.empty()) {
    r.error = "no command";
    return r;
  }
  int outPipe[2] = {-1, -1}, errPipe[2] = {-1, -1};
  if (::pipe2(outPipe, O_CLOEXEC) != 0 || ::pipe2(errPipe, O_CLOEXEC) != 0) {
    r.error = plugins::text::errnoText(errno);
    closeFd(outPipe[0]);
    closeFd(outPipe[1]);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, outPipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, errPipe[1], 2);
  // The agent blocks SIGINT/SIGTERM/SIGHUP in every thread (AgentLoop::blockSignals): the child
  // must not inherit that mask, nor SIGPIPE ignored.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, dflt;
  sigemptyset(&none);
  sigemptyset(&dflt);
  sigaddset(&dflt, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &dflt);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  closeFd(outPipe[1]);
  closeFd(errPipe[1]);
  if (rc != 0) {
    r.error = plugins::text::errnoText(rc);
    closeFd(outPipe[0]);
    closeFd(errPipe[0]);
    return r;
  }
  r.started = true;

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (outPipe[0] >= 0 || errPipe[0] >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timedOut = true;
      break;
    }
    pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        std::string& to = i == 0 ? r.out : r.err;
        const std::size_t cap = i == 0 ? kMaxOut : kMaxErr;
        to.append(buf, std::min(static_cast<std::size_t>(got), cap - std::min(cap, to.size())));
      } else if (got == 0 || errno != EINTR) {
        closeFd(i == 0 ? outPipe[0] : errPipe[0]);
      }
    }
  }
  closeFd(outPipe[0]);
  closeFd(errPipe[0]);
  if (r.timedOut) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status))
    r.exitCode = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    r.exitCode = 128 + WTERMSIG(status);
  return r;
}

}  // namespace sluice::core
