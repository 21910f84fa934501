// One HTTP/1.1 connection as a net::Session: Beast's request_parser fed from the layer's byte
// view, the Handler called per request, answers written with Beast's serializer.
//
// The parser is made for each request and dropped once it was answered, so an idle keep-alive
// connection holds no parser and no body. A request is parsed in two steps: the head alone
// (eager off), so that the handler can refuse it or choose how much body to keep before any of
// it is read, then the body (eager on). Bytes after a complete request stay with the layer,
// which offers them again once the answer was written (maxPendingOutputBytes = 1).

// beast_util.hpp first: it turns Beast's assertions off before any Boost header (it says why).
#include "beast_util.hpp"

#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <exception>
#include <optional>

#include "http_server.hpp"
#include "net/log_throttle.hpp"

namespace sluice::plugins::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view viewOf(beast::string_view s) noexcept { return {s.data(), s.size()}; }

// Whether a request head (up to its blank line, or all that arrived of it) has a line ending in
// LF without CR.
bool hasBareLf(std::string_view head) noexcept {
  for (std::size_t i = head.find('\n'); i != std::string_view::npos; i = head.find('\n', i + 1))
    if (i == 0 || head[i - 1] != '\r') return true;
  return false;
}

// The path of a request target: origin form "/p?q", or absolute form "http://host/p?q".
void splitTarget(std::string_view target, std::string_view& path, std::string_view& query) {
  std::string_view t = target;
  const std::size_t scheme = t.find("://");
  if (!t.empty() && t.front() != '/' && scheme != std::string_view::npos) {
    const std::size_t slash = t.find('/', scheme + 3);
    t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
  }
  const std::size_t q = t.find('?');
  path = t.substr(0, q);
  query = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

}  // namespace

std::string_view Request::header(std::string_view name) const noexcept {
  for (const Header& h : headers)
    if (equalsIgnoreCase(h.name, name)) return h.value;
  return {};
}

const char* nameOf(HttpStat s) noexcept {
  switch (s) {
    case HttpStat::Requests:
      return "Requests";
    case HttpStat::HeadRejected:
      return "HeadRejected";
    case HttpStat::Malformed:
      return "Malformed";
    case HttpStat::BodyTooLarge:
      return "BodyTooLarge";
    case HttpStat::TimedOut:
      return "TimedOut";
    case HttpStat::HandlerFailures:
      return "HandlerFailures";
    case HttpStat::kCount:
      break;
  }
  return "?";
}

std::string_view reasonPhrase(int status) noexcept {
  if (status < 100 || status > 999) return {};
  return viewOf(bhttp::obsolete_reason(static_cast<bhttp::status>(status)));
}

std::string closingResponse(int status, std::string_view text) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  res.keep_alive(false);
  res.body().assign(text.data(), text.size());
  res.prepare_payload();
  std::string out;
  bhttp::serializer<false, bhttp::string_body> sr{res};
  detail::serialize(sr, false, [&](std::string_view b) { out.append(b); });
  return out;
}

// What every session of a server shares.
struct Server::Shared {
  Shared(Handler& h, const ServerOptions& o, sdk::Logger& l, HttpStats& s)
      : handler(h),
        o(o),
        log(l),
        stats(s),
        rejectLog(l, sdk::LogLevel::warn, std::chrono::seconds(10)),
        failLog(l, sdk::LogLevel::error, std::chrono::seconds(10)) {}
  Handler& handler;
  const ServerOptions& o;
  sdk::Logger& log;
  HttpStats& stats;
  net::ThrottledLog rejectLog;  // malformed requests, timeouts: the client's doing
  net::ThrottledLog failLog;    // handler exceptions: ours
};

namespace {

class ServerSession final : public net::Session {
 public:
  explicit ServerSession(Server::Shared& s) : s_(s) {}

  net::Step onData(net::Connection& c, std::string_view data) override {
    std::size_t pos = 0;
    if (!parser_) {
      // RFC 9112 2.2: empty lines before a request line are ignored (some clients send a CRLF
      // after a POST body).
      while (pos < data.size() && (data[pos] == '\r' || data[pos] == '\n')) ++pos;
      if (pos == data.size()) return net::Step::read(pos);
      begin(c);
    }
    if (!headDone_) {
      if (std::optional<net::Step> step = putHead(c, data, pos)) return *step;
      if (parser_->is_done()) return complete(c, pos);
      if (pos == data.size()) return net::Step::read(pos);
    }
    for (;;) {  // the body
      error_code ec;
      const std::size_t n =
          parser_->put(boost::asio::const_buffer(data.data() + pos, data.size() - pos), ec);
      pos += n;
      if (ec == bhttp::error::need_more) return net::Step::read(pos);
      if (ec) return refuse(c, ec);
      if (parser_->is_done()) return complete(c, pos);
      if (pos == data.size() || n == 0) return net::Step::read(pos);
    }
  }

  void onClose(net::Connection& c, net::CloseReason why) noexcept override {
    const bool partial = parser_.has_value() || !c.unconsumed().empty();
    if (!partial) return;
    try {
      if (why == net::CloseReason::RequestTimeout) {
        s_.stats.add(HttpStat::TimedOut);
        s_.rejectLog.emit("answered 408 to ", c.peer(), ": its request did not complete in time");
        fail(c, 408, "the request did not arrive in time\n");
      } else if (why == net::CloseReason::Stopping) {
        fail(c, 503, "the server is stopping; send the request again\n");
      }
    } catch (...) {
      // Out of memory for the last word: the close says enough.
    }
  }

 private:
  using Parser = bhttp::request_parser<detail::BoundedBody>;

  void begin(net::Connection& c) {
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(s_.o.maxHeaderBytes, UINT32_MAX)));
    parser_->body_limit(s_.o.maxBodyBytes);
    parser_->eager(false);  // the head alone first: see the top of this file
    headDone_ = false;
    c.setInRequest(true);
  }

  // The request as the handler sees it (views into the parser's message).
  void fillRequest(net::Connection& c, bool withBody) {
    auto& m = parser_->get();
    headers_.clear();
    for (const auto& f : m) headers_.push_back({viewOf(f.name_string()), viewOf(f.value())});
    req_ = Request{};
    req_.method = viewOf(m.method_string());
    req_.target = viewOf(m.target());
    splitTarget(req_.target, req_.path, req_.query);
    req_.version = m.version();
    req_.keepAlive = parser_->keep_alive();
    req_.headers = headers_;
    req_.connection = &c;
    if (withBody) {
      detail::BoundedBody::value_type& b = m.body();
      req_.body = &b.data;
      req_.bodyBytes = b.received;
      req_.bodyTruncated = b.truncated();
    }
  }

  // The head is in: check it, let the handler see it, answer "100 Continue" when asked to.
  // A value means the request was answered here.
  // Hands the request head to Beast in one put of exactly its bytes, once they are all here:
  // Beast parses the request line in its first put when it can, but once it asked for more it
  // waits for the whole head, and how far it looks ahead depends on the bytes after the head.
  // Fed whole heads and nothing more, it answers the same however the bytes were cut
  // (fuzz_http_session checks that). A head still without its blank line is handed over once it
  // is longer than maxHeaderBytes (431). Returns the step to take, or nothing when the head is
  // done and accepted (pos is then past it).
  std::optional<net::Step> putHead(net::Connection& c, std::string_view data, std::size_t& pos) {
    const std::string_view rest = data.substr(pos);
    const std::size_t blank = rest.find("\r\n\r\n");
    if (hasBareLf(blank == std::string_view::npos ? rest : rest.substr(0, blank))) {
      // Such a head never gets the blank line waited for below: refused at once, whatever way
      // its bytes arrived.
      s_.stats.add(HttpStat::Malformed);
      s_.rejectLog.emit("answered 400 to ", c.peer(), ": a bare LF in the request head");
      return fail(c, 400, "malformed request: a line of the head ends in LF without CR\n");
    }
    std::size_t len = 0;
    if (blank != std::string_view::npos)
      len = blank + 4;
    else if (rest.size() > s_.o.maxHeaderBytes)
      len = s_.o.maxHeaderBytes + 1;
    else
      return net::Step::read(pos);
    error_code ec;
    const std::size_t n = parser_->put(boost::asio::const_buffer(rest.data(), len), ec);
    if (ec == bhttp::error::need_more || (!ec && !parser_->is_header_done()))
      ec = blank == std::string_view::npos ? error_code(bhttp::error::header_limit)
                                           : error_code(bhttp::error::bad_line_ending);
    if (ec) return refuse(c, ec);
    pos += n;
    headDone_ = true;
    if (std::optional<net::Step> step = onHead(c, pos)) return step;
    parser_->eager(true);
    return std::nullopt;
  }

  std::optional<net::Step> onHead(net::Connection& c, std::size_t pos) {
    auto& m = parser_->get();
    if (m.version() != 10 && m.version() != 11) {
      s_.stats.add(HttpStat::Malformed);
      return fail(c, 505, "only HTTP/1.0 and HTTP/1.1 are served\n");
    }
    if (m.target().size() > s_.o.maxTargetBytes) {
      s_.stats.add(HttpStat::Malformed);
      return fail(
          c, 414,
          "the request target is longer than " + std::to_string(s_.o.maxTargetBytes) + " bytes\n");
    }
    std::size_t fields = 0;
    for (auto it = m.begin(); it != m.end(); ++it) ++fields;
    if (fields > s_.o.maxHeaders) {
      s_.stats.add(HttpStat::Malformed);
      return fail(c, 431, "more than " + std::to_string(s_.o.maxHeaders) + " header fields\n");
    }
    fillRequest(c, false);
    res_.reset();
    BodyPolicy policy;
    bool proceed = false;
    try {
      proceed = s_.handler.onHead(req_, res_, policy);
    } catch (const std::exception& e) {
      s_.stats.add(HttpStat::HandlerFailures);
      s_.failLog.emit("request handler failed on the head from ", c.peer(), ": ", e.what());
      return fail(c, 500, std::string("internal error: ") + e.what() + "\n");
    }
    if (!proceed) {
      s_.stats.add(HttpStat::HeadRejected);
      // A body still to come is not read: the connection cannot carry another request.
      if (!parser_->is_done()) res_.close = true;
      return answer(c, pos);
    }
    m.body().truncateAt = policy.truncateAt;
    if (!parser_->is_done() && m.version() == 11 &&
        equalsIgnoreCase(viewOf(m[bhttp::field::expect]), "100-continue"))
      c.send("HTTP/1.1 100 Continue\r\n\r\n");
    return std::nullopt;
  }

  net::Step complete(net::Connection& c, std::size_t pos) {
    fillRequest(c, true);
    res_.reset();
    s_.stats.add(HttpStat::Requests);
    try {
      s_.handler.onRequest(req_, res_);
    } catch (const std::exception& e) {
      s_.stats.add(HttpStat::HandlerFailures);
      s_.failLog.emit("request handler failed for ", c.peer(), ": ", e.what());
      res_.reset();
      res_.status = 500;
      res_.contentType = "text/plain; charset=utf-8";
      res_.body = std::string("internal error: ") + e.what() + "\n";
    }
    return answer(c, pos);
  }

  // Writes res_ for the current request, ends it, and says how the connection goes on.
  net::Step answer(net::Connection& c, std::size_t pos) {
    auto& m = parser_->get();
    const bool head = m.method() == bhttp::verb::head;
    const bool keepAlive = s_.o.keepAlive && !res_.close && parser_->keep_alive();
    write(c, m.version(), head, keepAlive);
    parser_.reset();  // frees the head and the body
    c.setInRequest(false);
    return keepAlive ? net::Step::read(pos) : net::Step::close(pos);
  }

  void write(net::Connection& c, unsigned version, bool head, bool keepAlive) {
    bhttp::response<bhttp::string_body> res;
    res.version(version);
    res.result(static_cast<unsigned>(res_.status));
    if (!s_.o.serverName.empty()) res.set(bhttp::field::server, s_.o.serverName);
    if (!res_.contentType.empty()) res.set(bhttp::field::content_type, res_.contentType);
    for (const auto& [k, v] : res_.headers) res.set(k, v);
    res.body() = std::move(res_.body);
    res.keep_alive(keepAlive);
    if (keepAlive && s_.o.announceKeepAlive) res.set(bhttp::field::connection, "keep-alive");
    res.prepare_payload();
    bhttp::serializer<false, bhttp::string_body> sr{res};
    detail::serialize(sr, head, [&](std::string_view b) { c.send(b); });
  }

  // Answers an error status and closes: the rest of this connection's input is not HTTP we can
  // follow (or the request was cut off).
  net::Step fail(net::Connection& c, int status, const std::string& text) {
    res_.reset();
    res_.status = status;
    res_.contentType = "text/plain; charset=utf-8";
    res_.body = text;
    write(c, parser_ && parser_->is_header_done() ? parser_->get().version() : 11, false, false);
    parser_.reset();
    c.setInRequest(false);
    return net::Step::close(0);
  }

  net::Step refuse(net::Connection& c, const error_code& ec) {
    if (ec == bhttp::error::body_limit) {
      s_.stats.add(HttpStat::BodyTooLarge);
      s_.rejectLog.emit("answered 413 to ", c.peer(), ": a request body over ", s_.o.maxBodyBytes,
                        " bytes");
      return fail(
          c, 413,
          "the request body is larger than " + std::to_string(s_.o.maxBodyBytes) + " bytes\n");
    }
    s_.stats.add(HttpStat::Malformed);
    if (ec == bhttp::error::header_limit) {
      s_.rejectLog.emit("answered 431 to ", c.peer(), ": a request head over ", s_.o.maxHeaderBytes,
                        " bytes");
      return fail(
          c, 431,
          "the request head is larger than " + std::to_string(s_.o.maxHeaderBytes) + " bytes\n");
    }
    if (ec == bhttp::error::bad_version) {
      s_.rejectLog.emit("answered 505 to ", c.peer(), ": not HTTP/1.x");
      return fail(c, 505, "only HTTP/1.0 and HTTP/1.1 are served\n");
    }
    s_.rejectLog.emit("answered 400 to ", c.peer(), ": ", ec.message());
    return fail(c, 400, "malformed request: " + ec.message() + "\n");
  }

  Server::Shared& s_;
  std::optional<Parser> parser_;
  bool headDone_ = false;
  Request req_;
  std::vector<Header> headers_;
  Response res_;
};

}  // namespace

Server::Server(Handler& handler, ServerOptions options, sdk::Logger& log)
    : handler_(handler),
      o_(std::move(options)),
      log_(log),
      shared_(std::make_unique<Shared>(handler_, o_, log_, stats_)) {}

Server::~Server() = default;

std::unique_ptr<net::Session> Server::open(net::Connection&) {
  return std::make_unique<ServerSession>(*shared_);
}

void Server::prepare(net::ListenerOptions& listener, const ServerOptions& options) {
  listener.maxPendingOutputBytes = 1;
  // A head up to its limit plus a read's worth of the next one, whatever the read chunk.
  listener.maxBufferedInputBytes = std::max(listener.maxBufferedInputBytes,
                                            2 * options.maxHeaderBytes + listener.readChunkBytes);
  if (listener.rejectReply.empty())
    listener.rejectReply = closingResponse(503, "too many connections; try again later\n");
}

}  // namespace sluice::plugins::http
