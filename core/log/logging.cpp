#include "core/log/logging.hpp"

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <vector>

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

}  // namespace

struct LogHub::Impl {
  spdlog::sink_ptr sink;
  std::mutex mutex;
  std::vector<std::weak_ptr<spdlog::logger>> loggers;  // to apply level changes
};

LogHub::LogHub(sdk::LogLevel level) : impl_(std::make_unique<Impl>()), level_(level) {
  impl_->sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  impl_->sink->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
}

LogHub::~LogHub() { flush(); }

std::shared_ptr<spdlog::logger> LogHub::core(const std::string& name) {
  auto l = std::make_shared<spdlog::logger>(name, impl_->sink);
  l->set_level(toSpd(level_));
  l->flush_on(spdlog::level::warn);
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

void LogHub::flush() {
  if (impl_ && impl_->sink) impl_->sink->flush();
}

sdk::LogLevel LogHub::parseLevel(const std::string& text) {
  std::string t;
  for (char c : text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
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
