#include "http_source.hpp"

#include <stdexcept>

#include "blob_handler.hpp"
#include "config_keys.hpp"
#include "counter_layout.hpp"
#include "json_handler.hpp"
#include "listener.hpp"
#include "net/ip_filter.hpp"
#include "net/keys.hpp"
#include "net/tls.hpp"
#include "sluice/sdk/host_access.hpp"
#include "source_put.hpp"
#include "text_util.hpp"

namespace sluice::plugins::http_source {

namespace {

constexpr const char* kTextPlain = "text/plain; charset=utf-8";

// Flume 1.9 renamed three of the source's keys; the old spellings still work. The new one wins
// when both are set, as in Flume (a new key that only carries its default counts as unset, so
// that a host filling in schema defaults does not hide the old spelling).
std::string spelling(const sdk::Context& c, const std::string& key, const std::string& old,
                     const std::string& def) {
  if (!c.containsKey(old)) return key;
  if (!c.containsKey(key) || text::trimmed(c.getString(key, "")) == def) return old;
  return key;
}

net::TlsKeyNames tlsNames(const sdk::Context& c) {
  net::TlsKeyNames n;  // ssl, keystore, keystore-password, keystore-type, exclude-protocols ...
  n.enable = spelling(c, n.enable, "enableSSL", "false");
  n.keystorePassword = spelling(c, n.keystorePassword, "keystorePassword", "");
  n.excludeProtocols = spelling(c, n.excludeProtocols, "excludeProtocols", "SSLv3");
  return n;
}

// The charset parameter of a Content-Type value, unquoted; empty when there is none.
std::string_view charsetOf(std::string_view contentType) {
  std::size_t at = contentType.find(';');
  while (at != std::string_view::npos) {
    std::string_view param = contentType.substr(at + 1);
    at = contentType.find(';', at + 1);
    param = param.substr(0, param.find(';'));
    while (!param.empty() && (param.front() == ' ' || param.front() == '\t'))
      param.remove_prefix(1);
    const std::size_t eq = param.find('=');
    if (eq == std::string_view::npos || text::lower(param.substr(0, eq)) != "charset") continue;
    std::string_view v = param.substr(eq + 1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return {};
}

}  // namespace

const sdk::Schema& httpSourceSchema() {
  static const sdk::Schema schema = net::withKeys(
      {
          net::bindKey("bind", "0.0.0.0"),
          net::portKey(),
          sdk::Key("handler")
              .oneOf({JsonHandler::kType, "JSONHandler", "json", BlobHandler::kType, "BlobHandler",
                      "blob"})
              .component(sdk::ComponentKind::HttpHandler)
              .def(JsonHandler::kType)
              .doc("Turns a request into events: Flume's JSONHandler or BlobHandler class name, "
                   "or the type of a handler plugin (its keys below handler.)"),
          sdk::Key("handler.*").string().doc("Keys of the handler, e.g. handler.maxBlobLength"),
          sdk::Key("maxBodyBytes")
              .longValue()
              .def("16777216")
              .range(1, 9e15)
              .doc("Largest request body; a larger one is answered 413 without being read"),
          sdk::Key("requestTimeout")
              .longValue()
              .def("60000")
              .range(0, 86400000)
              .doc("Milliseconds a request may take to arrive; a slower one gets 408; 0: no limit"),
          sdk::Key("max-connections")
              .integer()
              .def("1000")
              .range(1, 1000000)
              .doc("Open connections allowed; further clients get 503 and are closed"),
          sdk::Key("ServerConnector.idleTimeout")
              .longValue()
              .def("30000")
              .range(0, 86400000)
              .doc("Milliseconds after which a connection that sends nothing is closed; 0: never"),
          sdk::Key("HttpConfiguration.requestHeaderSize")
              .integer()
              .def("8192")
              .range(256, 1048576)
              .doc("Largest request head in bytes; a larger one is answered 431"),
          sdk::Key("enableSSL").boolean().doc("Flume's older spelling of ssl"),
          sdk::Key("keystorePassword")
              .string()
              .isSecret()
              .doc("Flume's older spelling of keystore-password"),
          sdk::Key("excludeProtocols").string().doc("Flume's older spelling of exclude-protocols"),
          sdk::Key("QueuedThreadPool.*")
              .flumeIgnored("Jetty's thread pool; sluice serves "
                            "requests on a few I/O threads"),
          sdk::Key("HttpConfiguration.*")
              .flumeIgnored("Jetty settings other than requestHeaderSize"),
          sdk::Key("ServerConnector.*").flumeIgnored("Jetty settings other than idleTimeout"),
          sdk::Key("SslContextFactory.*").flumeIgnored("Jetty's TLS settings; use the TLS keys"),
      },
      net::tlsServerKeys(), net::ipFilterKeys());
  return schema;
}

std::unique_ptr<HttpSourceHandler> makeHandler(const std::string& type) {
  // Matched as the host matched the key's values: case-insensitively.
  const std::string t = text::lower(text::trimmed(type));
  if (t == text::lower(JsonHandler::kType) || t == "jsonhandler" || t == "json")
    return std::make_unique<JsonHandler>();
  if (t == text::lower(BlobHandler::kType) || t == "blobhandler" || t == "blob")
    return std::make_unique<BlobHandler>();
  return nullptr;
}

HttpSource::HttpSource() {
  counter_layout::addInOrder(
      sourceCounter(), kConnectionRejectedCount,
      {"ConnectionRejectedCount", "ConnectionIdleClosedCount", "ConnectionDeniedCount",
       "TlsHandshakeFailedCount", "RequestTimedOutCount", "MalformedRequestCount",
       "RequestTooLargeCount", "RequestRefusedCount"},
      "HttpSource");
  // The layer counts into these as well (bound once: the service keeps them across restarts).
  sdk::SourceCounter& sc = sourceCounter();
  net::Stats& ns = service_.stats();
  ns.bind(net::Stat::Open, sc, sdk::SourceCounter::OpenConnectionCount);
  ns.bind(net::Stat::Rejected, sc, kConnectionRejectedCount);
  ns.bind(net::Stat::IdleClosed, sc, kConnectionIdleClosedCount);
  ns.bind(net::Stat::Denied, sc, kConnectionDeniedCount);
  ns.bind(net::Stat::TlsFailed, sc, kTlsHandshakeFailedCount);
}

HttpSource::~HttpSource() { stop(); }

void HttpSource::configure(const sdk::Context& context) {
  // The host checked the keys against httpSourceSchema() (ranges included) and filled in its
  // defaults.
  net::ListenerOptions lo;
  lo.bind = text::trimmed(context.requireString("bind"));
  lo.port = static_cast<int>(requireInteger(context, "port"));
  lo.maxConnections = static_cast<std::size_t>(requireInteger(context, "max-connections"));
  lo.idleTimeout = std::chrono::milliseconds(requireLong(context, "ServerConnector.idleTimeout"));
  lo.requestTimeout = std::chrono::milliseconds(requireLong(context, "requestTimeout"));
  lo.writeTimeout = std::chrono::milliseconds(60000);
  lo.tls = net::configureTls(context, net::TlsRole::Server, tlsNames(context));
  lo.ipFilter = net::configureIpFilter(context);

  http::ServerOptions so;
  so.maxHeaderBytes =
      static_cast<std::size_t>(requireInteger(context, "HttpConfiguration.requestHeaderSize"));
  so.maxTargetBytes = so.maxHeaderBytes;
  so.maxBodyBytes = static_cast<uint64_t>(requireLong(context, "maxBodyBytes"));

  const std::string type = text::trimmed(context.requireString("handler"));
  // A handler plugin: the host made and configured it with the handler.* keys.
  std::shared_ptr<HttpSourceHandler> handler = context.component<HttpSourceHandler>("handler");
  if (!handler) {
    std::unique_ptr<HttpSourceHandler> builtIn = makeHandler(type);
    if (!builtIn)
      context.fail("handler", "unknown handler '" + type + "'; built in: " + JsonHandler::kType +
                                  " and " + BlobHandler::kType + ", or a handler plugin's type");
    // For a built-in handler the source is the host: it names it, lends it its logger and
    // configures it with the handler.* keys, through the entry points the host uses.
    sdk::HostAccess::attach(*builtIn, getName() + ".handler", &logger());
    sdk::Context sub = context.getSubProperties("handler.");
    sub.setLogger(&logger());
    if (const sdk::Result r = sdk::HostAccess::configure(*builtIn, sub); !r)
      throw sdk::ConfigError(r.error());
    handler = std::move(builtIn);
  }

  listen_ = std::move(lo);
  http_ = std::move(so);
  handler_ = std::move(handler);
  handlerType_ = type;
}

void HttpSource::start() {
  if (service_.running()) return;
  if (!handler_) throw std::runtime_error("start() before configure()");
  badRequestLog_ =
      std::make_unique<net::ThrottledLog>(logger(), sdk::LogLevel::warn, std::chrono::seconds(10));
  channelFullLog_ =
      std::make_unique<net::ThrottledLog>(logger(), sdk::LogLevel::warn, std::chrono::seconds(10));
  sdk::SourceCounter& sc = sourceCounter();
  net::ListenerOptions lo = listen_;
  http::Server::prepare(lo, http_);
  const sdk::Result r = service_.start("http", 0, lo, logger(), [this, &sc](std::size_t ioThreads) {
    workers_.clear();
    workers_.resize(ioThreads);
    auto server =
        std::make_unique<http::Server>(static_cast<http::Handler&>(*this), http_, logger());
    http::HttpStats& hs = server->stats();
    hs.bind(http::HttpStat::TimedOut, sc, kRequestTimedOutCount);
    hs.bind(http::HttpStat::Malformed, sc, kMalformedRequestCount);
    hs.bind(http::HttpStat::BodyTooLarge, sc, kRequestTooLargeCount);
    hs.bind(http::HttpStat::HeadRejected, sc, kRequestRefusedCount);
    return server;
  });
  if (!r) throw std::runtime_error(r.error());
  logger().info("listening on ", service_.address(), listen_.tls ? " (TLS)" : "", " with ",
                handlerType_);
}

void HttpSource::stop() { service_.stop(); }

bool HttpSource::onHead(const http::Request& head, http::Response& res, http::BodyPolicy& body) {
  // Flume's servlet serves POST and GET alike (and HEAD through GET); its constraints forbid
  // TRACE and OPTIONS; the servlet refuses the rest.
  if (head.method == "POST" || head.method == "GET" || head.method == "HEAD") {
    body.truncateAt = handler_->maxBodyBytes();
    return true;
  }
  res.contentType = kTextPlain;
  if (head.method == "TRACE" || head.method == "OPTIONS") {
    res.status = 403;
    res.body = "Forbidden: " + std::string(head.method) + " is not allowed\n";
  } else {
    res.status = 405;
    res.headers.emplace_back("Allow", "GET, HEAD, POST");
    res.body = "HTTP method " + std::string(head.method) + " is not supported\n";
  }
  return false;
}

void HttpSource::onRequest(http::Request& req, http::Response& res) {
  Worker& w = workers_[req.connection->worker()];
  w.headers.clear();
  for (const http::Header& h : req.headers) w.headers.push_back({h.name, h.value});
  HttpSourceRequest view;
  view.method = req.method;
  view.path = req.path;
  view.query = req.query;
  view.contentType = req.header("content-type");
  view.characterEncoding = charsetOf(view.contentType);
  view.remoteAddress = req.connection->peerIp();
  view.headers = w.headers;
  view.body = req.body;
  view.bodyTruncated = req.bodyTruncated;

  sdk::EventBatch& batch = w.batch;
  batch.clear();
  const HandlerResult got = handler_->handle(view, batch);
  if (!got) {
    batch.clear();
    sourceCounter().incrementEventReadFail();
    res.status = got.status;
    res.contentType = kTextPlain;
    if (got.status == 400) {
      badRequestLog_->emit("bad request from ", req.connection->peer(), ": ", got.message);
      res.body = "Bad request from client. " + got.message + "\n";
    } else {
      badRequestLog_->emit("the handler failed on a request from ", req.connection->peer(), ": ",
                           got.message);
      res.body = "Deserializer threw unexpected exception. " + got.message + "\n";
    }
    return;
  }
  if (batch.empty()) {  // a valid request without events: an empty batch, counted as Flume does
    sourceCounter().incrementAppendBatchReceivedCount();
    sourceCounter().incrementAppendBatchAcceptedCount();
    return;
  }
  const sdk::Result put = sources::putBatch(getChannelProcessor(), sourceCounter(), batch);
  if (!put) {
    channelFullLog_->emit("answered 503 to ", req.connection->peer(),
                          ": the channel did not take the request's events (", put.error(),
                          "); consider a larger channel or faster sinks");
    res.status = 503;
    res.contentType = kTextPlain;
    res.body = "Error appending event to channel. Channel might be full. " + put.error() + "\n";
  }
}

}  // namespace sluice::plugins::http_source
