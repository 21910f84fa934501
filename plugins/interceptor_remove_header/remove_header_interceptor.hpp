#pragma once
// Flume's RemoveHeaderInterceptor: removes headers by exact name (withName), by a list of names
// (fromList, split by the fromListSeparator regex) and by a regex over whole names (matching).

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "java_regex.hpp"
#include "per_event_interceptor.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/interceptor.hpp"
#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::removeheader {

// The keys this interceptor accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& removeHeaderSchema();

struct RemoveHeaderSettings {
  std::optional<std::string> withName;
  std::vector<std::string> fromList;                 // sorted, unique, no empty names
  std::shared_ptr<const javaregex::Regex> matching;  // whole-name match, or null
};

// intercept() may run on several threads at once: settings are immutable, regex matching uses
// per-thread scratch, and the only mutable member is an atomic error count.
class RemoveHeaderInterceptor final
    : public interceptors::PerEventInterceptor<RemoveHeaderInterceptor> {
 public:
  // logger: the builder's (the host's) logger, which outlives the interceptor.
  RemoveHeaderInterceptor(RemoveHeaderSettings settings, sdk::Logger* logger)
      : s_(std::move(settings)), logger_(logger) {}

  // Header names whose `matching` test failed with a PCRE2 error; such headers are kept.
  uint64_t matchErrors() const noexcept { return errors_.load(std::memory_order_relaxed); }

 private:
  friend PerEventInterceptor;
  void apply(sdk::Event& event);
  bool listed(std::string_view name) const noexcept;

  const RemoveHeaderSettings s_;
  sdk::Logger* const logger_;
  std::atomic<uint64_t> errors_{0};
};

class RemoveHeaderInterceptorBuilder final : public sdk::InterceptorBuilder {
 public:
  // Compiles both regexes and splits fromList here, so a bad pattern is a configuration error
  // naming its key.
  void configure(const sdk::Context& context) override;
  std::unique_ptr<sdk::Interceptor> build() override;

 private:
  RemoveHeaderSettings settings_;
};

}  // namespace sluice::plugins::removeheader
