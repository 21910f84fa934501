#pragma once
// Flume's RegexFilteringInterceptor: keeps (or, with excludeEvents, drops) the events whose body,
// read as UTF-8 text, contains a match of a Java regular expression.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "java_regex.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/interceptor.hpp"
#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::regexfilter {

// The keys this interceptor accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& regexFilterSchema();

// intercept() may run on several threads at once: the regex is immutable and shared, matching
// uses per-thread scratch, and the only mutable member is an atomic error count.
class RegexFilteringInterceptor final : public sdk::Interceptor {
 public:
  // logger: the builder's (the host's) logger, which outlives the interceptor.
  RegexFilteringInterceptor(std::shared_ptr<const javaregex::Regex> regex, bool excludeEvents,
                            sdk::Logger* logger)
      : regex_(std::move(regex)), excludeEvents_(excludeEvents), logger_(logger) {}

  bool intercept(sdk::Event& event) override { return keep(event); }
  // Compacts in place: kept events move forward, the batch never grows or reallocates.
  void intercept(sdk::EventBatch& events) override;

  // Bodies whose match failed with a PCRE2 error (match limit...), counted as not matching.
  uint64_t matchErrors() const noexcept { return errors_.load(std::memory_order_relaxed); }

 private:
  bool keep(const sdk::Event& event) noexcept;

  const std::shared_ptr<const javaregex::Regex> regex_;
  const bool excludeEvents_;
  sdk::Logger* const logger_;
  std::atomic<uint64_t> errors_{0};
};

class RegexFilteringInterceptorBuilder final : public sdk::InterceptorBuilder {
 public:
  // Compiles the regex here, so a bad pattern is a configuration error naming `regex`.
  void configure(const sdk::Context& context) override;
  std::unique_ptr<sdk::Interceptor> build() override;

 private:
  std::shared_ptr<const javaregex::Regex> regex_;
  bool excludeEvents_ = false;
};

}  // namespace sluice::plugins::regexfilter
