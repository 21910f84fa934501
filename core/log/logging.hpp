#pragma once
// The host side of sdk::Logger: one spdlog sink set per process, one named logger per plugin
// object (<kind>:<type>:<instance>, as STYLE.md asks), never registered in spdlog's global
// registry so that reloads can make loggers with the same names again.

#include <memory>
#include <string>

#include <spdlog/fwd.h>

#include "core/log/log_outputs.hpp"
#include "core/log/log_ring.hpp"
#include "core/log/secrets.hpp"
#include "sluice/sdk/logger.hpp"

namespace sluice::core {

class LogHub {
 public:
  // Logs go to stderr and/or a rotating file (LogOutputs), one line each: time, level,
  // [logger] message. Records at WARN and above are also kept in a bounded ring (recent()).
  // Every message is masked first (secrets()). Throws std::runtime_error naming the file when
  // the log file cannot be opened.
  explicit LogHub(sdk::LogLevel level = sdk::LogLevel::info, const LogOutputs& outputs = {});
  ~LogHub();
  LogHub(const LogHub&) = delete;
  LogHub& operator=(const LogHub&) = delete;

  std::unique_ptr<sdk::Logger> make(const std::string& name);
  // The runtime's own logger ("agent", "loader"...).
  std::shared_ptr<spdlog::logger> core(const std::string& name);
  void setLevel(sdk::LogLevel level);
  sdk::LogLevel level() const { return level_; }
  void flush();
  // The last WARN-and-above records of every logger made here (read by monitoring).
  const LogRing& recent() const;
  // The secret values masked out of every message. The CLI adds the configuration's secrets
  // before anything is configured, and again on each reload; text printed outside the loggers
  // (diagnostics on stderr) goes through secrets().mask() too.
  SecretRegistry& secrets();
  const SecretRegistry& secrets() const;

  // "info", "INFO", "warn", "WARNING"... (Flume/log4j spellings accepted). Throws
  // std::invalid_argument naming the accepted values.
  static sdk::LogLevel parseLevel(const std::string& text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  sdk::LogLevel level_;
};

}  // namespace sluice::core
