#include "core/monitoring/monitor.hpp"

#include <spdlog/spdlog.h>

#include "core/monitoring/flume_metrics.hpp"

namespace sluice::core::monitoring {

namespace {

int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

http::Response text(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.contentType = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

http::Response json(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.contentType = "application/json; charset=utf-8";
  r.body = std::move(body);
  return r;
}

// Prometheus asks with "application/openmetrics-text;...,text/plain;version=0.0.4;q=0.5,*/*";
// curl and browsers do not name text/plain. JSON stays the default, as in Flume.
bool wantsPrometheus(std::string_view accept) {
  if (accept.empty()) return false;
  bool text = accept.find("text/plain") != std::string_view::npos ||
              accept.find("application/openmetrics-text") != std::string_view::npos;
  return text && accept.find("application/json") == std::string_view::npos;
}

}  // namespace

Monitor::Monitor(MonitorOptions options, SnapshotProvider provider,
                 std::vector<PluginSnapshot> plugins,
                 std::vector<std::pair<std::string, std::string>> hostConfig, std::string version,
                 std::shared_ptr<spdlog::logger> log, const SecretRegistry* secrets)
    : options_(std::move(options)),
      provider_(std::move(provider)),
      plugins_(std::move(plugins)),
      hostConfig_(std::move(hostConfig)),
      version_(std::move(version)),
      log_(std::move(log)),
      secrets_(secrets),
      started_(std::chrono::steady_clock::now()) {}

Monitor::~Monitor() { stop(); }

std::vector<std::string> Monitor::knownSecrets() const {
  return secrets_ ? *secrets_->values() : std::vector<std::string>{};
}

sdk::Result Monitor::start() {
  if (options_.http) {
    server_ = std::make_unique<HttpServer>(
        options_.server, [this](const http::Request& r) { return handle(r); }, log_);
    sdk::Result r = server_->start();
    if (!r) {
      server_.reset();
      return r;
    }
    std::string host = options_.server.bind;
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
    log_->info("monitoring: listening on http://{}:{}", host, server_->port());
  }
  if (options_.statsd.enabled) {
    // Its own snapshots through the provider (thread-safe); never the server thread's last_.
    statsd_ = std::make_unique<StatsdReporter>(options_.statsd, provider_, log_);
    sdk::Result r = statsd_->start();
    if (!r) {
      statsd_.reset();
      if (server_) server_->stop();
      return r;
    }
  }
  if (options_.ganglia.enabled) {
    ganglia_ = std::make_unique<GangliaReporter>(options_.ganglia, provider_, log_);
    sdk::Result r = ganglia_->start();
    if (!r) {
      ganglia_.reset();
      stop();
      return r;
    }
  }
  return sdk::Result::success();
}

void Monitor::stop() {
  if (ganglia_) ganglia_->stop();
  if (statsd_) statsd_->stop();
  if (server_) server_->stop();
}

double Monitor::uptime() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

const Snapshot& Monitor::snapshot() {
  Snapshot fresh;
  if (provider_ && provider_(fresh)) {
    maskSnapshotSecrets(fresh, hostConfig_, knownSecrets());
    last_ = std::move(fresh);
  } else {
    last_.available = false;
    last_.takenAtMs = nowMillis();
  }
  return last_;
}

http::Response Monitor::handle(const http::Request& req) {
  if (req.method != "GET" && req.method != "HEAD") {
    http::Response r = text(405, "only GET and HEAD are allowed\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  const std::string_view path = req.path;
  if (path == "/health" || path == "/healthz") {
    return json(200, renderHealth(snapshot(), uptime(), version_));
  }
  if (path == "/ready" || path == "/readyz") {
    ReadyResult rr = evaluateReady(snapshot(), options_.ready, nowMillis());
    return json(rr.ready ? 200 : 503, renderReady(rr));
  }
  if (path == "/metrics" && options_.flumePrometheus) {
    http::Response r = text(200, renderFlumePrometheus(snapshot()));
    r.contentType = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  if (path == "/metrics" || path == "/metrics/prometheus") {
    const Snapshot& s = snapshot();
    if (path == "/metrics/prometheus" || wantsPrometheus(req.header("accept"))) {
      const ServerCounters sc = server_ ? server_->counters() : ServerCounters{};
      http::Response r = text(200, renderPrometheus(s, readProcessStats(), sc, uptime(), version_));
      r.contentType = "text/plain; version=0.0.4; charset=utf-8";
      return r;
    }
    return json(200, renderFlumeJson(s));
  }
  if (path == "/config") {
    const Snapshot& s = snapshot();
    return json(200, renderConfig(s, hostConfig_, secretValues(s, hostConfig_, knownSecrets())));
  }
  if (path == "/api/status") {
    const Snapshot& s = snapshot();
    ReadyResult rr = evaluateReady(s, options_.ready, nowMillis());
    return json(200, renderStatus(s, plugins_, rr, uptime(), version_));
  }
  if (const Asset* a = findAsset(path == "/" ? "/index.html" : path)) {
    http::Response r;
    r.contentType = a->contentType;
    r.body.assign(reinterpret_cast<const char*>(a->data), a->size);
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                           "script-src 'self'; connect-src 'self'");
    return r;
  }
  return text(
      404, "not found: " + std::string(path) +
               "\nendpoints: / /metrics /metrics/prometheus /health /ready /config /api/status\n");
}

}  // namespace sluice::core::monitoring
