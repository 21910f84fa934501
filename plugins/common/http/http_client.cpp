// Client: POST requests over net::TcpClient. The request head is serialized once by Beast (all
// but Content-Length, the only field that changes); the body goes out as a second buffer of the
// same write, without a copy. Answers are read with Beast's response_parser as they arrive.

#include "http_client.hpp"

// beast_util.hpp first: it turns Beast's assertions off before any Boost header (it says why).
#include "beast_util.hpp"

#include <array>
#include <charconv>
#include <limits>
#include <optional>

#include "net/tcp_client.hpp"
#include "text_util.hpp"

namespace sluice::plugins::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

namespace {

using text::lower;

constexpr uint64_t kBodyHeadBytes = 4096;

// Reads one answer; a 1xx interim answer (other than 101) is skipped.
class AnswerReader final : public net::ResponseReader {
 public:
  void reset() {
    fresh();
    seen_ = 0;
    untilEof_ = false;
    error_.clear();
  }

  Result onData(std::string_view data) override {
    seen_ += data.size();
    std::size_t pos = 0;
    for (;;) {
      error_code ec;
      const std::size_t n =
          parser_->put(boost::asio::const_buffer(data.data() + pos, data.size() - pos), ec);
      pos += n;
      if (ec == bhttp::error::need_more) return {pos, false, nullptr};
      if (ec) return bad(ec.message());
      if (parser_->is_header_done()) {
        const unsigned status = parser_->get().result_int();
        if (status < 100) return bad("status code " + std::to_string(status) + " below 100");
        if (status < 200 && status != 101 && parser_->is_done()) {
          fresh();  // an interim answer: the real one follows
          if (pos == data.size()) return {pos, false, nullptr};
          continue;
        }
        if (parser_->need_eof()) {
          // The body lasts until the server closes: the status is all we need, and the
          // connection cannot carry another request.
          untilEof_ = true;
          return {data.size(), true, nullptr};
        }
      }
      if (parser_->is_done()) return {pos, true, nullptr};
      if (pos == data.size() || n == 0) return {pos, false, nullptr};
    }
  }

  void fill(ClientResponse* out) const {
    const auto& m = parser_->get();
    out->status = static_cast<int>(m.result_int());
    out->reason.assign(m.reason().data(), m.reason().size());
    out->bodyHead = m.body().data;
    out->keepAlive = !untilEof_ && parser_->keep_alive();
  }
  std::size_t seen() const noexcept { return seen_; }

 private:
  // A new parser for the next answer. Bodies are read to the end, only their head kept. The
  // limit is the largest number rather than none: Boost 1.74's parser compares a Content-Length
  // with an empty optional as greater, and so refuses every answer that has a body.
  void fresh() {
    parser_.emplace();
    parser_->eager(true);
    parser_->body_limit(std::numeric_limits<uint64_t>::max());
    parser_->get().body().truncateAt = kBodyHeadBytes;
  }

  Result bad(std::string why) {
    error_ = std::move(why);
    return {0, false, error_.c_str()};
  }

  std::optional<bhttp::response_parser<detail::BoundedBody>> parser_;
  std::size_t seen_ = 0;
  bool untilEof_ = false;
  std::string error_;
};

net::ClientOptions tcpOptions(const Url& url, const ClientOptions& o) {
  net::ClientOptions t;
  t.host = url.host;
  t.port = url.port;
  t.connectTimeout = o.connectTimeout;
  t.requestTimeout = o.requestTimeout;
  t.backoffMin = std::chrono::milliseconds(0);  // the sink's runner backs off
  t.tls = o.tls;
  t.serverName = url.host;
  return t;
}

// The request head without Content-Length and without the blank line that ends it.
std::string headPrefix(const Url& url, const ClientOptions& o) {
  bhttp::request<bhttp::empty_body> req{bhttp::verb::post, url.target, 11};
  req.set(bhttp::field::host, url.authority);
  req.set(bhttp::field::user_agent, o.userAgent);
  req.set(bhttp::field::content_type, o.contentType);
  req.set(bhttp::field::accept, o.accept);
  bhttp::serializer<true, bhttp::empty_body> sr{req};
  std::string out;
  detail::serialize(sr, true, [&](std::string_view b) { out.append(b); });
  if (out.size() >= 2) out.resize(out.size() - 2);  // the final CRLF comes after Content-Length
  return out;
}

}  // namespace

bool parseUrl(std::string_view text, Url* out, std::string* error) {
  Url u;
  const std::size_t colon = text.find("://");
  const std::string scheme = lower(text.substr(0, colon));
  if (colon == std::string_view::npos || (scheme != "http" && scheme != "https")) {
    *error = "expected an http:// or https:// URL, got '" + std::string(text) + "'";
    return false;
  }
  u.https = scheme == "https";
  std::string_view rest = text.substr(colon + 3);
  const std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    u.hasUserInfo = true;
    authority.remove_prefix(at + 1);
  }
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *error = "unterminated IPv6 address in '" + std::string(text) + "'";
      return false;
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        *error = "unexpected text after the IPv6 address in '" + std::string(text) + "'";
        return false;
      }
      port = after.substr(1);
    }
  } else if (const std::size_t c = authority.rfind(':'); c != std::string_view::npos) {
    host = authority.substr(0, c);
    port = authority.substr(c + 1);
  }
  if (host.empty()) {
    *error = "no host in '" + std::string(text) + "'";
    return false;
  }
  u.host = std::string(host);
  u.port = u.https ? 443 : 80;
  if (!port.empty()) {
    int p = 0;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p < 1 || p > 65535) {
      *error = "bad port '" + std::string(port) + "' in '" + std::string(text) + "'";
      return false;
    }
    u.port = p;
  }
  if (const std::size_t hash = tail.find('#'); hash != std::string_view::npos)
    tail = tail.substr(0, hash);
  u.target = tail.empty() || tail.front() != '/' ? "/" + std::string(tail) : std::string(tail);
  for (const char ch : u.target)
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) {
      *error = "a space or control character in the path of '" + std::string(text) + "'";
      return false;
    }
  const bool v6 = host.find(':') != std::string_view::npos;
  u.authority = v6 ? "[" + u.host + "]" : u.host;
  if (u.port != (u.https ? 443 : 80)) u.authority += ":" + std::to_string(u.port);
  *out = std::move(u);
  return true;
}

struct Client::Impl {
  Impl(Url u, ClientOptions opts, sdk::Logger& log)
      : url(std::move(u)),
        o(std::move(opts)),
        prefix(headPrefix(url, o)),
        tcp(tcpOptions(url, o), log),
        where("POST " + std::string(url.https ? "https://" : "http://") + url.authority +
              url.target) {}

  Url url;
  ClientOptions o;
  std::string prefix;
  net::TcpClient tcp;
  std::string where;
  AnswerReader reader;
  std::string head;

  sdk::Result post(std::string_view body, ClientResponse* out) {
    for (int attempt = 0;; ++attempt) {
      bool reused = tcp.connected();
      if (reused && tcp.peerGone()) {
        tcp.close();
        reused = false;
      }
      if (!tcp.connected()) {
        if (sdk::Result r = tcp.connect(); !r)
          return sdk::Result::failure(where + ": " + r.error());
      }
      head.assign(prefix);
      head += "Content-Length: ";
      head += std::to_string(body.size());
      head += "\r\n\r\n";
      reader.reset();
      const int64_t timeoutsBefore = tcp.stats().get(net::Stat::RequestTimeouts);
      const std::array<std::string_view, 2> parts{head, body};
      sdk::Result r = tcp.request(parts, reader);
      if (r) {
        reader.fill(out);
        if (!out->keepAlive) tcp.close();
        return r;
      }
      // A kept-alive connection that the server closed just before our request (its idle
      // timeout) answers nothing: one more try on a new connection. Not after a timeout: that
      // server is alive and slow, and the request may be in its hands.
      if (attempt == 0 && reused && reader.seen() == 0 &&
          tcp.stats().get(net::Stat::RequestTimeouts) == timeoutsBefore)
        continue;
      return sdk::Result::failure(where + ": " + r.error());
    }
  }
};

Client::Client(Url url, ClientOptions options, sdk::Logger& log)
    : impl_(std::make_unique<Impl>(std::move(url), std::move(options), log)) {}

Client::~Client() = default;

sdk::Result Client::post(std::string_view body, ClientResponse* out) noexcept {
  try {
    return impl_->post(body, out);
  } catch (const std::exception& e) {
    impl_->tcp.close();
    return sdk::Result::failure(impl_->where + ": " + e.what());
  }
}

void Client::close() noexcept { impl_->tcp.close(); }
const Url& Client::url() const noexcept { return impl_->url; }
net::Stats& Client::stats() noexcept { return impl_->tcp.stats(); }

}  // namespace sluice::plugins::http
