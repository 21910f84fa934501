#pragma once
// -u/--conf-uri: the configuration fetched over http:// or https:// (or read from file://), as
// Flume 1.10+'s UriConfigurationProvider does: several URIs merge in order; a path ending in
// .toml is TOML, anything else Flume .properties; Basic authorization from --conf-user and
// --conf-password; https verifies the server's certificate and name against the system's trust
// store (OpenSSL's default paths, so SSL_CERT_FILE/SSL_CERT_DIR apply). Changes are seen by a
// poll every -i seconds (Flume's default 300) that sends If-Modified-Since when the server gave
// Last-Modified and compares the content otherwise.
//
// -b/--backup-directory: every config the agent accepted from the server is kept in
// DIR/.<agent>.properties (Flume's name); when a URI cannot be fetched at start, that copy is
// used instead of all URIs, with a warning. The password is never logged or stored.
//
// Beast directly, not plugins/common/http's Client: that client only POSTs and keeps the first
// 4 KiB of an answer's body, and core/cli is built before plugins/ defines it.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>

#include "core/config/config_source.hpp"

namespace sluice::core::cli {

struct UriSourceOptions {
  std::string user;
  std::string password;
  std::chrono::seconds pollInterval{300};
  std::string backupDir;                     // empty: no backup copy
  std::string agent;                         // names the backup file
  std::chrono::milliseconds timeout{10000};  // connect, TLS handshake, request and answer
};

class UriConfigSource : public ConfigSource {
 public:
  // Throws ConfigParseError when a URI is malformed or of a scheme sluice cannot read.
  UriConfigSource(const std::vector<std::string>& uris, UriSourceOptions options,
                  std::shared_ptr<spdlog::logger> log);
  ~UriConfigSource() override;

  std::vector<ConfigDocument> fetch() override;
  std::string describe() const override;
  void watch(std::function<void()> onChange) override;
  void unwatch() override;
  void accepted() override;

  // DIR/.<agent>.properties
  std::string backupPath() const;

  struct Target;  // a parsed URI

 private:
  // Fetches one URI; on success fills text (and Last-Modified) and returns "". With
  // ifModifiedSince, a 304 answer sets *notModified. Otherwise returns why it failed.
  std::string get(const Target& t, const std::string& ifModifiedSince, std::string& text,
                  std::string& lastModified, bool* notModified) const;
  void poll();

  std::vector<Target> targets_;
  UriSourceOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::string authorization_;  // "Basic ..." or empty

  std::mutex mutex_;                       // guards what fetch() and the poll thread share, below
  std::vector<std::string> seen_;          // per URI: the last content fetched
  std::vector<std::string> lastModified_;  // per URI: the server's Last-Modified
  std::vector<ConfigDocument> pending_;    // the last fetch() from the server
  bool pendingFromServer_ = false;
  bool acceptedOnce_ = false;  // the agent runs: the backup copy is only for the start

  std::function<void()> onChange_;
  std::mutex stopMutex_;
  std::condition_variable stopCv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice::core::cli
