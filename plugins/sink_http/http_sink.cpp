#include "http_sink.hpp"

#include <span>
#include <stdexcept>

#include "config_keys.hpp"
#include "counter_layout.hpp"
#include "net/keys.hpp"
#include "net/tls.hpp"
#include "text_util.hpp"

namespace sluice::plugins::http_sink {

namespace {

// The TLS keys of a client, but for `ssl`: the endpoint's scheme says whether TLS is on.
std::vector<sdk::Key> tlsKeysWithoutSwitch() {
  std::vector<sdk::Key> keys = net::tlsClientKeys();
  const net::TlsKeyNames names;
  std::erase_if(keys, [&](const sdk::Key& k) { return k.name == names.enable; });
  return keys;
}

// "503" or "5XX" (Flume compares exactly these forms); anything else never matches a status.
bool matchesSomeStatus(const std::string& code) {
  if (code.size() != 3 || code[0] < '1' || code[0] > '9') return false;
  if (code[1] == 'X' && code[2] == 'X') return true;
  return code[1] >= '0' && code[1] <= '9' && code[2] >= '0' && code[2] <= '9';
}

void readOverrides(const sdk::Context& context, const std::string& prefix,
                   std::map<std::string, bool>& out) {
  const sdk::Context sub = context.getSubProperties(prefix + ".");
  for (const auto& entry : sub.parameters()) {
    const std::string& code = entry.first;
    if (!matchesSomeStatus(code))
      context.logger().warn(context.describe(prefix + "." + code),
                            ": matches no status (use a code like 503 or a class like 5XX, in "
                            "capitals); ignored, as Flume would never apply it");
    out[code] = sub.getBoolean(code, false);
  }
}

std::string statusText(const http::ClientResponse& r) {
  std::string s = "HTTP " + std::to_string(r.status);
  if (!r.reason.empty()) s += " " + r.reason;
  return s;
}

}  // namespace

const sdk::Schema& httpSinkSchema() {
  static const sdk::Schema schema = net::withKeys(
      {
          sdk::Key("endpoint")
              .string()
              .req()
              .doc("URL to POST each event's body to (http:// or https://)"),
          sdk::Key("connectTimeout")
              .integer()
              .def("5000")
              .range(1, 2147483647)
              .doc("Milliseconds to connect (with the TLS handshake)"),
          sdk::Key("requestTimeout")
              .integer()
              .def("5000")
              .range(1, 2147483647)
              .doc("Milliseconds to send an event and read the answer"),
          sdk::Key("contentTypeHeader")
              .string()
              .def("text/plain")
              .doc("Content-Type of every request"),
          sdk::Key("acceptHeader").string().def("text/plain").doc("Accept header of every request"),
          sdk::Key("defaultBackoff")
              .boolean()
              .def("true")
              .doc("Back off after an answer whose status has no backoff.CODE key"),
          sdk::Key("defaultRollback")
              .boolean()
              .def("true")
              .doc(
                  "Roll the event back (to send it again) on a status without a rollback.CODE key"),
          sdk::Key("defaultIncrementMetrics")
              .boolean()
              .def("false")
              .doc("Count EventDrainSuccessCount on a status without an incrementMetrics.CODE key"),
          sdk::Key("backoff.*")
              .boolean()
              .doc("Back off after this status (backoff.503) or class (backoff.5XX)"),
          sdk::Key("rollback.*")
              .boolean()
              .doc("Roll back on this status (rollback.503) or class (rollback.2XX)"),
          sdk::Key("incrementMetrics.*")
              .boolean()
              .doc("Count EventDrainSuccessCount on this status (incrementMetrics.200) or class"),
      },
      tlsKeysWithoutSwitch());
  return schema;
}

StatusPolicy::Decision StatusPolicy::decide(int status) const {
  const std::string code = std::to_string(status);
  const std::string group = code.substr(0, 1) + "XX";
  auto pick = [&](const std::map<std::string, bool>& m, bool def, const char* name,
                  const char* defName, std::string* rule) {
    for (const std::string& k : {code, group}) {
      if (auto it = m.find(k); it != m.end()) {
        if (rule) *rule = std::string(name) + "." + k;
        return it->second;
      }
    }
    if (rule) *rule = defName;
    return def;
  };
  Decision d{};
  d.rollback = pick(rollback, defaultRollback, "rollback", "defaultRollback", &d.rollbackRule);
  d.backoff = pick(backoff, defaultBackoff, "backoff", "defaultBackoff", &d.backoffRule);
  d.incrementMetrics = pick(incrementMetrics, defaultIncrementMetrics, "incrementMetrics",
                            "defaultIncrementMetrics", nullptr);
  return d;
}

HttpSink::HttpSink() {
  counter_layout::addInOrder(sinkCounter(), kEventRolledBackCount,
                             {"EventRolledBackCount", "EventDroppedCount", "EmptyEventCount"},
                             "HttpSink");
}

HttpSink::~HttpSink() { stop(); }

void HttpSink::configure(const sdk::Context& context) {
  const std::string endpoint = text::trimmed(context.requireString("endpoint"));
  http::Url url;
  std::string error;
  if (!http::parseUrl(endpoint, &url, &error)) context.fail("endpoint", error);
  if (url.hasUserInfo)
    context.logger().warn(context.describe("endpoint"),
                          ": user information in the URL is not sent (as Flume's HttpSink)");

  http::ClientOptions o;
  // The host checked the keys against httpSinkSchema() (ranges included) and filled in its
  // defaults.
  o.connectTimeout = std::chrono::milliseconds(requireInteger(context, "connectTimeout"));
  o.requestTimeout = std::chrono::milliseconds(requireInteger(context, "requestTimeout"));
  o.contentType = requireValue(context, "contentTypeHeader");
  o.accept = requireValue(context, "acceptHeader");
  if (url.https) {
    sdk::Context withTls = context;  // the scheme switches TLS on
    withTls.put(net::TlsKeyNames{}.enable, "true");
    o.tls = net::configureTls(withTls, net::TlsRole::Client);
  } else {
    // The host fills in schema defaults: only a value other than the default was written.
    for (const sdk::Key& k : tlsKeysWithoutSwitch())
      if (const auto v = context.getString(k.name); v && *v != k.defaultValue)
        context.logger().warn(context.describe(k.name), ": ignored, the endpoint is not https://");
  }

  StatusPolicy p;
  p.defaultBackoff = requireBoolean(context, "defaultBackoff");
  p.defaultRollback = requireBoolean(context, "defaultRollback");
  p.defaultIncrementMetrics = requireBoolean(context, "defaultIncrementMetrics");
  readOverrides(context, "backoff", p.backoff);
  readOverrides(context, "rollback", p.rollback);
  readOverrides(context, "incrementMetrics", p.incrementMetrics);
  // Flume's defaults roll back every answer, 200 included, until rollback.2XX (or .200) says
  // otherwise: a config that forgets it sends every event forever. Say so once.
  if (p.decide(200).rollback)
    context.logger().warn(context.describe("defaultRollback"),
                          ": a 200 answer rolls the event back and sends it again (Flume's "
                          "default); set rollback.2XX = false to keep delivered events delivered");

  url_ = std::move(url);
  client_ = std::move(o);
  policy_ = std::move(p);
}

void HttpSink::start() {
  if (http_) return;
  if (url_.host.empty()) throw std::runtime_error("start() before configure()");
  http_ = std::make_unique<http::Client>(url_, client_, logger());
  net::Stats& st = http_->stats();
  st.bind(net::Stat::Connects, sinkCounter(), sdk::SinkCounter::ConnectionCreatedCount);
  st.bind(net::Stat::ConnectFailures, sinkCounter(), sdk::SinkCounter::ConnectionFailedCount);
  st.bind(net::Stat::Closed, sinkCounter(), sdk::SinkCounter::ConnectionClosedCount);
  answerLog_ =
      std::make_unique<net::ThrottledLog>(logger(), sdk::LogLevel::warn, std::chrono::seconds(10));
}

void HttpSink::stop() {
  if (http_) http_->close();
  http_.reset();
}

sdk::Status HttpSink::process() {
  if (!http_) start();
  // Not sdk::SinkBatch: Flume's HttpSink counts a drain attempt only for an event with a body,
  // and SinkBatch counts every taken event as one.
  sdk::TransactionGuard tx(*getChannel());
  std::span<sdk::Event> taken;
  if (const sdk::Result r = tx->takeBatch(1, taken); !r) {
    sinkCounter().incrementChannelReadFail();
    return deliveryFailed("cannot take an event from the channel: " + r.error());
  }
  sinkCounter().countBatch(taken.size(), 1);
  if (taken.empty()) {
    (void)tx.commit();
    return sdk::Status::BACKOFF;
  }
  const sdk::Event& e = taken.front();
  if (e.body.empty()) {  // consumed without a request, as Flume does
    if (const sdk::Result r = tx.commit(); !r)
      return deliveryFailed("commit of an empty event failed: " + r.error());
    sinkCounter().increment(kEmptyEventCount);
    return sdk::Status::READY;
  }
  sinkCounter().addToEventDrainAttemptCount(1);
  http::ClientResponse res;
  if (const sdk::Result r = http_->post(e.body, &res); !r) {
    tx.rollback();
    sinkCounter().incrementEventWriteFail();
    sinkCounter().increment(kEventRolledBackCount);
    return deliveryFailed(r.error() + "; the event stays in the channel");
  }
  const StatusPolicy::Decision d = policy_.decide(res.status);
  const bool success = res.status >= 200 && res.status < 300;
  if (d.rollback) {
    tx.rollback();
    sinkCounter().increment(kEventRolledBackCount);
  } else if (const sdk::Result r = tx.commit(); !r) {
    return deliveryFailed("the channel's commit failed after " + statusText(res) + ": " +
                          r.error() + " (the event will be sent again)");
  }
  if (d.incrementMetrics) sinkCounter().addToEventDrainSuccessCount(1);
  if (!d.rollback && !success) {
    sinkCounter().increment(kEventDroppedCount);
    answerLog_->emit(statusText(res), " from ", url_.authority, url_.target,
                     ": the event is dropped (", d.rollbackRule, " = false)",
                     res.bodyHead.empty() ? "" : ": ", res.bodyHead.substr(0, 200));
  }
  if (d.backoff && (d.rollback || !success))
    return deliveryFailed(statusText(res) + " from " + url_.authority + url_.target + ": " +
                          (d.rollback ? "rolled back to be sent again (" + d.rollbackRule + ")"
                                      : "dropped (" + d.rollbackRule + " = false)") +
                          ", backing off (" + d.backoffRule + ")");
  if (d.rollback && !success)
    answerLog_->emit(statusText(res), " from ", url_.authority, url_.target,
                     ": rolled back to be sent again at once (", d.rollbackRule, ", ",
                     d.backoffRule, " = false)");
  return d.backoff ? sdk::Status::BACKOFF : sdk::Status::READY;
}

}  // namespace sluice::plugins::http_sink
