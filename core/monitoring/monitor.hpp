#pragma once
// The monitoring service: routes HTTP requests to the renderers and serves the status page.
// Owned by the CLI; runs its own server thread. Everything it serves is masked first: secret
// values (by key name and those in `secrets`) and URL passwords.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/fwd.h>

#include "core/monitoring/ganglia.hpp"
#include "core/monitoring/http_server.hpp"
#include "core/monitoring/render.hpp"
#include "core/monitoring/snapshot.hpp"
#include "core/monitoring/statsd.hpp"

namespace sluice::core::monitoring {

struct MonitorOptions {
  bool http = true;  // serve the HTTP endpoints (false: only the push reporters, if enabled)
  // -Dflume.monitoring.type names Flume's PrometheusHTTPMetricsServer: /metrics serves the
  // Prometheus text in Flume's naming (renderFlumePrometheus) instead of Flume's JSON.
  bool flumePrometheus = false;
  ServerOptions server;
  ReadyOptions ready;
  StatsdOptions statsd;
  GangliaOptions ganglia;
};

// Fills a snapshot of the agent, or returns false when the agent cannot be read right now (it is
// starting, reloading or stopping); the last snapshot is then served, marked unavailable. Called
// on the server thread; must not block for long.
using SnapshotProvider = std::function<bool(Snapshot&)>;

class Monitor {
 public:
  Monitor(MonitorOptions options, SnapshotProvider provider, std::vector<PluginSnapshot> plugins,
          std::vector<std::pair<std::string, std::string>> hostConfig, std::string version,
          std::shared_ptr<spdlog::logger> log, const SecretRegistry* secrets = nullptr);
  ~Monitor();

  // Binds and logs "monitoring: listening on http://ADDR:PORT" (options.http), and starts the
  // StatsD and Ganglia reporters (options.statsd.enabled, options.ganglia.enabled).
  sdk::Result start();
  void stop();
  int port() const { return server_ ? server_->port() : 0; }

  // The request router; public so that tests can call it without sockets.
  http::Response handle(const http::Request& req);

 private:
  const Snapshot& snapshot();
  std::vector<std::string> knownSecrets() const;
  double uptime() const;

  MonitorOptions options_;
  SnapshotProvider provider_;
  std::vector<PluginSnapshot> plugins_;
  std::vector<std::pair<std::string, std::string>> hostConfig_;
  std::string version_;
  std::shared_ptr<spdlog::logger> log_;
  // Secret values the configuration's schemas declare (owned by the CLI's LogHub, which outlives
  // the monitor); null in tests.
  const SecretRegistry* secrets_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<StatsdReporter> statsd_;
  std::unique_ptr<GangliaReporter> ganglia_;
  Snapshot last_;  // server thread only
  std::chrono::steady_clock::time_point started_;
};

// The status page's files, compiled in (status_assets.cpp is generated from assets/).
struct Asset {
  const char* path;
  const char* contentType;
  const unsigned char* data;
  std::size_t size;
};
const Asset* findAsset(std::string_view path);

}  // namespace sluice::core::monitoring
