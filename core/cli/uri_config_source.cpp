#include "core/cli/uri_config_source.hpp"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <ctime>
#include <filesystem>
#include <optional>

#include "plugins/common/file_util.hpp"
#include "plugins/common/text_util.hpp"

namespace sluice::core::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

struct UriConfigSource::Target {
  std::string text;    // as given, for messages and as the documents' name
  std::string scheme;  // http, https, file
  std::string host;
  std::string port;
  std::string target;  // path and query; for file: the path
  bool toml = false;
};

namespace {

using plugins::text::lower;

constexpr std::size_t kMaxBody = std::size_t{16} * 1024 * 1024;

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Flume reads the format from the URI's path: .properties (or no extension) are properties;
// sluice adds .toml. The query is not part of the path.
bool tomlPath(std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));
  return isTomlPath(target);
}

UriConfigSource::Target parseTarget(const std::string& text) {
  UriConfigSource::Target t;
  t.text = text;
  const auto sep = text.find("://");
  if (sep == std::string::npos)
    throw ConfigParseError("--conf-uri '" + text +
                           "': expected http://, https:// or file:// (for a local file, -f "
                           "FILE is the same)");
  t.scheme = lower(text.substr(0, sep));
  std::string rest = text.substr(sep + 3);
  if (t.scheme == "file") {
    t.target = rest;  // file:///etc/a.properties -> /etc/a.properties
    t.toml = tomlPath(rest);
    return t;
  }
  if (t.scheme != "http" && t.scheme != "https")
    throw ConfigParseError("--conf-uri '" + text + "': scheme '" + t.scheme +
                           "' is not supported; expected http://, https:// or file:// (Flume's "
                           "classpath: has no meaning for sluice)");
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  t.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.find('@') != std::string::npos)
    throw ConfigParseError(
        "--conf-uri: put the user and password in --conf-user and "
        "--conf-password, not in the URI");
  std::string host = authority;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string::npos) throw ConfigParseError("--conf-uri '" + text + "': bad host");
    t.host = host.substr(1, close - 1);
    if (close + 1 < host.size() && host[close + 1] == ':') t.port = host.substr(close + 2);
  } else {
    const auto colon = host.rfind(':');
    t.host = host.substr(0, colon);
    if (colon != std::string::npos) t.port = host.substr(colon + 1);
  }
  if (t.host.empty()) throw ConfigParseError("--conf-uri '" + text + "': no host");
  if (t.port.empty()) t.port = t.scheme == "https" ? "443" : "80";
  for (char c : t.port)
    if (c < '0' || c > '9') throw ConfigParseError("--conf-uri '" + text + "': bad port");
  t.toml = tomlPath(t.target);
  return t;
}

// One GET over a plain or TLS stream. Every step runs asynchronously on `ioc` so that the
// tcp_stream's deadline bounds it (a synchronous Asio read has no timeout).
template <class Stream>
beast::error_code exchange(
    asio::io_context& ioc, Stream& stream, http::request<http::empty_body>& req,
    http::response_parser<http::string_body>& parser,
    const std::function<void(std::function<void(beast::error_code)>)>& handshake) {
  beast::error_code result;
  beast::flat_buffer buffer;
  handshake([&](beast::error_code ec) {
    if (ec) {
      result = ec;
      return;
    }
    http::async_write(stream, req, [&](beast::error_code wec, std::size_t) {
      if (wec) {
        result = wec;
        return;
      }
      http::async_read(stream, buffer, parser,
                       [&](beast::error_code rec, std::size_t) { result = rec; });
    });
  });
  ioc.run();
  return result;
}

// An HTTP date (RFC 7231's IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") as seconds since the
// epoch; nullopt when it is not one.
std::optional<std::time_t> httpDate(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  return timegm(&tm);
}

std::string describeError(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  return ec.message();
}

}  // namespace

UriConfigSource::UriConfigSource(const std::vector<std::string>& uris, UriSourceOptions options,
                                 std::shared_ptr<spdlog::logger> log)
    : options_(std::move(options)), log_(std::move(log)) {
  for (const auto& u : uris) targets_.push_back(parseTarget(u));
  if (!options_.user.empty() || !options_.password.empty())
    authorization_ = "Basic " + base64(options_.user + ":" + options_.password);
  seen_.resize(targets_.size());
  lastModified_.resize(targets_.size());
}

UriConfigSource::~UriConfigSource() { unwatch(); }

std::string UriConfigSource::describe() const {
  std::string out;
  for (const auto& t : targets_) out += (out.empty() ? "" : " + ") + t.text;
  return out;
}

std::string UriConfigSource::backupPath() const {
  return (fs::path(options_.backupDir) / ("." + options_.agent + ".properties")).string();
}

std::string UriConfigSource::get(const Target& t, const std::string& ifModifiedSince,
                                 std::string& text, std::string& lastModified,
                                 bool* notModified) const {
  if (t.scheme == "file") {
    try {
      text = readConfigText(t.target);
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  const auto endpoints = resolver.resolve(t.host, t.port, ec);
  if (ec) return "cannot resolve " + t.host + ": " + ec.message();

  http::request<http::empty_body> req{http::verb::get, t.target, 11};
  const bool defaultPort = t.port == (t.scheme == "https" ? "443" : "80");
  const bool v6 = t.host.find(':') != std::string::npos;
  req.set(http::field::host,
          (v6 ? "[" + t.host + "]" : t.host) + (defaultPort ? "" : ":" + t.port));
  req.set(http::field::user_agent, "sluice");
  req.set(http::field::accept, "*/*");
  req.set(http::field::connection, "close");
  if (!authorization_.empty()) req.set(http::field::authorization, authorization_);
  if (!ifModifiedSince.empty()) req.set(http::field::if_modified_since, ifModifiedSince);
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);

  if (t.scheme == "http") {
    beast::tcp_stream stream(ioc);
    stream.expires_after(options_.timeout);
    ec = exchange(ioc, stream, req, parser, [&](auto next) {
      stream.async_connect(endpoints,
                           [next](beast::error_code cec, const tcp::endpoint&) { next(cec); });
    });
  } else {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_default_verify_paths(ec);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    stream.set_verify_callback(asio::ssl::host_name_verification(t.host));
    if (!v6) SSL_set_tlsext_host_name(stream.native_handle(), t.host.c_str());
    beast::get_lowest_layer(stream).expires_after(options_.timeout);
    ec = exchange(ioc, stream, req, parser, [&](auto next) {
      beast::get_lowest_layer(stream).async_connect(
          endpoints, [&stream, next](beast::error_code cec, const tcp::endpoint&) {
            if (cec) return next(cec);
            stream.async_handshake(asio::ssl::stream_base::client, next);
          });
    });
  }
  if (ec) return describeError(ec);
  auto& res = parser.get();
  const int status = res.result_int();
  if (status == 304 && notModified) {
    *notModified = true;
    return {};
  }
  if (status == 401 || status == 403)
    return "HTTP " + std::to_string(status) + " " + std::string(res.reason()) +
           (authorization_.empty() ? " (no --conf-user/--conf-password given)"
                                   : " (check --conf-user/--conf-password)");
  if (status != 200) return "HTTP " + std::to_string(status) + " " + std::string(res.reason());
  text = std::move(res.body());
  lastModified = std::string(res[http::field::last_modified]);
  // Last-Modified has a resolution of one second: a document changed again within the second it
  // was served would look unmodified to If-Modified-Since for good. Only a Last-Modified
  // comfortably older than the answer (Date) is used for a conditional request.
  const auto lm = httpDate(lastModified);
  const auto date = httpDate(std::string(res[http::field::date]));
  if (!lm || !date || *date - *lm < 2) lastModified.clear();
  return {};
}

std::vector<ConfigDocument> UriConfigSource::fetch() {
  std::vector<ConfigDocument> docs;
  std::vector<std::string> modified(targets_.size());
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    std::string text;
    const std::string error = get(targets_[i], {}, text, modified[i], nullptr);
    if (error.empty()) {
      docs.push_back({targets_[i].text, std::move(text), targets_[i].toml});
      continue;
    }
    const std::string what =
        "cannot fetch the configuration from " + targets_[i].text + ": " + error;
    bool running = false;
    {
      std::lock_guard lock(mutex_);
      running = acceptedOnce_;
    }
    // A reload keeps the running configuration, which is what the backup holds anyway.
    if (running) throw ConfigParseError(what);
    if (options_.backupDir.empty())
      throw ConfigParseError(what +
                             " (-b/--backup-directory keeps a copy of the last good "
                             "configuration for when the server is unreachable)");
    const std::string backup = backupPath();
    std::error_code fec;
    if (!fs::exists(backup, fec))
      throw ConfigParseError(what + "; no backup copy at " + backup + " yet");
    // As Flume: the backup stands for every URI.
    log_->warn("{}; using the backup copy {} of the last configuration that was accepted", what,
               backup);
    std::lock_guard lock(mutex_);
    pendingFromServer_ = false;
    return {{backup, readConfigText(backup), false}};
  }
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < docs.size(); ++i) {
    seen_[i] = docs[i].text;
    lastModified_[i] = modified[i];
  }
  pending_ = docs;
  pendingFromServer_ = true;
  return docs;
}

void UriConfigSource::accepted() {
  std::vector<ConfigDocument> docs;
  {
    std::lock_guard lock(mutex_);
    acceptedOnce_ = true;
    if (!pendingFromServer_ || options_.backupDir.empty()) return;
    docs = pending_;
  }
  std::string text;
  for (const auto& d : docs) {
    if (d.toml) {
      log_->warn(
          "-b/--backup-directory: {} is TOML; only Flume .properties configurations are "
          "kept as a backup copy",
          d.name);
      return;
    }
    text += "# from " + d.name + "\n" + d.text;
    if (!text.empty() && text.back() != '\n') text += '\n';
  }
  std::error_code ec;
  fs::create_directories(options_.backupDir, ec);
  const std::string path = backupPath();
  // Written aside, synced and renamed over (files::writeFileAtomically): a crash never leaves
  // half a backup.
  std::string error;
  if (plugins::files::writeFileAtomically(path, text, &error) != 0)
    log_->warn("-b/--backup-directory: {}", error);
}

void UriConfigSource::watch(std::function<void()> onChange) {
  onChange_ = std::move(onChange);
  stopping_ = false;
  thread_ = std::thread([this] { poll(); });
}

void UriConfigSource::unwatch() {
  {
    std::lock_guard lock(stopMutex_);
    stopping_ = true;
  }
  stopCv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

// The poll thread: every interval, each URI; a changed content (or a 200 after a 304-capable
// server said it changed) calls onChange. A server that cannot be reached is logged and the
// running configuration stays.
void UriConfigSource::poll() {
  std::unique_lock stopLock(stopMutex_);
  while (!stopCv_.wait_for(stopLock, options_.pollInterval, [this] { return stopping_; })) {
    stopLock.unlock();
    bool changed = false;
    for (std::size_t i = 0; i < targets_.size(); ++i) {
      std::string since, text, modified;
      {
        std::lock_guard lock(mutex_);
        since = lastModified_[i];
      }
      bool notModified = false;
      const std::string error = get(targets_[i], since, text, modified, &notModified);
      if (!error.empty()) {
        log_->warn("cannot fetch the configuration from {}: {}; the running configuration stays",
                   targets_[i].text, error);
        continue;
      }
      if (notModified) continue;
      std::lock_guard lock(mutex_);
      lastModified_[i] = modified;
      if (text != seen_[i]) {
        seen_[i] = std::move(text);
        changed = true;
      }
    }
    if (changed) onChange_();
    stopLock.lock();
  }
}

}  // namespace sluice::core::cli
