#include "core/cli/zk_config_source.hpp"

// The synchronous calls (zoo_wget...) are declared only for the multi-threaded library.
#ifndef THREADED
#define THREADED
#endif
#include <zookeeper/zookeeper.h>

#include <vector>

namespace sluice::core::cli {

namespace {

constexpr int kSessionTimeoutMs = 10000;
constexpr int kMaxConfigBytes = 1024 * 1024;  // ZooKeeper's own znode limit (jute.maxbuffer)

void onZkEvent(zhandle_t*, int type, int state, const char*, void* context) {
  static_cast<ZkConfigSource*>(context)->event(type, state);
}

std::string joinPath(std::string base, const std::string& agent) {
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  if (base == "/") base.clear();
  return base + "/" + agent;
}

}  // namespace

ZkConfigSource::ZkConfigSource(std::string connect, std::string basePath, const std::string& agent,
                               std::chrono::seconds pollInterval,
                               std::shared_ptr<spdlog::logger> log)
    : connect_(std::move(connect)), interval_(pollInterval), log_(std::move(log)) {
  if (basePath.empty()) basePath = "/flume";  // Flume's default zkBasePath
  if (basePath.front() != '/')
    throw ConfigParseError("-p/--zkBasePath '" + basePath +
                           "': expected an absolute znode path "
                           "such as /flume");
  if (agent.empty())
    throw ConfigParseError(
        "-z/--zkConnString: pass -n/--name, which names the znode "
        "<zkBasePath>/<agent>");
  path_ = joinPath(basePath, agent);
  name_ = "zk://" + connect_ + path_;
  // The client library prints to stderr itself, bypassing sluice's log (and its secret
  // masking): while a server is away, two lines every few hundred ms. What matters (connection
  // lost, back, session expired) is logged here; the library speaks only at debug level. Its
  // level is process-wide: one setting for every client, which is this one.
  zoo_set_debug_level(log_->should_log(spdlog::level::debug) ? ZOO_LOG_LEVEL_WARN
                                                             : static_cast<ZooLogLevel>(0));
  std::lock_guard lock(handleMutex_);
  open();
  thread_ = std::thread([this] { run(); });
}

ZkConfigSource::~ZkConfigSource() {
  unwatch();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(handleMutex_);
  // Joins the client's threads: no callback reaches `this` afterwards.
  if (handle_) zookeeper_close(handle_);
}

void ZkConfigSource::open() {
  if (handle_) zookeeper_close(handle_);
  handle_ = zookeeper_init(connect_.c_str(), onZkEvent, kSessionTimeoutMs, nullptr, this, 0);
  if (!handle_)
    throw ConfigParseError("-z/--zkConnString '" + connect_ +
                           "': cannot create a ZooKeeper client (expected host:port[,host:port])");
}

void ZkConfigSource::event(int type, int state) {
  {
    std::lock_guard lock(mutex_);
    events_.emplace_back(type, state);
  }
  cv_.notify_all();
}

int ZkConfigSource::read(std::string& text) {
  std::vector<char> buf(kMaxConfigBytes);
  int len = static_cast<int>(buf.size());
  std::lock_guard lock(handleMutex_);
  const int rc = zoo_wget(handle_, path_.c_str(), onZkEvent, this, buf.data(), &len, nullptr);
  if (rc == ZNONODE) {
    // Armed for the znode's creation.
    (void)zoo_wexists(handle_, path_.c_str(), onZkEvent, this, nullptr);
    return rc;
  }
  if (rc == ZOK) text.assign(buf.data(), len > 0 ? static_cast<std::size_t>(len) : 0);
  return rc;
}

std::vector<ConfigDocument> ZkConfigSource::fetch() {
  const auto deadline = std::chrono::steady_clock::now() + connectTimeout_;
  for (;;) {
    {
      std::lock_guard lock(handleMutex_);
      if (zoo_state(handle_) == ZOO_CONNECTED_STATE) break;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      throw ConfigParseError("cannot read the configuration from " + name_ +
                             ": no ZooKeeper server at " + connect_ + " answered within " +
                             std::to_string(connectTimeout_.count()) + " s");
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  std::string text;
  const int rc = read(text);
  if (rc == ZNONODE)
    throw ConfigParseError("cannot read the configuration from " + name_ + ": the znode " + path_ +
                           " does not exist (write the agent's .properties text there)");
  if (rc != ZOK)
    throw ConfigParseError("cannot read the configuration from " + name_ + ": " + zerror(rc));
  {
    std::lock_guard lock(mutex_);
    seen_ = text;
  }
  return {{name_, std::move(text), false}};
}

void ZkConfigSource::watch(std::function<void()> onChange) {
  {
    std::lock_guard lock(mutex_);
    onChange_ = std::move(onChange);
    // An edit between fetch() and now was seen by no one (run() ignores events while nothing
    // watches): one read compares the znode with what fetch() returned.
    events_.emplace_back(ZOO_CHANGED_EVENT, ZOO_CONNECTED_STATE);
  }
  cv_.notify_all();
}

void ZkConfigSource::unwatch() {
  std::lock_guard lock(mutex_);
  onChange_ = nullptr;
}

// Handles the client's events on a thread of its own (a ZooKeeper callback must not block or
// close the handle): a changed znode, a new connection (the znode may have changed meanwhile)
// and an expired session lead to a read; a content that differs from the last one read calls
// onChange. A poll every interval catches what a lost watch would miss.
void ZkConfigSource::run() {
  bool connected = true;  // whether the last session event said so; logs transitions once
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const bool woke =
        cv_.wait_for(lock, interval_, [this] { return stopping_ || !events_.empty(); });
    if (stopping_) break;
    bool check = !woke;  // the poll
    bool expired = false;
    while (!events_.empty()) {
      const auto [type, state] = events_.front();
      events_.pop_front();
      if (type == ZOO_SESSION_EVENT) {
        if (state == ZOO_EXPIRED_SESSION_STATE) {
          expired = true;
        } else if (state == ZOO_CONNECTED_STATE) {
          if (!connected) log_->info("ZooKeeper {}: connected again", connect_);
          connected = true;
          check = true;
        } else if (connected) {
          connected = false;
          log_->warn(
              "ZooKeeper {}: connection lost; the running configuration stays while the "
              "client reconnects",
              connect_);
        }
      } else if (type == ZOO_CHANGED_EVENT || type == ZOO_CREATED_EVENT ||
                 type == ZOO_DELETED_EVENT) {
        check = true;
      }
    }
    if (expired) {
      lock.unlock();
      log_->warn("ZooKeeper {}: session expired; opening a new one", connect_);
      try {
        std::lock_guard hl(handleMutex_);
        open();
      } catch (const std::exception& e) {
        log_->error("{}", e.what());
      }
      lock.lock();
      continue;  // the new session's CONNECTED event leads to the read
    }
    if (!check || !onChange_) continue;  // not watching (yet): fetch() reads what is current
    lock.unlock();
    std::string text;
    const int rc = read(text);
    lock.lock();
    if (rc == ZOK && text != seen_) {
      seen_ = text;
      auto notify = onChange_;
      lock.unlock();
      log_->info("znode {} changed", path_);
      notify();
      lock.lock();
    } else if (rc == ZNONODE) {
      log_->warn("znode {} does not exist; the running configuration stays", path_);
    }
  }
}

}  // namespace sluice::core::cli
