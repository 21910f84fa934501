#pragma once
// Flume's StaticInterceptor: puts one fixed header (key = value) into every event. For several
// headers, chain several static interceptors.

#include <memory>
#include <string>

#include "per_event_interceptor.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/interceptor.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::staticheader {

// The keys this interceptor accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& staticSchema();

// Immutable after construction, so intercept() may run on several threads at once.
class StaticInterceptor final : public interceptors::PerEventInterceptor<StaticInterceptor> {
 public:
  StaticInterceptor(std::string key, std::string value, bool preserveExisting)
      : key_(std::move(key)), value_(std::move(value)), preserveExisting_(preserveExisting) {}

 private:
  friend PerEventInterceptor;
  void apply(sdk::Event& event) const {
    if (preserveExisting_ && event.headers.contains(key_)) return;
    event.headers.set(key_, value_);
  }

  const std::string key_;
  const std::string value_;
  const bool preserveExisting_;
};

class StaticInterceptorBuilder final : public sdk::InterceptorBuilder {
 public:
  void configure(const sdk::Context& context) override;
  std::unique_ptr<sdk::Interceptor> build() override;

 private:
  // Set by configure(); the defaults live in staticSchema() only.
  std::string key_;
  std::string value_;
  bool preserveExisting_ = false;
};

}  // namespace sluice::plugins::staticheader
