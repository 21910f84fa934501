#pragma once
// Flume's SearchAndReplaceInterceptor: replaces every match of a Java regular expression in the
// event body (read as UTF-8 text) with a replacement string that may refer to groups ($1, ${name}),
// as Java's Matcher.replaceAll() does.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "java_regex.hpp"
#include "per_event_interceptor.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/interceptor.hpp"
#include "sluice/sdk/logger.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::searchreplace {

// The keys this interceptor accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& searchReplaceSchema();

// One piece of a parsed replacement: literal text, or a group's text (group >= 0).
struct ReplacementPiece {
  std::string literal;
  int group = -1;
};

// Parses a replacement as Java's Matcher.appendReplacement() reads it: "\x" is a literal x,
// "$n" group n (further digits are taken while the number stays a group of `regex`), "${name}"
// a named group; anything else is literal. Returns false with *error set to Java's message
// ("No group 3", "Illegal group reference"...) for what Java would throw at match time.
bool parseReplacement(std::string_view replacement, const javaregex::Regex& regex,
                      std::vector<ReplacementPiece>* out, std::string* error);

// intercept() may run on several threads at once: settings are immutable, matching and the new
// body are built in per-thread scratch, and the only mutable member is an atomic error count.
class SearchAndReplaceInterceptor final
    : public interceptors::PerEventInterceptor<SearchAndReplaceInterceptor> {
 public:
  // logger: the builder's (the host's) logger, which outlives the interceptor.
  SearchAndReplaceInterceptor(std::shared_ptr<const javaregex::Regex> regex,
                              std::vector<ReplacementPiece> replacement, sdk::Logger* logger)
      : regex_(std::move(regex)), replacement_(std::move(replacement)), logger_(logger) {}

  // Bodies left unchanged because matching failed with a PCRE2 error (match limit...).
  uint64_t matchErrors() const noexcept { return errors_.load(std::memory_order_relaxed); }

 private:
  friend PerEventInterceptor;
  void apply(sdk::Event& event);

  const std::shared_ptr<const javaregex::Regex> regex_;
  const std::vector<ReplacementPiece> replacement_;
  sdk::Logger* const logger_;
  std::atomic<uint64_t> errors_{0};
};

class SearchAndReplaceInterceptorBuilder final : public sdk::InterceptorBuilder {
 public:
  // Compiles searchPattern and parses replaceString here, so mistakes in either are
  // configuration errors naming the key.
  void configure(const sdk::Context& context) override;
  std::unique_ptr<sdk::Interceptor> build() override;

 private:
  std::shared_ptr<const javaregex::Regex> regex_;
  std::vector<ReplacementPiece> replacement_;
};

}  // namespace sluice::plugins::searchreplace
