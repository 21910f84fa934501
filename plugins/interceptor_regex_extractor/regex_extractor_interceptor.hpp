#pragma once
// Flume's RegexExtractorInterceptor: searches the event body (UTF-8 text) for a Java regular
// expression and, on a match, puts group i+1 into the header named by serializer i. Serializers
// are Flume's pass-through (the text as is) and millis (a date parsed with a Joda pattern, as
// milliseconds since the epoch).

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "java_regex.hpp"
#include "joda_time.hpp"
#include "per_event_interceptor.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/interceptor.hpp"
#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::regexextractor {

inline constexpr const char* kPassThroughSerializer =
    "org.apache.flume.interceptor.RegexExtractorInterceptorPassThroughSerializer";
inline constexpr const char* kMillisSerializer =
    "org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer";

// The keys this interceptor accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& regexExtractorSchema();

// One serializer: the header it fills and, for the millis serializer, the date pattern.
struct Serializer {
  std::string id;      // its name in the config (s1)
  std::string header;  // serializers.<id>.name
  std::optional<JodaPattern> millis;
};

// intercept() may run on several threads at once: settings are immutable, matching uses
// per-thread scratch, and the only mutable members are atomic counts.
class RegexExtractorInterceptor final
    : public interceptors::PerEventInterceptor<RegexExtractorInterceptor> {
 public:
  // logger: the builder's (the host's) logger, which outlives the interceptor.
  RegexExtractorInterceptor(std::shared_ptr<const javaregex::Regex> regex,
                            std::vector<Serializer> serializers, sdk::Logger* logger)
      : regex_(std::move(regex)), serializers_(std::move(serializers)), logger_(logger) {}

  // Bodies whose match failed with a PCRE2 error (match limit...); they get no headers.
  uint64_t matchErrors() const noexcept { return matchErrors_.load(std::memory_order_relaxed); }
  // Groups the millis serializer could not parse as a date; their header is not set.
  uint64_t parseErrors() const noexcept { return parseErrors_.load(std::memory_order_relaxed); }

 private:
  friend PerEventInterceptor;
  void apply(sdk::Event& event);

  const std::shared_ptr<const javaregex::Regex> regex_;
  const std::vector<Serializer> serializers_;
  sdk::Logger* const logger_;
  std::atomic<uint64_t> matchErrors_{0};
  std::atomic<uint64_t> parseErrors_{0};
};

class RegexExtractorInterceptorBuilder final : public sdk::InterceptorBuilder {
 public:
  // Compiles the regex and every date pattern here, so mistakes are configuration errors naming
  // the key (serializers.s2.pattern...).
  void configure(const sdk::Context& context) override;
  std::unique_ptr<sdk::Interceptor> build() override;

 private:
  std::shared_ptr<const javaregex::Regex> regex_;
  std::vector<Serializer> serializers_;
};

// Names in natural order: digit runs compare as numbers, so s2 < s10.
bool naturalLess(const std::string& a, const std::string& b);

}  // namespace sluice::plugins::regexextractor
