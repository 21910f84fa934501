#pragma once
// The HTTP/1.1 client of sluice (the http sink) on the network layer's TcpClient and Beast:
// POSTs one body per request over a kept-alive connection, reads the answer with Beast's
// response_parser and reports its status. Threads: as TcpClient, driven by its caller (a sink's
// runner thread), one call at a time. Beast stays out of this header.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/stats.hpp"
#include "net/tls.hpp"
#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::plugins::http {

// An http:// or https:// URL, as the sink's endpoint.
struct Url {
  bool https = false;
  std::string host;          // without brackets for IPv6
  int port = 0;              // 80 or 443 unless given
  std::string target;        // "/path?query" ("/" when the URL has no path)
  std::string authority;     // the Host header: host, with ":port" when it is not the default
  bool hasUserInfo = false;  // "user:password@" was given (and is not sent)
};

// Parses text into *out; false with *error saying what is wrong ("expected http:// or
// https://", "bad port").
bool parseUrl(std::string_view text, Url* out, std::string* error);

struct ClientOptions {
  std::string contentType = "text/plain";
  std::string accept = "text/plain";
  std::string userAgent = "sluice";
  std::chrono::milliseconds connectTimeout{5000};
  std::chrono::milliseconds requestTimeout{5000};  // sending a request and reading its answer
  std::shared_ptr<const net::TlsContext> tls;      // for https://
};

struct ClientResponse {
  int status = 0;
  std::string reason;
  std::string bodyHead;   // the first 4 KiB of the answer's body (for log lines)
  bool keepAlive = true;  // the connection was kept for the next request
};

class Client {
 public:
  Client(Url url, ClientOptions options, sdk::Logger& log = sdk::NullLogger::instance());
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // POSTs `body` and reads the answer into *out. Fails (nothing known about the delivery) on a
  // refused or timed-out connection, a failed send, a request timeout, a malformed answer. A
  // kept-alive connection that turns out to have been closed by the server before it answered
  // is replaced once by a new one, as Java's HttpURLConnection does.
  sdk::Result post(std::string_view body, ClientResponse* out) noexcept;

  void close() noexcept;
  const Url& url() const noexcept;
  // The TcpClient's counters (ConnectAttempts, Connects, ConnectFailures, Closed, ...).
  net::Stats& stats() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::plugins::http
