#include "core/log/logging.hpp"
#include "plugins/common/text_util.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace sluice::core {
namespace {

spdlog::level::level_enum toSpd(sdk::LogLevel l) {
  return static_cast<spdlog::level::level_enum>(static_cast<int>(l));
}

class SpdLogger final : public sdk::Logger {
 public:
  explicit SpdLogger(std::shared_ptr<spdlog::logger> l) : logger_(std::move(l)) {}
  bool shouldLog(sdk::LogLevel level) const noexcept override {
    return logger_->should_log(toSpd(level));
  }
  void log(sdk::LogLevel level, std::string_view message) noexcept override {
    try {
      logger_->log(toSpd(level), message);
    } catch (...) {
    }
  }

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

// Copies WARN and above into the ring. Its level is warn, so spdlog skips it for lower levels
// after one level comparison; the ring has its own lock (no second one here).
class RingSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit RingSink(LogRing& ring) : ring_(ring) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        msg.time.time_since_epoch())
                        .count();
    const auto level = spdlog::level::to_string_view(msg.level);
    ring_.push(ms, std::string_view(level.data(), level.size()),
               std::string_view(msg.logger_name.data(), msg.logger_name.size()),
               std::string_view(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}

 private:
  LogRing& ring_;
};

// The one sink every logger of the hub writes to: masks configured secret values and URL
// passwords out of the message, then hands it to the real sinks (stderr, the ring). A message
// with nothing to mask is passed on as it is, after a few substring searches; logging is not on
// the data path, and plugins log per batch or rarer, never per event.
class MaskingSink final : public spdlog::sinks::sink {
 public:
  MaskingSink(std::shared_ptr<const SecretRegistry> secrets, std::vector<spdlog::sink_ptr> targets)
      : secrets_(std::move(secrets)), targets_(std::move(targets)) {}

  void log(const spdlog::details::log_msg& msg) override {
    bool any = false;
    for (const auto& t : targets_) any = any || t->should_log(msg.level);
    if (!any) return;
    std::string masked;
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (secrets_->maskInto(payload, masked)) {
      spdlog::details::log_msg copy(msg);
      copy.payload = spdlog::string_view_t(masked.data(), masked.size());
      forward(copy);
    } else {
      forward(msg);
    }
  }
  void flush() override {
    for (const auto& t : targets_) t->flush();
  }
  void set_pattern(const std::string& pattern) override {
    for (const auto& t : targets_) t->set_pattern(pattern);
  }
  void set_formatter(std::unique_ptr<spdlog::formatter> f) override {
    for (const auto& t : targets_) t->set_formatter(f->clone());
  }

 private:
  void forward(const spdlog::details::log_msg& msg) {
    for (const auto& t : targets_)
      if (t->should_log(msg.level)) t->log(msg);
  }
  // Shared, like the sinks: a logger that outlives the hub still logs safely.
  std::shared_ptr<const SecretRegistry> secrets_;
  std::vector<spdlog::sink_ptr> targets_;
};

}  // namespace

struct LogHub::Impl {
  std::shared_ptr<SecretRegistry> secrets = std::make_shared<SecretRegistry>();
  std::vector<spdlog::sink_ptr> sinks;  // stderr and/or the log file
  // A log file is flushed after every line, as log4j's immediateFlush: a line is in the file
  // when the event it reports happened (stderr has no buffer to flush).
  spdlog::level::level_enum flushOn = spdlog::level::warn;
  LogRing ring;
  spdlog::sink_ptr ringSink;
  spdlog::sink_ptr masking;  // in front of sink and ringSink
  std::mutex mutex;
  std::vector<std::weak_ptr<spdlog::logger>> loggers;  // to apply level changes
};

LogHub::LogHub(sdk::LogLevel level, const LogOutputs& outputs)
    : impl_(std::make_unique<Impl>()), level_(level) {
  if (outputs.console) {
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    console->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
    impl_->sinks.push_back(std::move(console));
  }
  if (!outputs.file.empty()) {
    // Opened for appending (also after a rotation), so logrotate's copytruncate works too.
    spdlog::sink_ptr file;
    try {
      if (outputs.maxFileBytes == 0)
        file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(outputs.file);
      else
        file = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
            outputs.file, static_cast<std::size_t>(outputs.maxFileBytes), outputs.maxFiles);
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot open the log file " + outputs.file + ": " + e.what());
    }
    file->set_pattern("%Y-%m-%d %H:%M:%S.%e %-5l [%n] %v");
    impl_->sinks.push_back(std::move(file));
    impl_->flushOn = spdlog::level::trace;
  }
  impl_->ringSink = std::make_shared<RingSink>(impl_->ring);
  impl_->ringSink->set_level(spdlog::level::warn);
  std::vector<spdlog::sink_ptr> targets = impl_->sinks;
  targets.push_back(impl_->ringSink);
  impl_->masking = std::make_shared<MaskingSink>(impl_->secrets, std::move(targets));
}

LogHub::~LogHub() { flush(); }

std::shared_ptr<spdlog::logger> LogHub::core(const std::string& name) {
  auto l = std::make_shared<spdlog::logger>(name, impl_->masking);
  l->set_level(toSpd(level_));
  l->flush_on(impl_->flushOn);
  std::lock_guard lock(impl_->mutex);
  impl_->loggers.erase(std::remove_if(impl_->loggers.begin(), impl_->loggers.end(),
                                      [](const auto& w) { return w.expired(); }),
                       impl_->loggers.end());
  impl_->loggers.push_back(l);
  return l;
}

std::unique_ptr<sdk::Logger> LogHub::make(const std::string& name) {
  return std::make_unique<SpdLogger>(core(name));
}

void LogHub::setLevel(sdk::LogLevel level) {
  level_ = level;
  std::lock_guard lock(impl_->mutex);
  for (auto& w : impl_->loggers)
    if (auto l = w.lock()) l->set_level(toSpd(level));
}

const LogRing& LogHub::recent() const { return impl_->ring; }

SecretRegistry& LogHub::secrets() { return *impl_->secrets; }
const SecretRegistry& LogHub::secrets() const { return *impl_->secrets; }

void LogHub::flush() {
  if (!impl_) return;
  for (const auto& sink : impl_->sinks) sink->flush();
}

sdk::LogLevel LogHub::parseLevel(const std::string& text) {
  const std::string t = plugins::text::lower(text);
  if (t == "trace" || t == "all") return sdk::LogLevel::trace;
  if (t == "debug") return sdk::LogLevel::debug;
  if (t == "info") return sdk::LogLevel::info;
  if (t == "warn" || t == "warning") return sdk::LogLevel::warn;
  if (t == "error") return sdk::LogLevel::error;
  if (t == "critical" || t == "fatal") return sdk::LogLevel::critical;
  if (t == "off") return sdk::LogLevel::off;
  throw std::invalid_argument("unknown log level '" + text +
                              "' (expected trace, debug, info, warn, error, critical or off)");
}

}  // namespace sluice::core
