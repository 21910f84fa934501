#pragma once
// -z/--zkConnString with -p/--zkBasePath: the agent's configuration is the content of the znode
// <base>/<agent> (Flume's PollingZooKeeperConfigurationProvider), Flume .properties text. A data
// watch on the znode makes an edit a hot reload, like a file edit; a poll every -i seconds backs
// the watch up. The client (Debian's libzookeeper_mt) reconnects by itself while its session
// lives; when the session expires (ZooKeeper was away longer than the session timeout) a new
// session is opened and the znode read again. Meanwhile the running configuration stays.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <spdlog/logger.h>

#include "core/config/config_source.hpp"

typedef struct _zhandle zhandle_t;  // NOLINT: zookeeper.h's own declaration

namespace sluice::core::cli {

class ZkConfigSource : public ConfigSource {
 public:
  // Opens the session (connecting goes on in the client's threads). Throws ConfigParseError on a
  // malformed base path or when the client cannot be created.
  ZkConfigSource(std::string connect, std::string basePath, const std::string& agent,
                 std::chrono::seconds pollInterval, std::shared_ptr<spdlog::logger> log);
  ~ZkConfigSource() override;
  ZkConfigSource(const ZkConfigSource&) = delete;
  ZkConfigSource& operator=(const ZkConfigSource&) = delete;

  // Waits (up to connectTimeout) for the session, then reads the znode and arms the watch.
  std::vector<ConfigDocument> fetch() override;
  std::string describe() const override { return name_; }
  void watch(std::function<void()> onChange) override;
  void unwatch() override;

  // Called by the client's event thread (a C callback); queues the event for run().
  void event(int type, int state);

 private:
  void open();  // a new session; handleMutex_ held
  // Reads the znode with a watch set; returns a ZooKeeper error code (ZOK...).
  int read(std::string& text);
  void run();

  std::string connect_;
  std::string path_;  // /base/agent
  std::string name_;  // zk://connect/base/agent
  std::chrono::seconds interval_;
  std::chrono::seconds connectTimeout_{15};
  std::shared_ptr<spdlog::logger> log_;

  std::mutex handleMutex_;  // guards handle_ (replaced when the session expires)
  zhandle_t* handle_ = nullptr;

  std::mutex mutex_;  // guards what follows
  std::condition_variable cv_;
  std::deque<std::pair<int, int>> events_;  // (type, state)
  std::string seen_;                        // the content last read
  bool stopping_ = false;
  std::function<void()> onChange_;
  std::thread thread_;
};

}  // namespace sluice::core::cli
